// Hostile tests of CSV and gzip loading (issue 6): inputs and event sequences
// where a record of a .csv, .csv.gz or .log.gz could be lost, doubled or
// silently skipped, or where memory stops being flat. Each names what it broke.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "../support/gzip.h"
#include "checks.h"
#include "fixture.h"
#include "hubdoc_input.h"
#include "sales_input.h"

namespace sluice::itest {
namespace {

using sluice_test::gzip_of;

constexpr std::string_view sales_header =
    "SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date\n";

std::string sale_row(int id) {
  return std::to_string(id) + ",7,Laptop,Acme,Computers,3,Shop " + std::to_string(id % 10) +
         ",Online,Oslo,1,1500.00,2024-02-" + (id % 28 < 9 ? "0" : "") + std::to_string(1 + id % 28) + "\n";
}

// Peak resident memory (VmHWM) of a running process, in KiB; 0 once it is gone.
std::int64_t peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// Writes `content` over the start of the file, in place, without truncating
// it: same inode, never seen shorter.
void overwrite_in_place(const std::filesystem::path& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()));
  ::close(fd);
}

}  // namespace

TEST_CASE("thousands of tiny .csv.gz files load exactly once with flat memory",
          "[integration][gzip][attack6]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  constexpr int files = 2'000;
  for (int file_idx = 0; file_idx < files; ++file_idx) {
    std::string content(sales_header);
    content += sale_row(2 * file_idx + 1);
    content += sale_row(2 * file_idx + 2);
    fx.write_file("test-sales/tiny-" + std::to_string(file_idx) + ".csv.gz", gzip_of(content));
  }
  auto run = fx.start_sluice({"--once"}, "tiny-gz.log");
  std::int64_t peak = 0;
  while (run->running()) {
    peak = std::max(peak, peak_rss_kib(run->pid()));
    std::this_thread::sleep_for(5ms);
  }
  auto ended = run->wait_for(180s);
  REQUIRE(ended.has_value());
  INFO(ended->describe());
  REQUIRE(ended->ok());
  INFO("peak resident memory " << peak / 1024 << " MiB");
  CHECK(peak < 300 * 1024);
  CHECK(fx.staging_rows() == 2 * files);
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(fx.duplicate_staging_keys() == 0);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'loaded'") == files);
  CHECK(fx.scalar("select count(distinct sale_id) from staging.test_sales") == 2 * files);
}

TEST_CASE("a .csv.gz the daemon holds, rewritten in place with another export, loads the new export whole",
          "[integration][gzip][daemon][attack6]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  auto first = generate_sales(fx, 20'000, 71, 0);
  auto second = generate_sales(fx, 20'000, 72, 0, 100'001);
  auto first_gz = gzip_of(first.content);
  auto second_gz = gzip_of(second.content);
  REQUIRE(second_gz.size() > first_gz.size() / 2);
  const std::string path = "test-sales/export.csv.gz";
  std::filesystem::create_directories(fx.inbox() / "test-sales");
  fx.append_file(path, first_gz.substr(0, first_gz.size() / 2));
  auto daemon = fx.start_sluice({"--settle-ms", "100"}, "gz-rewrite.log");
  auto rows_in = [&](const char* where) {
    return fx.scalar(std::string("select count(*) from staging.test_sales where ") + where);
  };
  REQUIRE(wait_until([&] { return rows_in("sale_id <= 100000") > 1000; }, 30s));
  std::this_thread::sleep_for(500ms);
  auto partial = rows_in("sale_id <= 100000");
  CHECK(partial < 20'000);
  // The export is written again, over the same inode, never shorter.
  overwrite_in_place(fx.inbox() / path, second_gz);
  bool whole = wait_until([&] { return rows_in("sale_id > 100000") == 20'000; }, 30s);
  stop_daemon(*daemon);
  INFO(daemon->output());
  CHECK(whole);
  CHECK(rows_in("sale_id > 100000") == 20'000);
  CHECK(rows_in("sale_id <= 100000") == partial);  // what was loaded of the first stays, once
  CHECK(fx.scalar("select count(*) from sluice.rejects") == 0);
  CHECK(fx.duplicate_staging_keys() == 0);
}

TEST_CASE("many small .csv.gz files under a low open-files limit all load: none is refused",
          "[integration][gzip][attack6]") {
  sluice_fixture fx;
  declare_sales_feed(fx);
  constexpr int files = 600;
  for (int file_idx = 0; file_idx < files; ++file_idx) {
    std::string content(sales_header);
    content += sale_row(file_idx + 1);
    fx.write_file("test-sales/small-" + std::to_string(file_idx) + ".csv.gz", gzip_of(content));
  }
  auto run = run_process({"/usr/bin/prlimit", "--nofile=200:200", SLUICE_BINARY, "run", "--dsn", fx.dsn(), "--inbox",
                          fx.inbox().string(), "--once"},
                         fx.work() / "low-nofile.log", 300s);
  INFO(run.describe());
  CHECK(run.ok());
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'refused'") == 0);
  CHECK(fx.scalar("select count(*) from sluice.files where state = 'loaded'") == files);
  CHECK(fx.staging_rows() == files);
  CHECK(fx.duplicate_staging_keys() == 0);
}

}  // namespace sluice::itest
