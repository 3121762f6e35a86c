#include "loader/app/metrics.h"

#include <simdjson.h>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "loader/app/status.h"

namespace sluice::app {

namespace {

constexpr auto status_stale_after = std::chrono::seconds(10);

std::vector<double> seconds_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string number(double v) { return fmt::format("{}", v); }

// The process's own figures: resident memory, CPU seconds, open descriptors.
void process_figures(std::string& out, std::chrono::system_clock::time_point started) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command (which may hold spaces) follow its closing ')'.
  auto close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    // f[0] is field 3 (state): utime is field 14, stime 15, rss 24.
    if (f.size() > 21) {
      double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      double rss = std::stod(f[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE));
      family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent by the daemon.");
      out += "process_cpu_seconds_total " + number(cpu) + "\n";
      family(out, "process_resident_memory_bytes", "gauge", "Resident memory of the daemon.");
      out += "process_resident_memory_bytes " + number(rss) + "\n";
    }
  }
  std::size_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  family(out, "process_open_fds", "gauge", "Open file descriptors of the daemon.");
  out += "process_open_fds " + std::to_string(fds) + "\n";
  family(out, "process_start_time_seconds", "gauge", "When the daemon started, seconds since the Unix epoch.");
  out += "process_start_time_seconds " +
         number(std::chrono::duration<double>(started.time_since_epoch()).count()) + "\n";
}

}  // namespace

std::string label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void histogram::observe(double value) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += value;
}

void histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + labels + sep + "le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

metrics::metrics() : commit_seconds_(seconds_buckets()), started_(std::chrono::system_clock::now()) {}

void metrics::on_commit(const loader::commit_note& note) {
  std::lock_guard lock(mutex_);
  for (const auto& [feed, tally] : note.feeds) {
    records_[{feed, "loaded"}] += tally.loaded;
    records_[{feed, "rejected"}] += tally.rejected;
  }
  if (note.transaction_seconds) {
    ++commits_;
    commit_seconds_.observe(*note.transaction_seconds);
  }
}

void metrics::on_jobs(const warehouse::jobs_outcome& outcome) {
  std::lock_guard lock(mutex_);
  for (const auto& run : outcome.runs) {
    ++job_runs_[{run.name, run.outcome}];
    if (run.outcome == "ok") job_seconds_.try_emplace(run.name, seconds_buckets()).first->second.observe(run.seconds);
  }
}

void metrics::set_status(std::string json) {
  std::lock_guard lock(mutex_);
  status_ = std::move(json);
  status_at_ = std::chrono::steady_clock::now();
  status_error_.clear();
}

void metrics::status_failed(std::string why) {
  std::lock_guard lock(mutex_);
  status_error_ = std::move(why);
}

std::string metrics::status_json() const {
  std::lock_guard lock(mutex_);
  return status_;
}

readiness metrics::ready() const {
  std::string json;
  {
    std::lock_guard lock(mutex_);
    if (!status_at_ || std::chrono::steady_clock::now() - *status_at_ > status_stale_after) {
      return {false, "the warehouse has not answered for 10 s" +
                         (status_error_.empty() ? std::string() : ": " + status_error_)};
    }
    json = status_;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return {false, "the status document does not parse"};
  std::string why;
  for (const auto& p : problems_in(doc)) {
    if (p.unready) why += (why.empty() ? "" : "; ") + p.what;
  }
  return {why.empty(), why.empty() ? "ready" : why};
}

std::string metrics::render() const {
  std::string out;
  std::string json;
  bool fresh = false;
  {
    std::lock_guard lock(mutex_);
    family(out, "sluice_records_total", "counter",
           "Records committed by this daemon, by feed (a replication source's: its change log) and outcome.");
    for (const auto& [key, n] : records_) {
      out += "sluice_records_total{feed=\"" + label_value(key.first) + "\",outcome=\"" + key.second + "\"} " +
             std::to_string(n) + "\n";
    }
    family(out, "sluice_commit_seconds", "histogram", "Seconds from a batch's first try to its transaction's commit.");
    commit_seconds_.render(out, "sluice_commit_seconds", "");
    family(out, "sluice_job_runs_total", "counter", "Report job runs by job and outcome (ok, failed, deferred, locked).");
    for (const auto& [key, n] : job_runs_) {
      out += "sluice_job_runs_total{job=\"" + label_value(key.first) + "\",outcome=\"" + key.second + "\"} " +
             std::to_string(n) + "\n";
    }
    family(out, "sluice_job_seconds", "histogram", "Seconds a successful report job run took.");
    for (const auto& [job, h] : job_seconds_) h.render(out, "sluice_job_seconds", "job=\"" + label_value(job) + "\"");
    json = status_;
    fresh = status_at_ && std::chrono::steady_clock::now() - *status_at_ <= status_stale_after;
  }
  family(out, "sluice_warehouse_up", "gauge", "1 when the daemon's last status query (every 2 s) answered within 10 s.");
  out += std::string("sluice_warehouse_up ") + (fresh ? "1" : "0") + "\n";

  // From the last status document: the warehouse's view, every daemon's work.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!parser.parse(json).get(doc)) {
    family(out, "sluice_files", "gauge", "Files in the ledger by feed and state.");
    simdjson::dom::array feeds;
    if (!doc["feeds"].get(feeds)) {
      for (auto f : feeds) {
        std::string_view feed;
        simdjson::dom::object files;
        if (f["feed"].get(feed) || f["files"].get(files)) continue;
        for (auto [state, count] : files) {
          int64_t n = 0;
          if (count.get(n)) continue;
          out += "sluice_files{feed=\"" + label_value(feed) + "\",state=\"" + std::string(state) + "\"} " +
                 std::to_string(n) + "\n";
        }
      }
    }
    family(out, "sluice_source_lag_bytes", "gauge", "Source WAL not yet in the warehouse, in bytes.");
    std::string seconds_lines;
    std::string up_lines;
    simdjson::dom::array sources;
    if (!doc["sources"].get(sources)) {
      for (auto s : sources) {
        std::string_view name;
        if (s["source"].get(name)) continue;
        std::string label = "{source=\"" + label_value(name) + "\"}";
        int64_t bytes = 0;
        if (!s["lag_bytes"].get(bytes)) out += "sluice_source_lag_bytes" + label + " " + std::to_string(bytes) + "\n";
        double seconds = 0;
        if (!s["lag_seconds"].get(seconds)) seconds_lines += "sluice_source_lag_seconds" + label + " " + number(seconds) + "\n";
        std::string_view state;
        if (!s["state"].get(state)) up_lines += "sluice_source_up" + label + (state == "streaming" ? " 1\n" : " 0\n");
      }
    }
    family(out, "sluice_source_lag_seconds", "gauge",
           "Age of the oldest source transaction received and not yet committed in the warehouse (0: none).");
    out += seconds_lines;
    family(out, "sluice_source_up", "gauge", "1 while a source streams, 0 when it is new, copying or stopped.");
    out += up_lines;
  }
  process_figures(out, started_);
  return out;
}

}  // namespace sluice::app
