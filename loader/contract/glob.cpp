#include "loader/contract/glob.h"

#include <fnmatch.h>

#include <array>
#include <bitset>
#include <deque>
#include <vector>

namespace sluice::loader {

namespace {

using byte_set = std::bitset<256>;

// One step of a glob: `*` (any bytes, none included), or one byte of `bytes`.
struct glob_step {
  bool star = false;
  byte_set bytes;
};

// Where the bracket expression opening at text[open] ends (one past its `]`),
// as glibc's fnmatch reads it: `!` or `^` negates, a `]` first is a member,
// `\` quotes, `[:class:]`, `[=c=]` and `[.c.]` are members. text.size() when a
// `\` ends the pattern inside it (fnmatch then matches nothing); npos when it
// is not closed (fnmatch then takes the `[` literally).
std::size_t bracket_end(std::string_view text, std::size_t open) {
  std::size_t at = open + 1;
  if (at < text.size() && (text[at] == '!' || text[at] == '^')) ++at;
  if (at < text.size() && text[at] == ']') ++at;
  while (at < text.size()) {
    char c = text[at];
    if (c == '\\') {
      if (at + 1 >= text.size()) return text.size();
      at += 2;
    } else if (c == '[' && at + 1 < text.size() && (text[at + 1] == ':' || text[at + 1] == '=' || text[at + 1] == '.')) {
      auto close = text.find(std::string{text[at + 1], ']'}, at + 2);
      at = close == std::string_view::npos ? at + 1 : close + 2;
    } else if (c == ']') {
      return at + 1;
    } else {
      ++at;
    }
  }
  return std::string_view::npos;
}

byte_set one_byte(unsigned char c) {
  byte_set out;
  out.set(c);
  return out;
}

// The steps of a glob. A bracket expression's bytes are the ones fnmatch
// itself accepts for it alone, so its many forms (ranges, classes, negation)
// need no second implementation here; only where it ends does.
std::vector<glob_step> steps_of(std::string_view glob) {
  std::vector<glob_step> out;
  for (std::size_t at = 0; at < glob.size();) {
    char c = glob[at];
    glob_step step;
    if (c == '*') {
      ++at;
      if (!out.empty() && out.back().star) continue;  // `**` is `*`
      step.star = true;
    } else if (c == '?') {
      step.bytes.set();
      ++at;
    } else if (c == '\\') {
      // A `\` ending the pattern matches nothing (glibc): an empty step.
      if (at + 1 < glob.size()) step.bytes = one_byte(static_cast<unsigned char>(glob[at + 1]));
      at += 2;
    } else if (c == '[') {
      auto end = bracket_end(glob, at);
      if (end == std::string_view::npos) {
        step.bytes = one_byte('[');
        ++at;
      } else {
        std::string bracket(glob.substr(at, end - at));
        for (int byte = 1; byte < 256; ++byte) {
          char one[2] = {static_cast<char>(byte), '\0'};
          if (::fnmatch(bracket.c_str(), one, 0) == 0) step.bytes.set(static_cast<std::size_t>(byte));
        }
        at = end;
      }
    } else {
      step.bytes = one_byte(static_cast<unsigned char>(c));
      ++at;
    }
    step.bytes.reset(0);  // paths hold no NUL
    out.push_back(step);
  }
  return out;
}

// A byte of `bytes` other than `/` for an example path: a letter or digit if
// there is one, else something printable, else any. 0 when there is none.
unsigned char example_byte(const byte_set& bytes) {
  for (const char* preferred : {"abcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-"}) {
    for (const char* p = preferred; *p != '\0'; ++p) {
      if (bytes.test(static_cast<unsigned char>(*p))) return static_cast<unsigned char>(*p);
    }
  }
  for (int byte = 33; byte < 127; ++byte) {
    if (byte != '/' && bytes.test(static_cast<std::size_t>(byte))) return static_cast<unsigned char>(byte);
  }
  for (int byte = 1; byte < 256; ++byte) {
    if (byte != '/' && bytes.test(static_cast<std::size_t>(byte))) return static_cast<unsigned char>(byte);
  }
  return 0;
}

}  // namespace

bool glob_matches(std::string_view glob, std::string_view relative_path) {
  std::string pattern(glob);
  std::string path(relative_path);
  return ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0;
}

std::optional<std::string> common_path(std::string_view glob_a, std::string_view glob_b) {
  auto a = steps_of(glob_a);
  auto b = steps_of(glob_b);
  // A state: how many steps of each glob are behind, and whether the path so
  // far is empty or ends in `/` (the next byte starts a name, so it is not `/`).
  struct state {
    std::size_t at_a = 0;
    std::size_t at_b = 0;
    bool name_start = true;
  };
  auto index = [&](const state& s) { return (s.at_a * (b.size() + 1) + s.at_b) * 2 + (s.name_start ? 1 : 0); };
  struct visit {
    bool seen = false;
    std::size_t from = 0;
    char byte = 0;  // the byte that led here from `from`; 0: no byte (a `*` matched nothing)
  };
  std::vector<visit> visits((a.size() + 1) * (b.size() + 1) * 2);
  std::deque<state> queue;
  auto reach = [&](const state& to, std::size_t from, char byte) {
    auto& v = visits[index(to)];
    if (v.seen) return;
    v = {true, from, byte};
    queue.push_back(to);
  };
  state start;
  visits[index(start)] = {true, index(start), 0};
  queue.push_back(start);
  byte_set any;
  any.set();
  any.reset(0);
  while (!queue.empty()) {
    auto s = queue.front();
    queue.pop_front();
    auto here = index(s);
    if (s.at_a == a.size() && s.at_b == b.size() && !s.name_start) {
      std::string path;
      for (auto at = here; at != index(start); at = visits[at].from) {
        if (visits[at].byte != 0) path.insert(path.begin(), visits[at].byte);
      }
      return path;
    }
    // A `*` may match nothing more.
    if (s.at_a < a.size() && a[s.at_a].star) reach({s.at_a + 1, s.at_b, s.name_start}, here, 0);
    if (s.at_b < b.size() && b[s.at_b].star) reach({s.at_a, s.at_b + 1, s.name_start}, here, 0);
    if (s.at_a == a.size() || s.at_b == b.size()) continue;
    const auto& step_a = a[s.at_a];
    const auto& step_b = b[s.at_b];
    auto bytes = (step_a.star ? any : step_a.bytes) & (step_b.star ? any : step_b.bytes);
    // A `*` stays where it is after a byte; any other step is done.
    std::size_t next_a = step_a.star ? s.at_a : s.at_a + 1;
    std::size_t next_b = step_b.star ? s.at_b : s.at_b + 1;
    if (auto byte = example_byte(bytes); byte != 0) reach({next_a, next_b, false}, here, static_cast<char>(byte));
    if (bytes.test('/') && !s.name_start) reach({next_a, next_b, true}, here, '/');
  }
  return std::nullopt;
}

}  // namespace sluice::loader
