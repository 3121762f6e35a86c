// sluice-gen-hubdoc: a fast, seeded generator of Hubdoc-shaped NDJSON event logs
// for tests and scripts/bench.sh. Standard library only.
//
// The shape follows examples/hubdoc/: one JSON object per line, keys in
// the order date, log_type, level, account, then details (LOGIN, PAGE_ACCESS,
// UPLOAD: a string; PLAN_CHANGE: {change_date, from, to}) or plan, firstname,
// lastname, address (SIGN_UP). Dates are America/Toronto local time with the
// offset that applies at that instant (-05:00, or -04:00 during DST).
//
// The simulation: customers sign up spread over about ten months (accounts
// numbered in sign-up order), then come back in sessions: a LOGIN, a few
// PAGE_ACCESS, an UPLOAD after some visits to the upload page, now and then a
// PLAN_CHANGE. Gaps between sessions are random per customer; some customers go
// silent for more than 30 days (churn), some for years. Events come out in time
// order, and every customer's SIGN_UP precedes its other events.
//
// Output is a pure function of the arguments (own RNG and distributions, so the
// same seed gives the same bytes with any standard library).
//
// This file holds the simulation and the command line; hubdoc_events.h the
// vocabulary and the writer of the lines, hubdoc_time.h the calendar and the
// Toronto clock.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "hubdoc_events.h"
#include "hubdoc_time.h"
#include "random_source.h"

namespace {

constexpr std::string_view usage_text =
    R"(sluice-gen-hubdoc: writes seeded, Hubdoc-shaped NDJSON event logs.

usage: sluice-gen-hubdoc (--events N | --bytes SIZE) [options]

  --events N        number of events to write
  --bytes SIZE      stop once SIZE bytes are written (suffix K, M, G; e.g. 2G)
  --seed S          random seed (default 1); same arguments, same output
  --customers C     number of customers (default: events / 150, at least 1)
  --start DATE      first day, YYYY-MM-DD, America/Toronto (default 2019-01-01)
  --out-dir DIR     write files into DIR (created if missing) instead of stdout:
                    DIR/hubdoc-events.log, or one file per month with
  --split-months    ... named like 2019-january.log (the month of the events)
  --help            this text

Files are written as NAME.part and renamed when complete, so a watcher never
picks up a half-written file. A summary goes to stderr.
)";

using sluice::gen::random_source;
using namespace sluice::gen::hubdoc;

// ---------------------------------------------------------------------------
// The simulation.

struct options {
  std::uint64_t events = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t bytes = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t seed = 1;
  std::uint64_t customers = 0;
  civil_date start{2019, 1, 1};
  std::optional<std::string> out_dir;
  bool split_months = false;
};

enum class phase : std::uint8_t {
  before_signup,   // next event: SIGN_UP
  between_sessions,  // next event: LOGIN
  plan_change,     // next event: PLAN_CHANGE (inside a session)
  in_session,      // next event: PAGE_ACCESS or UPLOAD
};

struct customer {
  std::uint32_t account = 0;
  std::uint8_t plan = 0;
  phase state = phase::before_signup;
  bool upload_next = false;
  std::uint16_t pages_left = 0;
  float session_gap_days = 7;  // mean gap between sessions
};

struct pending {
  std::int64_t time;  // UTC seconds
  std::uint32_t customer_idx;
  bool operator>(const pending& other) const {
    return time != other.time ? time > other.time : customer_idx > other.customer_idx;
  }
};

class generator {
 public:
  explicit generator(const options& opts)
      : opts_(opts), rng_(opts.seed), events_(rng_, opts.out_dir, opts.split_months) {}

  int run() {
    const std::uint64_t expected_events =
        opts_.events != std::numeric_limits<std::uint64_t>::max() ? opts_.events : opts_.bytes / 125 + 1;
    std::uint64_t customer_count = opts_.customers != 0 ? opts_.customers : std::max<std::uint64_t>(1, expected_events / 150);
    customer_count = std::min<std::uint64_t>(customer_count, std::numeric_limits<std::int32_t>::max() - 2000);

    // Sessions average about 5.4 events; sign-ups are spread over 300 days, so a
    // customer is active for about 170 days of the first year on average (silences
    // stretch the log to about a year).
    const double events_per_customer = static_cast<double>(expected_events) / static_cast<double>(customer_count);
    const double sessions = std::max(0.2, (events_per_customer - 1) / 5.4);
    const double base_gap_days = std::clamp(170.0 / sessions, 0.05, 120.0);

    const std::int64_t start_day = days_from_civil(opts_.start.year, opts_.start.month, opts_.start.day);
    std::int64_t start = start_day * seconds_per_day;
    start -= clock_.offset_at(start + 5 * 3600);  // local midnight
    const std::int64_t signup_span = 300 * seconds_per_day;

    std::vector<std::int64_t> signups(customer_count);
    for (auto& t : signups) t = start + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(signup_span)));
    signups[0] = start + rng_.between(60, 3600);  // the log starts with a sign-up
    std::sort(signups.begin(), signups.end());

    customers_.resize(customer_count);
    std::vector<pending> heap_storage;
    heap_storage.reserve(customer_count);
    for (std::size_t idx = 0; idx < customer_count; ++idx) {
      customer& c = customers_[idx];
      c.account = static_cast<std::uint32_t>(1001 + idx);  // clear of the sample log's 501, 502
      c.plan = static_cast<std::uint8_t>(weighted(rng_, plan_weights));
      c.session_gap_days = static_cast<float>(base_gap_days * std::exp((rng_.uniform() - 0.5) * 2.0));
      heap_storage.push_back({signups[idx], static_cast<std::uint32_t>(idx)});
    }
    std::priority_queue<pending, std::vector<pending>, std::greater<>> queue(std::greater<>{},
                                                                             std::move(heap_storage));

    std::uint64_t emitted = 0;
    std::int64_t first_time = 0;
    std::int64_t last_time = 0;
    while (emitted < opts_.events && events_.bytes() < opts_.bytes && !queue.empty()) {
      const pending next = queue.top();
      queue.pop();
      if (!events_.switch_file(next.time)) return 1;
      const std::int64_t following = emit(customers_[next.customer_idx], next.time);
      queue.push({following, next.customer_idx});
      if (emitted == 0) first_time = next.time;
      last_time = next.time;
      ++emitted;
      if (events_.failed()) return 1;
    }
    if (!events_.finish()) return 1;

    const std::string destination =
        opts_.out_dir ? std::to_string(events_.files()) + " file(s) in " + *opts_.out_dir : "stdout";
    std::fprintf(stderr, "sluice-gen-hubdoc: %llu events, %llu bytes, %llu customers, %s .. %s, %s\n",
                 static_cast<unsigned long long>(emitted), static_cast<unsigned long long>(events_.bytes()),
                 static_cast<unsigned long long>(customer_count), local_date(first_time).c_str(),
                 local_date(last_time).c_str(), destination.c_str());
    return 0;
  }

 private:
  std::string local_date(std::int64_t utc) {
    const civil_date d = clock_.local_date(utc);
    std::array<char, 48> text{};
    std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", d.year, d.month, d.day);
    return text.data();
  }

  // Seconds until the customer's next session.
  std::int64_t session_gap(const customer& c) {
    if (rng_.chance(0.008)) return rng_.between(200, 900) * seconds_per_day;  // gone for years, maybe for good
    if (rng_.chance(0.03)) return rng_.between(31, 150) * seconds_per_day;    // silent long enough to churn
    const double gap = rng_.exponential(static_cast<double>(c.session_gap_days) * seconds_per_day);
    return std::max<std::int64_t>(1800, static_cast<std::int64_t>(gap));
  }

  void change_plan(customer& c, std::int64_t utc) {
    const std::uint8_t from = c.plan;
    // Upgrades are more common than downgrades.
    std::uint8_t to = from;
    while (to == from) {
      to = static_cast<std::uint8_t>(rng_.chance(0.65) ? std::min<int>(from + 1, 2) : rng_.below(plans.size()));
    }
    c.plan = to;
    events_.plan_change(utc, c.account, from, to);
  }

  // Writes the customer's next event at utc; returns the time of the one after.
  std::int64_t emit(customer& c, std::int64_t utc) {
    switch (c.state) {
      case phase::before_signup:
        events_.sign_up(utc, c.account, c.plan);
        c.state = phase::between_sessions;
        return utc + rng_.between(60, 1800);
      case phase::between_sessions:
        events_.login(utc, c.account);
        c.pages_left = static_cast<std::uint16_t>(1 + std::min<double>(40, rng_.exponential(3.0)));
        c.state = rng_.chance(0.006) ? phase::plan_change : phase::in_session;
        return utc + rng_.between(5, 120);
      case phase::plan_change:
        change_plan(c, utc);
        c.state = phase::in_session;
        return utc + rng_.between(5, 60);
      case phase::in_session:
        if (c.upload_next) {
          events_.upload(utc, c.account);
          c.upload_next = false;
        } else {
          const std::size_t page = weighted(rng_, page_weights);
          events_.page_access(utc, c.account, page);
          c.upload_next = page == upload_page_idx && rng_.chance(0.7);
          --c.pages_left;
        }
        if (c.pages_left == 0 && !c.upload_next) {
          c.state = phase::between_sessions;
          return utc + session_gap(c);
        }
        return utc + rng_.between(3, 240);
    }
    return utc + 1;
  }

  options opts_;
  random_source rng_;
  toronto_clock clock_;
  event_writer events_;
  std::vector<customer> customers_;
};

// ---------------------------------------------------------------------------
// Command line.

bool parse_uint(std::string_view text, std::uint64_t& value) {
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

bool parse_size(std::string_view text, std::uint64_t& value) {
  std::uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': multiplier = std::uint64_t{1} << 10; break;
      case 'M': case 'm': multiplier = std::uint64_t{1} << 20; break;
      case 'G': case 'g': multiplier = std::uint64_t{1} << 30; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  if (!parse_uint(text, value) || value > std::numeric_limits<std::uint64_t>::max() / multiplier) return false;
  value *= multiplier;
  return true;
}

bool parse_date(std::string_view text, civil_date& date) {
  std::uint64_t y = 0;
  std::uint64_t m = 0;
  std::uint64_t d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!parse_uint(text.substr(0, 4), y) || !parse_uint(text.substr(5, 2), m) || !parse_uint(text.substr(8, 2), d)) {
    return false;
  }
  if (y < 1970 || m < 1 || m > 12 || d < 1) return false;
  date = {static_cast<int>(y), static_cast<unsigned>(m), static_cast<unsigned>(d)};
  // Reject 2019-02-30 and the like: the day must survive the round trip.
  const civil_date back = civil_from_days(days_from_civil(date.year, date.month, date.day));
  return back.month == date.month && back.day == date.day;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "sluice-gen-hubdoc: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  bool have_count = false;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t arg_idx = 0; arg_idx < args.size(); ++arg_idx) {
    std::string_view name = args[arg_idx];
    std::optional<std::string_view> inline_value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (arg_idx + 1 < args.size()) return args[++arg_idx];
      return std::nullopt;
    };
    if (name == "--help" || name == "-h") {
      std::fputs(usage_text.data(), stdout);
      return 0;
    }
    if (name == "--split-months") {
      opts.split_months = true;
      continue;
    }
    constexpr std::array<std::string_view, 6> valued = {"--events", "--bytes", "--seed",
                                                        "--customers", "--start", "--out-dir"};
    if (std::find(valued.begin(), valued.end(), name) == valued.end()) {
      return fail("unknown option '" + std::string(name) + "'");
    }
    const auto v = value();
    if (!v) return fail(std::string(name) + " needs a value");
    if (name == "--events") {
      if (!parse_uint(*v, opts.events)) return fail("--events takes a number, got '" + std::string(*v) + "'");
      have_count = true;
    } else if (name == "--bytes") {
      if (!parse_size(*v, opts.bytes)) return fail("--bytes takes a size like 2G, got '" + std::string(*v) + "'");
      have_count = true;
    } else if (name == "--seed") {
      if (!parse_uint(*v, opts.seed)) return fail("--seed takes a number, got '" + std::string(*v) + "'");
    } else if (name == "--customers") {
      if (!parse_uint(*v, opts.customers) || opts.customers == 0) {
        return fail("--customers takes a positive number, got '" + std::string(*v) + "'");
      }
    } else if (name == "--start") {
      if (!parse_date(*v, opts.start)) return fail("--start takes a date YYYY-MM-DD (1970 or later), got '" + std::string(*v) + "'");
    } else if (name == "--out-dir") {
      opts.out_dir = std::string(*v);
    } else {
      return fail("unknown option '" + std::string(name) + "'");
    }
  }
  if (!have_count) return fail("say how much to write: --events N or --bytes SIZE");
  if (opts.split_months && !opts.out_dir) return fail("--split-months needs --out-dir DIR");
  if (opts.out_dir) {
    std::error_code error;
    std::filesystem::create_directories(*opts.out_dir, error);
    if (error) return fail("cannot create " + *opts.out_dir + ": " + error.message());
  }
  generator gen(opts);
  return gen.run();
}
