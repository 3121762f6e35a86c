// sluice-gen-hubdoc: a fast, seeded generator of Hubdoc-shaped NDJSON event logs
// for tests and scripts/bench.sh. Standard library only.
//
// The shape follows ../shared/samples/hubdoc/: one JSON object per line, keys in
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

// Index into weights, chosen with probability proportional to its weight.
template <std::size_t N>
std::size_t weighted(random_source& rng, const std::array<double, N>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double pick = rng.uniform() * total;
  for (std::size_t idx = 0; idx < N; ++idx) {
    if (pick < weights[idx]) return idx;
    pick -= weights[idx];
  }
  return N - 1;
}

// ---------------------------------------------------------------------------
// Calendar (proleptic Gregorian, days since 1970-01-01) and America/Toronto.

constexpr std::int64_t seconds_per_day = 86400;

struct civil_date {
  int year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days.
constexpr std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr civil_date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const auto y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0));
  return {y, m, d};
}

// 0 = Sunday.
constexpr unsigned weekday(std::int64_t days) {
  return static_cast<unsigned>(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

constexpr std::int64_t nth_sunday(int y, unsigned m, unsigned n) {
  const std::int64_t first = days_from_civil(y, m, 1);
  return first + (7 - weekday(first)) % 7 + 7 * (n - 1);
}

constexpr std::int64_t last_sunday(int y, unsigned m) {
  const std::int64_t last = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) - 1;
  return last - weekday(last);
}

// UTC offset of America/Toronto in seconds at a UTC instant (US/Canada rules
// since 1967; the 2007 change included). Caches the year's transitions.
class toronto_clock {
 public:
  std::int64_t offset_at(std::int64_t utc) {
    if (utc < cached_from_ || utc >= cached_to_) load_year(civil_from_days(floor_div(utc, seconds_per_day)).year);
    return (utc >= dst_start_ && utc < dst_end_) ? -4 * 3600 : -5 * 3600;
  }

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
  }

 private:
  void load_year(int y) {
    std::int64_t start_day = 0;
    std::int64_t end_day = 0;
    if (y >= 2007) {
      start_day = nth_sunday(y, 3, 2);
      end_day = nth_sunday(y, 11, 1);
    } else if (y >= 1987) {
      start_day = nth_sunday(y, 4, 1);
      end_day = last_sunday(y, 10);
    } else {
      start_day = last_sunday(y, 4);
      end_day = last_sunday(y, 10);
    }
    dst_start_ = start_day * seconds_per_day + 7 * 3600;  // 02:00 EST
    dst_end_ = end_day * seconds_per_day + 6 * 3600;      // 02:00 EDT
    cached_from_ = days_from_civil(y, 1, 1) * seconds_per_day;
    cached_to_ = days_from_civil(y + 1, 1, 1) * seconds_per_day;
  }

  std::int64_t cached_from_ = 1;
  std::int64_t cached_to_ = 0;
  std::int64_t dst_start_ = 0;
  std::int64_t dst_end_ = 0;
};

// ---------------------------------------------------------------------------
// Output: a large buffer over a FILE*, with the few formatting primitives needed.

class output {
 public:
  output() { buffer_.reserve(capacity); }
  output(const output&) = delete;
  output& operator=(const output&) = delete;
  ~output() { (void)close(); }

  // Writes to stdout.
  void open_stdout() { file_ = stdout; }

  // Writes to path + ".part", renamed to path by close(). May follow a close()
  // to write the next file; bytes() counts all files.
  bool open(const std::string& path) {
    final_path_ = path;
    part_path_ = path + ".part";
    file_ = std::fopen(part_path_.c_str(), "wb");
    if (file_ == nullptr) std::perror(part_path_.c_str());
    return file_ != nullptr;
  }

  [[nodiscard]] bool close() {
    if (file_ == nullptr) return true;
    bool ok = flush();
    if (file_ == stdout) {
      ok = std::fflush(stdout) == 0 && ok;
    } else {
      ok = std::fclose(file_) == 0 && ok;
      if (ok && std::rename(part_path_.c_str(), final_path_.c_str()) != 0) {
        std::perror(final_path_.c_str());
        ok = false;
      }
    }
    file_ = nullptr;
    return ok;
  }

  bool is_open() const { return file_ != nullptr; }
  std::uint64_t bytes() const { return bytes_ + buffer_.size(); }

  void put(std::string_view s) {
    if (buffer_.size() + s.size() > capacity) (void)flush();
    buffer_.insert(buffer_.end(), s.begin(), s.end());
  }
  void put(char c) {
    if (buffer_.size() + 1 > capacity) (void)flush();
    buffer_.push_back(c);
  }
  void put_uint(std::uint64_t value) {
    std::array<char, 24> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    put(std::string_view(digits.data(), static_cast<std::size_t>(result.ptr - digits.data())));
  }

  [[nodiscard]] bool failed() const { return failed_; }

 private:
  static constexpr std::size_t capacity = std::size_t{1} << 20;

  bool flush() {
    if (buffer_.empty() || file_ == nullptr) return true;
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      std::perror(file_ == stdout ? "stdout" : part_path_.c_str());
      failed_ = true;
    }
    bytes_ += buffer_.size();
    buffer_.clear();
    return !failed_;
  }

  std::FILE* file_ = nullptr;
  std::string final_path_;
  std::string part_path_;
  std::vector<char> buffer_;
  std::uint64_t bytes_ = 0;
  bool failed_ = false;
};

// ---------------------------------------------------------------------------
// Reference data. Non-ASCII letters are written as JSON \u escapes, the way
// Python's json.dumps writes them (and the sample logs have them).

constexpr std::array<std::string_view, 3> plans = {"PLAN_BRONZE", "PLAN_SILVER", "PLAN_GOLD"};
constexpr std::array<double, 3> plan_weights = {50, 35, 15};

constexpr std::array<std::string_view, 40> first_names = {
    "Ana", "Bo", "Liam", "Olivia", "Noah", "Emma", "William", "Charlotte", "Lucas", "Amelia",
    "Benjamin", "Ava", "Thomas", "Sophia", "Jacob", "Chlo\\u00e9", "Mathis", "L\\u00e9a", "Gabriel",
    "Alice", "Samuel", "Florence", "Ethan", "Zo\\u00e9", "Logan", "Rosalie", "Oliver", "Maya",
    "Jayden", "Priya", "Arjun", "Mei", "Wei", "Fatima", "Omar", "H\\u00e9l\\u00e8ne", "Fran\\u00e7ois",
    "Aiyana", "Connor", "Siobhan"};

constexpr std::array<std::string_view, 40> last_names = {
    "Lee", "Tremblay", "Smith", "Brown", "Martin", "Roy", "Wilson", "Gagnon", "MacDonald", "Taylor",
    "C\\u00f4t\\u00e9", "Campbell", "Anderson", "Bouchard", "Gauthier", "Morin", "Johnson", "Lavoie",
    "Fortin", "Gagn\\u00e9", "White", "Thompson", "Ouellet", "Pelletier", "B\\u00e9langer", "Singh",
    "Patel", "Nguyen", "Chen", "Wong", "Kim", "O'Brien", "Murphy", "Fraser", "Leblanc", "Bergeron",
    "Cyr", "Paquette", "Mackenzie", "Girard"};

constexpr std::array<std::string_view, 24> streets = {
    "Elm St.", "Main St.", "King St. W", "Queen St. E", "Yonge St.", "Bay St.", "Maple Ave.",
    "Oak Dr.", "Rue Laval", "Rue Saint-Denis", "Boul. Ren\\u00e9-L\\u00e9vesque", "Rue Principale",
    "Granville St.", "Robson St.", "Jasper Ave.", "Portage Ave.", "Albert St.", "Spring Garden Rd.",
    "Water St.", "Victoria Rd.", "Church St.", "Park Ave.", "Lakeshore Blvd.", "Chemin du Lac"};

struct province {
  std::string_view code;
  std::string_view postal_letters;  // first letter of its postal codes
  double weight;                    // roughly its share of the population
  std::array<std::string_view, 4> cities;
};

constexpr std::array<province, 10> provinces = {{
    {"ON", "KLMNP", 38.5, {"Toronto", "Ottawa", "Hamilton", "London"}},
    {"QC", "GHJ", 22.5, {"Montr\\u00e9al", "Qu\\u00e9bec", "Laterri\\u00e8re", "Trois-Rivi\\u00e8res"}},
    {"BC", "V", 13.5, {"Vancouver", "Victoria", "Kelowna", "Surrey"}},
    {"AB", "T", 11.5, {"Calgary", "Edmonton", "Red Deer", "Lethbridge"}},
    {"MB", "R", 3.6, {"Winnipeg", "Brandon", "Steinbach", "Thompson"}},
    {"SK", "S", 3.0, {"Saskatoon", "Regina", "Prince Albert", "Moose Jaw"}},
    {"NS", "B", 2.6, {"Halifax", "Sydney", "Truro", "Lunenburg"}},
    {"NB", "E", 2.1, {"Moncton", "Fredericton", "Saint John", "Dieppe"}},
    {"NL", "A", 1.4, {"St. John's", "Corner Brook", "Gander", "Mount Pearl"}},
    {"PE", "C", 0.4, {"Charlottetown", "Summerside", "Cornwall", "Montague"}},
}};

constexpr std::array<double, provinces.size()> province_weights = [] {
  std::array<double, provinces.size()> weights{};
  for (std::size_t idx = 0; idx < provinces.size(); ++idx) weights[idx] = provinces[idx].weight;
  return weights;
}();

// Letters Canada Post uses in postal codes.
constexpr std::string_view postal_letters = "ABCEGHJKLMNPRSTVWXYZ";

constexpr std::array<std::string_view, 8> pages = {
    "dashboard_page", "edit_entry_page", "upload_page", "search_page",
    "document_page", "settings_page", "billing_page", "help_page"};
constexpr std::array<double, 8> page_weights = {30, 15, 14, 12, 14, 5, 4, 6};
constexpr std::size_t upload_page_idx = 2;

constexpr std::array<std::string_view, 3> logins = {"web login", "mobile login", "api login"};
constexpr std::array<double, 3> login_weights = {70, 25, 5};

constexpr std::array<std::string_view, 6> upload_prefixes = {"invoice_", "receipt_", "statement_",
                                                             "bill_", "scan_", "myfile_"};
constexpr std::array<std::string_view, 3> upload_extensions = {".pdf", ".jpg", ".png"};

constexpr std::array<std::string_view, 12> month_names = {
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december"};

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
  explicit generator(const options& opts) : opts_(opts), rng_(opts.seed) {}

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

    if (!opts_.out_dir) out_.open_stdout();
    std::uint64_t emitted = 0;
    std::int64_t first_time = 0;
    std::int64_t last_time = 0;
    while (emitted < opts_.events && out_.bytes() < opts_.bytes && !queue.empty()) {
      const pending next = queue.top();
      queue.pop();
      if (!switch_file(next.time)) return 1;
      const std::int64_t following = emit(customers_[next.customer_idx], next.time);
      queue.push({following, next.customer_idx});
      if (emitted == 0) first_time = next.time;
      last_time = next.time;
      ++emitted;
      if (out_.failed()) return 1;
    }
    if (!out_.close() || out_.failed()) return 1;

    const std::string destination = opts_.out_dir ? std::to_string(files_) + " file(s) in " + *opts_.out_dir : "stdout";
    std::fprintf(stderr, "sluice-gen-hubdoc: %llu events, %llu bytes, %llu customers, %s .. %s, %s\n",
                 static_cast<unsigned long long>(emitted), static_cast<unsigned long long>(out_.bytes()),
                 static_cast<unsigned long long>(customer_count), local_date(first_time).c_str(),
                 local_date(last_time).c_str(), destination.c_str());
    return 0;
  }

 private:
  std::string local_date(std::int64_t utc) {
    const civil_date d = civil_from_days(toronto_clock::floor_div(utc + clock_.offset_at(utc), seconds_per_day));
    std::array<char, 48> text{};
    std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", d.year, d.month, d.day);
    return text.data();
  }

  // Opens the right file for an event at utc (with --split-months, one per month).
  bool switch_file(std::int64_t utc) {
    if (!opts_.out_dir) return true;
    if (!opts_.split_months) {
      if (out_.is_open()) return true;
      ++files_;
      return out_.open(*opts_.out_dir + "/hubdoc-events.log");
    }
    const civil_date d = civil_from_days(toronto_clock::floor_div(utc + clock_.offset_at(utc), seconds_per_day));
    const int month_key = d.year * 12 + static_cast<int>(d.month) - 1;
    if (out_.is_open() && month_key == file_month_) return true;
    if (!out_.close()) return false;
    file_month_ = month_key;
    ++files_;
    return out_.open(*opts_.out_dir + "/" + std::to_string(d.year) + "-" +
                     std::string(month_names[d.month - 1]) + ".log");
  }

  // "2019-01-01T00:05:04-05:00"
  void put_date(std::int64_t utc) {
    const std::int64_t offset = clock_.offset_at(utc);
    const std::int64_t local = utc + offset;
    const std::int64_t day = toronto_clock::floor_div(local, seconds_per_day);
    if (day != cached_day_) {
      const civil_date d = civil_from_days(day);
      std::snprintf(day_text_.data(), day_text_.size(), "%04d-%02u-%02uT", d.year, d.month, d.day);
      cached_day_ = day;
    }
    const auto second_of_day = static_cast<unsigned>(local - day * seconds_per_day);
    std::array<char, 16> clock_text{};
    two_digits(clock_text.data(), second_of_day / 3600);
    clock_text[2] = ':';
    two_digits(clock_text.data() + 3, second_of_day / 60 % 60);
    clock_text[5] = ':';
    two_digits(clock_text.data() + 6, second_of_day % 60);
    out_.put(std::string_view(day_text_.data(), 11));
    out_.put(std::string_view(clock_text.data(), 8));
    out_.put(offset == -4 * 3600 ? std::string_view("-04:00") : std::string_view("-05:00"));
  }

  static void two_digits(char* to, unsigned value) {
    to[0] = static_cast<char>('0' + value / 10);
    to[1] = static_cast<char>('0' + value % 10);
  }

  void put_head(std::int64_t utc, std::string_view log_type, const customer& c) {
    out_.put("{\"date\": \"");
    put_date(utc);
    out_.put("\", \"log_type\": \"");
    out_.put(log_type);
    out_.put("\", \"level\": \"INFO\", \"account\": ");
    out_.put_uint(c.account);
  }

  void put_details(std::string_view text) {
    out_.put(", \"details\": \"");
    out_.put(text);
    out_.put("\"}\n");
  }

  void put_signup(std::int64_t utc, const customer& c) {
    put_head(utc, "SIGN_UP", c);
    out_.put(", \"plan\": \"");
    out_.put(plans[c.plan]);
    out_.put("\", \"firstname\": \"");
    out_.put(first_names[rng_.below(first_names.size())]);
    out_.put("\", \"lastname\": \"");
    out_.put(last_names[rng_.below(last_names.size())]);
    const province& p = provinces[weighted(rng_, province_weights)];
    out_.put("\", \"address\": \"'");
    out_.put_uint(static_cast<std::uint64_t>(rng_.between(1, 9999)));
    out_.put(' ');
    out_.put(streets[rng_.below(streets.size())]);
    out_.put(", ");
    out_.put(p.cities[rng_.below(p.cities.size())]);
    out_.put(", ");
    out_.put(p.code);
    out_.put(' ');
    out_.put(p.postal_letters[rng_.below(p.postal_letters.size())]);
    out_.put(static_cast<char>('0' + rng_.below(10)));
    out_.put(postal_letters[rng_.below(postal_letters.size())]);
    out_.put(' ');
    out_.put(static_cast<char>('0' + rng_.below(10)));
    out_.put(postal_letters[rng_.below(postal_letters.size())]);
    out_.put(static_cast<char>('0' + rng_.below(10)));
    out_.put("'\"}\n");
  }

  void put_plan_change(std::int64_t utc, customer& c) {
    const std::uint8_t from = c.plan;
    // Upgrades are more common than downgrades.
    std::uint8_t to = from;
    while (to == from) {
      to = static_cast<std::uint8_t>(rng_.chance(0.65) ? std::min<int>(from + 1, 2) : rng_.below(plans.size()));
    }
    c.plan = to;
    put_head(utc, "PLAN_CHANGE", c);
    out_.put(", \"details\": {\"change_date\": \"");
    put_date(utc);
    out_.put("\", \"from\": \"");
    out_.put(plans[from]);
    out_.put("\", \"to\": \"");
    out_.put(plans[to]);
    out_.put("\"}}\n");
  }

  void put_upload(std::int64_t utc, const customer& c) {
    put_head(utc, "UPLOAD", c);
    out_.put(", \"details\": \"");
    out_.put(upload_prefixes[rng_.below(upload_prefixes.size())]);
    out_.put_uint(rng_.below(100000));
    out_.put(upload_extensions[weighted(rng_, std::array<double, 3>{70, 20, 10})]);
    out_.put("\"}\n");
  }

  // Seconds until the customer's next session.
  std::int64_t session_gap(const customer& c) {
    if (rng_.chance(0.008)) return rng_.between(200, 900) * seconds_per_day;  // gone for years, maybe for good
    if (rng_.chance(0.03)) return rng_.between(31, 150) * seconds_per_day;    // silent long enough to churn
    const double gap = rng_.exponential(static_cast<double>(c.session_gap_days) * seconds_per_day);
    return std::max<std::int64_t>(1800, static_cast<std::int64_t>(gap));
  }

  // Writes the customer's next event at utc; returns the time of the one after.
  std::int64_t emit(customer& c, std::int64_t utc) {
    switch (c.state) {
      case phase::before_signup:
        put_signup(utc, c);
        c.state = phase::between_sessions;
        return utc + rng_.between(60, 1800);
      case phase::between_sessions:
        put_head(utc, "LOGIN", c);
        put_details(logins[weighted(rng_, login_weights)]);
        c.pages_left = static_cast<std::uint16_t>(1 + std::min<double>(40, rng_.exponential(3.0)));
        c.state = rng_.chance(0.006) ? phase::plan_change : phase::in_session;
        return utc + rng_.between(5, 120);
      case phase::plan_change:
        put_plan_change(utc, c);
        c.state = phase::in_session;
        return utc + rng_.between(5, 60);
      case phase::in_session:
        if (c.upload_next) {
          put_upload(utc, c);
          c.upload_next = false;
        } else {
          const std::size_t page = weighted(rng_, page_weights);
          put_head(utc, "PAGE_ACCESS", c);
          put_details(pages[page]);
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
  output out_;
  std::vector<customer> customers_;
  std::int64_t cached_day_ = std::numeric_limits<std::int64_t>::min();
  std::array<char, 48> day_text_{};
  std::uint64_t files_ = 0;
  int file_month_ = -1;
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
