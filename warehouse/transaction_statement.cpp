// find_transaction_statement() (declared in packs.h): a migration that ends or
// starts the transaction it runs in is refused before anything is applied.
#include "warehouse/packs.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::warehouse {

namespace {

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }

// Where the quoted text (a string '...' or an identifier "...") that opens at
// `at` closes: the index of its closing quote (a doubled quote is one
// character of it; with `escapes`, E'...', a backslash escapes the next), or
// the end of `sql` when it never closes.
std::size_t quoted_end(std::string_view sql, std::size_t at, char quote, bool escapes) {
  std::size_t i = at + 1;
  while (i < sql.size()) {
    if (escapes && sql[i] == '\\') {
      i += 2;
    } else if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) i += 2;
      else break;
    } else {
      ++i;
    }
  }
  return std::min(i, sql.size());
}

std::string lower(std::string_view word) {
  std::string out(word);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Whether a statement whose first words are `words` ends or starts the
// transaction.
bool controls_transaction(const std::vector<std::string>& words) {
  if (words.empty()) return false;
  const auto& first = words[0];
  std::string second = words.size() > 1 ? words[1] : "";
  if (first == "begin" || first == "commit" || first == "end" || first == "abort") return true;
  if (first == "rollback") {  // ROLLBACK [WORK | TRANSACTION] TO a savepoint stays inside
    std::size_t next = second == "work" || second == "transaction" ? 2 : 1;
    return next >= words.size() || words[next] != "to";
  }
  if (first == "start" || first == "prepare") return second == "transaction";
  return false;
}

}  // namespace

// Whole on purpose (issue 14): one scanner over SQL's lexical grammar; its state is shared by every token.
std::optional<transaction_statement> find_transaction_statement(std::string_view sql) {
  std::size_t at = 0;
  int line = 1;
  // The statement being read.
  std::vector<std::string> words;  // its first few identifiers, lower-cased
  std::size_t start = std::string_view::npos;
  int start_line = 0;
  int paren_depth = 0;
  int begin_depth = 0;  // inside BEGIN ATOMIC ... END of CREATE FUNCTION/PROCEDURE
  auto is_routine = [&] {
    auto w = [&](std::size_t i) { return i < words.size() ? words[i] : std::string(); };
    return w(0) == "create" && (w(1) == "function" || w(1) == "procedure" ||
                                (w(1) == "or" && w(2) == "replace" && (w(3) == "function" || w(3) == "procedure")));
  };
  auto finish = [&]() -> std::optional<transaction_statement> {
    std::optional<transaction_statement> out;
    if (start != std::string_view::npos && controls_transaction(words)) {
      auto text = sql.substr(start, std::min<std::size_t>(at - start, 80));
      out = transaction_statement{std::string(text), start_line};
    }
    words.clear();
    start = std::string_view::npos;
    paren_depth = 0;
    begin_depth = 0;
    return out;
  };
  auto count_lines = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to && i < sql.size(); ++i) line += sql[i] == '\n' ? 1 : 0;
  };
  while (at < sql.size()) {
    char c = sql[at];
    if (c == '\n') {
      ++line;
      ++at;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++at;
      continue;
    }
    if (c == '-' && at + 1 < sql.size() && sql[at + 1] == '-') {
      auto end = sql.find('\n', at);
      at = end == std::string_view::npos ? sql.size() : end;
      continue;
    }
    if (c == '/' && at + 1 < sql.size() && sql[at + 1] == '*') {
      int depth = 0;
      std::size_t i = at;
      while (i < sql.size()) {
        if (sql.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (sql.compare(i, 2, "*/") == 0) {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
      count_lines(at, i);
      at = i;
      continue;
    }
    if (c == ';' && paren_depth <= 0 && begin_depth <= 0) {
      if (auto found = finish()) return found;
      ++at;
      continue;
    }
    if (start == std::string_view::npos) {
      start = at;
      start_line = line;
    }
    if (c == '\'') {
      // E'...' reads backslash escapes; the E was the word just before.
      bool escapes = at > 0 && (sql[at - 1] == 'e' || sql[at - 1] == 'E') &&
                     (at < 2 || !ident_char(sql[at - 2]));
      std::size_t i = quoted_end(sql, at, '\'', escapes);
      count_lines(at, i);
      at = std::min(i + 1, sql.size());
      continue;
    }
    if (c == '"') {
      std::size_t i = quoted_end(sql, at, '"', false);
      count_lines(at, i);
      at = std::min(i + 1, sql.size());
      continue;
    }
    if (c == '$') {
      // $tag$ ... $tag$ ($$ included); $1 is a parameter.
      std::size_t i = at + 1;
      if (i < sql.size() && ident_start(sql[i])) {
        while (i < sql.size() && ident_char(sql[i]) && sql[i] != '$') ++i;
      }
      if (i < sql.size() && sql[i] == '$') {
        auto tag = sql.substr(at, i - at + 1);
        auto close = sql.find(tag, i + 1);
        auto end = close == std::string_view::npos ? sql.size() : close + tag.size();
        count_lines(at, end);
        at = end;
        continue;
      }
      ++at;
      continue;
    }
    if (ident_start(c)) {
      std::size_t i = at;
      while (i < sql.size() && ident_char(sql[i])) ++i;
      auto word = lower(sql.substr(at, i - at));
      if (words.size() < 4) words.push_back(word);
      if (paren_depth == 0 && is_routine()) {
        if (word == "begin") ++begin_depth;
        else if (word == "case" && begin_depth >= 1) ++begin_depth;
        else if (word == "end" && begin_depth > 0) --begin_depth;
      }
      at = i;
      continue;
    }
    if (c == '(') ++paren_depth;
    if (c == ')') --paren_depth;
    ++at;
  }
  return finish();
}

}  // namespace sluice::warehouse
