// The one Catch2 main shared by every test executable.
//
// Console width: Catch2 2.13's console reporter wraps a failed assertion's
// test name with an indent; a name longer than the width, indented past it,
// made it compute a negative offset and abort the whole binary
// (std::out_of_range from substr) instead of printing the failure. Names
// here are sentences, so the width is set past any of them.
//
// Sanitizer reports of the children a test starts (the `sluice` the
// integration tests run): with a sanitizer build, scripts/test.sh sets
// SLUICE_SANITIZER_LOGS to a folder. This main gives its own process a
// folder inside it and points the children's ASAN/UBSAN/TSAN log_path there;
// after the tests ran, any report found there is printed and fails the run,
// so a report fails the test that caused it even when the child that made it
// was killed or its exit code was not looked at. (The test binary's own
// reports go to stderr and end it with a non-zero status.)
//
// Names CTest cannot carry: catch_discover_tests makes each test case a CTest
// test filtered by its name, and a ';' splits the name (a CMake list) so the
// filter matches nothing; a leading '-' reads as an option. Such a name fails
// every run of the binary here, where a developer sees it, not only in CI.
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_CONSOLE_WIDTH 400
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Adds log_path=<folder>/<tool> to the options variable `name` (keeping what
// it says otherwise), so that children write their reports there.
void point_reports_to(const char* name, const fs::path& folder, const char* tool) {
  std::string options;
  if (const char* now = std::getenv(name)) options = now;
  if (!options.empty()) options += ':';
  options += "log_path=" + (folder / tool).string();
  ::setenv(name, options.c_str(), 1);
}

// Reports the children wrote, each printed whole; the number found.
int print_reports(const fs::path& folder) {
  int found = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().empty()) continue;
    ++found;
    std::cerr << "\n==== sanitizer report of a child process (" << entry.path().filename().string()
              << ") ====\n"
              << text.str() << "==== end of report ====\n";
  }
  return found;
}

// Test case names CTest cannot run, each printed; how many.
int names_ctest_cannot_run() {
  int found = 0;
  for (const auto& test : Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) {
    const std::string& name = test.getTestCaseInfo().name;
    if (name.find(';') == std::string::npos && name.rfind('-', 0) != 0) continue;
    ++found;
    std::cerr << "a test case name CTest cannot run (no ';', no leading '-'): " << name << '\n';
  }
  return found;
}

}  // namespace

int main(int argc, char* argv[]) {
  fs::path folder;
  if (const char* logs = std::getenv("SLUICE_SANITIZER_LOGS"); logs != nullptr && *logs != '\0') {
    folder = fs::path(logs) / ("test-" + std::to_string(::getpid()));
    fs::create_directories(folder);
    point_reports_to("ASAN_OPTIONS", folder, "asan");
    point_reports_to("UBSAN_OPTIONS", folder, "ubsan");
    point_reports_to("TSAN_OPTIONS", folder, "tsan");
  }
  if (names_ctest_cannot_run() > 0) return 1;
  int status = Catch::Session().run(argc, argv);
  if (!folder.empty()) {
    int reports = print_reports(folder);
    if (reports > 0) {
      std::cerr << reports << " sanitizer report(s) from the processes this test started: failed\n";
      if (status == 0) status = 1;
    }
    std::error_code ec;
    fs::remove_all(folder, ec);
  }
  return status;
}
