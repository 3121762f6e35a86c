// The daemon's HTTP endpoint (--http) as its real clients use it: a real
// Prometheus scrapes /metrics and answers a query for sluice_records_total;
// promtool checks the exposition; headless Chromium renders the status page,
// whose table then holds a feed's counts and a source's lag; /readyz turns
// 503 when a source stops.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include "support/cdc_source.h"
#include "support/checks.h"
#include "support/fixture.h"
#include "support/hubdoc_input.h"
#include "support/http_client.h"

namespace sluice::testing {

namespace {

// The daemon's port, from its log line "serving ... on http://127.0.0.1:PORT/".
unsigned short served_port(child_process& daemon) {
  std::smatch m;
  std::string out;
  bool found = wait_until(
      [&] {
        out = daemon.output();
        return std::regex_search(out, m, std::regex("on http://127\\.0\\.0\\.1:([0-9]+)/"));
      },
      20s);
  INFO(out);
  REQUIRE(found);
  return static_cast<unsigned short>(std::stoi(m[1].str()));
}

std::string tool(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/"}) {
    if (std::filesystem::exists(std::string(dir) + name)) return std::string(dir) + name;
  }
  FAIL(name << " is not installed (scripts/install-deps.sh installs it)");
  return {};
}

}  // namespace

TEST_CASE("/metrics passes promtool, and a real Prometheus scrapes sluice_records_total from it",
          "[integration][http][exclusive]") {
  sluice_fixture fx;
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto daemon = fx.start_sluice({"--settle-ms", "200", "--http", "127.0.0.1:0"}, "http-daemon.log");
  auto port = served_port(*daemon);
  fx.write_file("hubdoc/a.log", logins(1, 20) + "not json\n");
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") == 1; }, 30s));

  auto health = http_get("127.0.0.1", port, "/healthz");
  CHECK(health.status == 200);
  auto metrics = http_get("127.0.0.1", port, "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK_THAT(metrics.body, Catch::Contains("sluice_records_total{feed=\"hubdoc\",outcome=\"loaded\"} 20") &&
                               Catch::Contains("sluice_records_total{feed=\"hubdoc\",outcome=\"rejected\"} 1") &&
                               Catch::Contains("process_resident_memory_bytes "));
  std::ofstream(fx.work() / "metrics.txt") << metrics.body;
  auto checked = run_process({"/bin/sh", "-c", tool("promtool") + " check metrics < " + (fx.work() / "metrics.txt").string()},
                             fx.work() / "promtool.log", 60s);
  INFO(checked.describe());
  CHECK(checked.ok());

  // Prometheus itself, scraping every second.
  auto prometheus_port = free_tcp_port();
  std::ofstream(fx.work() / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: sluice\n"
         "    static_configs:\n      - targets: ['127.0.0.1:" << port << "']\n";
  child_process prometheus({tool("prometheus"), "--config.file=" + (fx.work() / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (fx.work() / "tsdb").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                           fx.work() / "prometheus.log");
  std::string answer;
  bool scraped = wait_until(
      [&] {
        answer = http_get("127.0.0.1", prometheus_port,
                          "/api/v1/query?query=sluice_records_total%7Bfeed%3D%22hubdoc%22%2Coutcome%3D%22loaded%22%7D")
                     .body;
        return answer.find("\"20\"]") != std::string::npos;
      },
      60s, 500ms);
  INFO("Prometheus answered: " << answer);
  INFO(prometheus.output());
  CHECK(scraped);
  CHECK_THAT(answer, Catch::Contains("\"job\":\"sluice\""));
  stop_daemon(*daemon);
}

TEST_CASE("the status page, rendered by headless Chromium, shows a feed's counts and a source's lag, and /readyz says"
          " when a source stops",
          "[integration][http][cdc][exclusive]") {
  sluice_fixture fx;
  source_db src(source_name(fx));
  add_items_source(fx, src, "shop");
  std::filesystem::create_directories(fx.inbox() / "hubdoc");
  auto daemon = fx.start_sluice({"--settle-ms", "200", "--http", "127.0.0.1:0"}, "page-daemon.log");
  auto port = served_port(*daemon);
  REQUIRE(wait_for_source_state(fx, "shop", "streaming", 60s));
  src.db().exec("insert into items values (1, 'one'), (2, 'two')");
  fx.write_file("hubdoc/a.log", logins(1, 7));
  REQUIRE(wait_until([&] { return fx.scalar("select count(*) from sluice.files where state = 'loaded'") == 1; }, 30s));
  // The page reads what the daemon's report fetched (every 2 s), with the lag.
  REQUIRE(wait_until(
      [&] {
        auto body = http_get("127.0.0.1", port, "/status.json").body;
        return body.find("\"lag_bytes\": ") != std::string::npos && body.find("\"rows_last_hour\": 7") != std::string::npos;
      },
      20s, 200ms));
  CHECK(http_get("127.0.0.1", port, "/readyz").status == 200);

  auto rendered = run_process({tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--user-data-dir=" + (fx.work() / "chromium").string(), "--virtual-time-budget=5000",
                               "--dump-dom", "http://127.0.0.1:" + std::to_string(port) + "/"},
                              fx.work() / "chromium.log", 120s);
  INFO(rendered.describe());
  REQUIRE(rendered.ok());
  // The DOM after the page's script ran: rows it built from /status.json.
  std::smatch m;
  CHECK(std::regex_search(rendered.output, m,
                          std::regex(R"(<tr data-feed="hubdoc">.*?<td class="loaded">1</td>.*?<td class="rows">7</td>)")));
  CHECK(std::regex_search(rendered.output, m,
                          std::regex(R"(<tr data-source="shop">.*?<td class="state text">streaming</td><td class="lag-bytes">([0-9]+)</td>)")));

  // A stopped source: not ready, and why.
  fx.db().exec("update sluice.sources set state = 'stopped', last_error = 'stopped by the test' where name = 'shop'");
  http_reply ready;
  REQUIRE(wait_until(
      [&] {
        ready = http_get("127.0.0.1", port, "/readyz");
        return ready.status == 503;
      },
      20s, 200ms));
  CHECK_THAT(ready.body, Catch::Contains("source shop is stopped"));
  CHECK(http_get("127.0.0.1", port, "/healthz").status == 200);
  stop_daemon(*daemon);
}

}  // namespace sluice::testing
