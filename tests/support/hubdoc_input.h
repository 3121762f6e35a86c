// Hubdoc input for the integration tests: the sample month, and one line of
// every kind of bad input the issue lists, with what its reject must say.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

// ../shared/samples/hubdoc/2019-01-sample.log, copied so that the tests need
// nothing outside the repository. Two sign-ups (PLAN_BRONZE, PLAN_GOLD) in 2019,
// one plan change GOLD -> SILVER.
inline constexpr std::string_view hubdoc_sample_month =
    R"({"date": "2019-01-01T00:05:04-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "web login"}
{"date": "2019-01-01T00:06:04-05:00", "log_type": "PAGE_ACCESS", "level": "INFO", "account": 501, "details": "edit_entry_page"}
{"date": "2019-01-01T01:04:51-05:00", "log_type": "SIGN_UP", "level": "INFO", "account": 501, "plan": "PLAN_BRONZE", "firstname": "Ana", "lastname": "Lee", "address": "'12 Elm St., Moncton, NB E1A 1A1'"}
{"date": "2019-01-02T04:48:46-05:00", "log_type": "SIGN_UP", "level": "INFO", "account": 502, "plan": "PLAN_GOLD", "firstname": "Bo", "lastname": "Tremblay", "address": "'7 Rue Laval, Laterri\u00e8re, QC G7N 1J2'"}
{"date": "2019-01-02T05:10:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 502, "details": "web login"}
{"date": "2019-01-02T05:11:00-05:00", "log_type": "PAGE_ACCESS", "level": "INFO", "account": 502, "details": "upload_page"}
{"date": "2019-01-02T05:11:30-05:00", "log_type": "UPLOAD", "level": "INFO", "account": 502, "details": "myfile.pdf"}
{"date": "2019-01-20T09:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "web login"}
{"date": "2019-03-03T10:00:00-05:00", "log_type": "PLAN_CHANGE", "level": "INFO", "account": 502, "details": {"change_date": "2019-03-03T10:00:00-05:00", "from": "PLAN_GOLD", "to": "PLAN_SILVER"}}
{"date": "2019-03-03T10:05:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 502, "details": "web login"}
)";

// A valid LOGIN line (no newline) for account `account`.
inline std::string login_line(int account, std::string_view details = "web login") {
  return R"({"date": "2019-01-05T08:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": )" +
         std::to_string(account) + R"(, "details": ")" + std::string(details) + R"("})";
}

// `count` LOGIN lines (each with its newline) for accounts first, first + 1, ...
inline std::string logins(int first, int count) {
  std::string out;
  for (int account = first; account < first + count; ++account) out += login_line(account) + "\n";
  return out;
}

// One line of input and what the loader must make of it.
struct input_line {
  std::string what;                  // for messages: which kind of input this is
  std::string bytes;                 // the line, without its '\n'
  bool loads = false;                // a staging row (else a reject)
  std::vector<std::string> reason;   // words the reject's reason must contain
  std::string field;                 // the reject's field ("" = NULL)
};

// Every kind of bad record from the issue's "Bad input" list, in the middle of
// good lines. None of them starts with '[' or is a lone '{', so a file that
// begins with one of these lines is still framed as NDJSON.
inline std::vector<input_line> bad_hubdoc_lines() {
  const std::string date = R"("date": "2019-01-05T08:00:00-05:00")";
  return {
      {"truncated JSON inside a string",
       R"({"date": "2019-01-05T08:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "web lo)",
       false, {"truncated"}, ""},
      {"truncated JSON after a value",
       R"({"date": "2019-01-05T08:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501)",
       false, {"JSON"}, ""},
      {"an array instead of an object", R"(["LOGIN", 501])", false, {"object", "array"}, ""},
      {"a string instead of an object", R"("LOGIN")", false, {"object", "string"}, ""},
      {"a number instead of an object", "501", false, {"object"}, ""},
      {"missing account",
       "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "details": "web login"})", false,
       {"missing", "/account"}, "/account"},
      {"missing date", R"({"log_type": "LOGIN", "level": "INFO", "account": 501, "details": "web login"})",
       false, {"missing", "/date"}, "/date"},
      {"missing log_type", "{" + date + R"(, "level": "INFO", "account": 501, "details": "web login"})",
       false, {"missing", "/log_type"}, "/log_type"},
      {"SIGN_UP without plan",
       "{" + date +
           R"(, "log_type": "SIGN_UP", "level": "INFO", "account": 601, "firstname": "Al", "lastname": "Roy", "address": "'1 Main St., Halifax, NS B3H 1A1'"})",
       false, {"missing", "/plan"}, "/plan"},
      {"SIGN_UP without address",
       "{" + date +
           R"(, "log_type": "SIGN_UP", "level": "INFO", "account": 602, "plan": "PLAN_GOLD", "firstname": "Al", "lastname": "Roy"})",
       false, {"missing", "/address"}, "/address"},
      {"account null", "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": null, "details": "x"})",
       false, {"null", "/account"}, "/account"},
      {"account is a string", "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": "abc", "details": "x"})",
       false, {"/account", "abc"}, "/account"},
      {"account is a fraction", "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": 12.5, "details": "x"})",
       false, {"/account"}, "/account"},
      {"account out of range",
       "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": 99999999999, "details": "x"})", false,
       {"/account", "out of range"}, "/account"},
      {"account negative out of range",
       "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": -2147483649, "details": "x"})", false,
       {"/account", "out of range"}, "/account"},
      {"impossible date (30 February)",
       R"({"date": "2019-02-30T10:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "x"})",
       false, {"/date", "2019-02-30"}, "/date"},
      {"impossible date (month 13)",
       R"({"date": "2019-13-01T10:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "x"})",
       false, {"/date", "2019-13-01"}, "/date"},
      {"impossible time (25 h)",
       R"({"date": "2019-01-01T25:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "x"})",
       false, {"/date"}, "/date"},
      {"date is not a date",
       R"({"date": "yesterday", "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "x"})", false,
       {"/date", "yesterday"}, "/date"},
      {"unknown log_type", "{" + date + R"(, "log_type": "LOGOUT", "level": "INFO", "account": 501, "details": "x"})",
       false, {"unknown", "LOGOUT"}, "/log_type"},
      {"PLAN_CHANGE without details.to",
       "{" + date +
           R"(, "log_type": "PLAN_CHANGE", "level": "INFO", "account": 502, "details": {"change_date": "2019-03-03T10:00:00-05:00", "from": "PLAN_GOLD"}})",
       false, {"missing", "/details/to"}, "/details/to"},
      {"invalid UTF-8 (Latin-1 bytes)",
       "{" + date + R"(, "log_type": "LOGIN", "level": "INFO", "account": 501, "details": "caf)" + "\xe9 cr\xe8me" +
           R"("})",
       false, {"UTF-8"}, ""},
      {"plain text", "hello, this line is not JSON", false, {"not JSON"}, ""},
  };
}

// `content` with `extra` lines inserted (cycling through them) after line
// `first` and then after every `every` lines.
inline std::string interleave(std::string_view content, const std::vector<input_line>& extra,
                              std::size_t first, std::size_t every) {
  std::string out;
  out.reserve(content.size() + content.size() / every * 128);
  std::size_t line_idx = 0;
  std::size_t extra_idx = 0;
  while (!content.empty()) {
    auto newline = content.find('\n');
    auto length = newline == std::string_view::npos ? content.size() : newline + 1;
    out += content.substr(0, length);
    content.remove_prefix(length);
    ++line_idx;
    if (line_idx >= first && (line_idx - first) % every == 0) {
      out += extra[extra_idx++ % extra.size()].bytes + "\n";
    }
  }
  return out;
}

}  // namespace sluice::testing
