#include "loader/app/status.h"

#include <simdjson.h>
#include <spdlog/fmt/fmt.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "warehouse/connection.h"
#include "warehouse/status.h"

namespace sluice::app {

namespace {

using simdjson::dom::element;

std::string text(element e) {
  if (e.is_null()) return "-";
  if (e.is_string()) return std::string(std::string_view(e));
  if (e.is_int64()) return std::to_string(int64_t(e));
  if (e.is_double()) return fmt::format("{:.1f}", double(e));
  if (e.is_bool()) return bool(e) ? "yes" : "no";
  return simdjson::minify(e);
}

std::string text(element object, std::string_view key) {
  auto v = object[key];
  return v.error() ? "-" : text(v.value());
}

int64_t number(element object, std::string_view key) {
  auto v = object[key];
  if (v.error() || !v.is_int64()) return 0;
  return int64_t(v.value());
}

// "2026-12-06T21:40:01.123456+00:00" -> "2026-12-06 21:40:01+00:00"
std::string when(element object, std::string_view key) {
  auto t = text(object, key);
  if (t.size() > 19 && t[10] == 'T') {
    t[10] = ' ';
    auto dot = t.find('.', 19);
    if (dot != std::string::npos) {
      auto zone = t.find_first_of("+-", dot);
      t.erase(dot, zone == std::string::npos ? std::string::npos : zone - dot);
    }
  }
  return t;
}

// A message's first line, for a table row (--json has it whole).
std::string first_line(std::string message) {
  auto end = message.find('\n');
  if (end != std::string::npos) message = message.substr(0, end) + " ...";
  return message;
}

std::string bytes(int64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  if (n < (1 << 20)) return fmt::format("{:.1f} kB", double(n) / 1024);
  if (n < (1LL << 30)) return fmt::format("{:.1f} MB", double(n) / (1 << 20));
  return fmt::format("{:.1f} GB", double(n) / (1LL << 30));
}

}  // namespace

int run_status(const std::string& dsn, bool json) {
  warehouse::connection conn(dsn);
  auto document = warehouse::status_json(conn);
  if (json) std::printf("%s\n", document.c_str());

  simdjson::dom::parser parser;
  element status = parser.parse(document);

  std::string out = fmt::format("sluice status of {} at {}\n", conn.target(), when(status, "at"));
  out += fmt::format("\n{:<20} {:>8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>11}  {}\n", "FEED", "loading", "loaded",
                     "incomplete", "duplicate", "refused", "rows (1h)", "rejects (1h)", "oldest loading");
  for (element f : status["feeds"].get_array()) {
    element files = f["files"];
    std::string oldest = "-";
    if (auto o = f["oldest_loading"]; !o.error() && o.is_object()) {
      oldest = text(o.value(), "path") + " since " + when(o.value(), "since");
      if (auto by = f["loading_by"]; !by.error() && by.is_array()) oldest += " (by " + text(by.value()) + ")";
    }
    out += fmt::format("{:<20} {:>8} {:>8} {:>10} {:>9} {:>8} {:>10} {:>11}  {}\n", text(f, "feed"),
                       number(files, "loading"), number(files, "loaded"), number(files, "not_loaded_completely"),
                       number(files, "duplicate"), number(files, "refused"), number(f, "rows_last_hour"),
                       number(f, "rejects_last_hour"), oldest);
  }
  auto sources = status["sources"].get_array();
  if (sources.size() > 0) {
    out += fmt::format("\n{:<20} {:<10} {:>10} {:>8} {:<26} {:<16} {}\n", "SOURCE", "state", "lag", "lag (s)",
                       "last commit", "streamed by", "last error");
    for (element s : sources) {
      auto lag = s["lag_bytes"];
      out += fmt::format("{:<20} {:<10} {:>10} {:>8} {:<26} {:<16} {}\n", text(s, "source"), text(s, "state"),
                         lag.error() || lag.is_null() ? "-" : bytes(int64_t(lag.value())), text(s, "lag_seconds"),
                         when(s, "last_commit_at"), text(s, "held_by"), first_line(text(s, "last_error")));
    }
  }
  auto jobs = status["jobs"].get_array();
  if (jobs.size() > 0) {
    out += fmt::format("\n{:<20} {:<26} {:>9} {:<12} {}\n", "JOB", "last run", "took (s)", "every", "last error");
    for (element j : jobs) {
      auto took = j["last_seconds"];
      out += fmt::format("{:<20} {:<26} {:>9} {:<12} {}\n", text(j, "job"), when(j, "last_run_at"),
                         took.error() || took.is_null() ? "-" : fmt::format("{:.3f}", double(took.value())),
                         text(j, "every"), first_line(text(j, "last_error")));
    }
  }
  auto daemons = status["daemons"].get_array();
  out += fmt::format("\n{:<28} {:<6} {:>7} {:<26} {}\n", "DAEMON", "alive", "queued", "last seen", "connections");
  for (element d : daemons) {
    out += fmt::format("{:<28} {:<6} {:>7} {:<26} {}\n", text(d, "daemon"), text(d, "alive"), number(d, "queued"),
                       when(d, "seen_at"), number(d, "connections"));
    for (element f : d["loading"].get_array()) {
      std::string line = "  loading " + text(f, "feed") + " " + text(f, "path") + ": ";
      if (text(f, "percent") != "-") line += text(f, "percent") + "%, ";
      line += bytes(number(f, "bytes_done")) + " read, " + text(f, "rows_per_second") + " rows/s";
      if (text(f, "eta_seconds") != "-") line += ", about " + text(f, "eta_seconds") + " s left";
      out += line + "\n";
    }
  }
  if (daemons.size() == 0) out += "(none running)\n";
  if (!json) std::printf("%s", out.c_str());
  auto problems = problems_in(status);
  for (const auto& p : problems) std::fprintf(stderr, "needs a person: %s\n", p.what.c_str());
  return problems.empty() ? 0 : 1;
}

std::vector<problem> problems_in(element status) {
  std::vector<problem> out;
  for (element f : status["feeds"].get_array()) {
    if (auto skipped = f["skipped"]; !skipped.error() && skipped.is_array()) {
      for (element why : skipped.get_array()) out.push_back({"feed " + text(f, "feed") + " is skipped: " + text(why), true});
    }
  }
  for (element s : status["sources"].get_array()) {
    if (text(s, "state") == "stopped") {
      out.push_back({"source " + text(s, "source") + " is stopped: " + first_line(text(s, "last_error")), true});
    }
  }
  for (element j : status["jobs"].get_array()) {
    if (text(j, "last_error") != "-") out.push_back({"job " + text(j, "job") + " failed: " + first_line(text(j, "last_error"))});
  }
  for (element d : status["daemons"].get_array()) {
    if (text(d, "alive") == "no") {
      out.push_back({"daemon " + text(d, "daemon") + " was last seen " + when(d, "seen_at") +
                     " and did not say it stopped (killed?)"});
    }
  }
  return out;
}

}  // namespace sluice::app
