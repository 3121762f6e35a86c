// What the daemon's HTTP endpoint serves, kept in memory so that no request
// ever waits on the warehouse: counters fed by commits and job rounds, the
// last status document the daemon's report fetched (sluice.status()), and
// the process's own figures (/proc/self). render() writes the Prometheus text
// format (version 0.0.4), names after Prometheus's conventions.
//
// Threading: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/pipeline/committer.h"
#include "warehouse/scheduler.h"

namespace sluice::app {

// Cumulative buckets of observed values, as Prometheus histograms count them.
class histogram {
 public:
  explicit histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double value);
  // "# TYPE" aside, the _bucket, _sum and _count lines of `name` with `labels`
  // ("" or `job="x"`).
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Whether the daemon can do its work: the warehouse answered lately, no
// source is stopped and no feed skipped (and why not).
struct readiness {
  bool ready = false;
  std::string reason;
};

class metrics {
 public:
  metrics();

  void on_commit(const loader::commit_note& note);
  void on_jobs(const warehouse::jobs_outcome& outcome);
  // The daemon's report: sluice.status() as JSON, or why it could not be had.
  void set_status(std::string json);
  void status_failed(std::string why);

  [[nodiscard]] std::string render() const;
  // The last status document ("{}" before the first), and when it was had.
  [[nodiscard]] std::string status_json() const;
  [[nodiscard]] readiness ready() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> records_;  // (feed, outcome)
  std::uint64_t commits_ = 0;
  histogram commit_seconds_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> job_runs_;  // (job, outcome)
  std::map<std::string, histogram> job_seconds_;
  std::string status_ = "{}";
  std::optional<std::chrono::steady_clock::time_point> status_at_;
  std::string status_error_;
  std::chrono::system_clock::time_point started_;
};

// A Prometheus label value with \, " and newline escaped.
[[nodiscard]] std::string label_value(std::string_view value);

}  // namespace sluice::app
