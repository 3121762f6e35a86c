// Feed globs: whether two globs share a path, decided exactly and checked
// against fnmatch itself over every short path.
#include <catch2/catch.hpp>
#include "loader/contract/glob.h"

#include <random>
#include <string>
#include <vector>

using namespace sluice::loader;

namespace {

bool valid_path(const std::string& path) {
  return !path.empty() && path.front() != '/' && path.back() != '/' && path.find("//") == std::string::npos;
}

// Every valid path of up to `max_length` bytes of `alphabet` that both globs
// match: the first one found, or "".
std::string brute_common(const std::string& a, const std::string& b, const std::string& alphabet, std::size_t max_length) {
  std::vector<std::string> level{""};
  for (std::size_t length = 1; length <= max_length; ++length) {
    std::vector<std::string> next;
    for (const auto& prefix : level) {
      for (char c : alphabet) {
        auto path = prefix + c;
        if (valid_path(path) && glob_matches(a, path) && glob_matches(b, path)) return path;
        next.push_back(std::move(path));
      }
    }
    level = std::move(next);
  }
  return "";
}

}  // namespace

TEST_CASE("globs of the built-in packs and the README overlap only where a path matches both", "[loader][glob]") {
  struct example {
    const char* a;
    const char* b;
    bool overlap;
  };
  for (auto e : {example{"shop/*.ndjson", "*.ndjson", true}, example{"hubdoc/*.log", "hubdoc/*.log.gz", false},
                 example{"exports/*.csv", "exports/*.csv.gz", false}, example{"sales/*.csv", "orders/*.csv", false},
                 example{"pleo/users/*.json", "pleo/*/*.json", true}, example{"a/[0-9]*", "a/x*", false},
                 example{"a/[!0-9]*", "a/x*", true}, example{"*", "*", true}, example{"a\\*", "a?", true},
                 example{"a\\*", "ab", false}, example{"a\\", "a*", false}, example{"/x*", "*x", false},
                 example{"x*/", "*", false}, example{"a*b", "*/*", true}, example{"a[/]b", "a*b", true},
                 example{"[[:digit:]]*.log", "1*", true}, example{"[[:digit:]]*.log", "x*", false}}) {
    INFO(e.a << " and " << e.b);
    auto common = common_path(e.a, e.b);
    CHECK(common.has_value() == e.overlap);
    if (common) {
      INFO("example " << *common);
      CHECK(glob_matches(e.a, *common));
      CHECK(glob_matches(e.b, *common));
      CHECK(valid_path(*common));
    }
  }
}

TEST_CASE("two random globs share a path exactly when fnmatch finds one among every short path", "[loader][glob]") {
  const std::vector<std::string> pieces = {"a", "b", "/", "*", "?", "[ab]", "[!a]", "[]a]", "[a-b]", "\\*", "[", "\\"};
  const std::string alphabet = "ab/c*[]\\!-";
  std::mt19937 random(20261205);
  auto glob = [&] {
    std::string out;
    auto length = std::uniform_int_distribution<int>(0, 3)(random);
    for (int piece_idx = 0; piece_idx < length; ++piece_idx) {
      out += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(random)];
    }
    return out;
  };
  for (int pair_idx = 0; pair_idx < 300; ++pair_idx) {
    auto a = glob();
    auto b = glob();
    INFO("globs '" << a << "' and '" << b << "'");
    auto common = common_path(a, b);
    auto brute = brute_common(a, b, alphabet, 5);
    if (!brute.empty()) {
      INFO("fnmatch finds " << brute);
      CHECK(common.has_value());
    }
    if (common) {
      INFO("common_path says " << *common);
      CHECK(valid_path(*common));
      CHECK(glob_matches(a, *common));
      CHECK(glob_matches(b, *common));
    }
  }
}
