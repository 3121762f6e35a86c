// sluice-gen-hubdoc's events: the vocabulary they are made of and the writer
// that puts them, one NDJSON line each, into stdout or into files that appear
// only when complete. The simulation (gen_hubdoc.cpp) decides who does what
// when; the writer makes up the details no later event depends on (names,
// addresses, login kinds, file names), so the two draw from one random source
// in a fixed order.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hubdoc_time.h"
#include "random_source.h"

namespace sluice::gen::hubdoc {

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
constexpr std::array<double, 3> upload_extension_weights = {70, 20, 10};

constexpr std::array<std::string_view, 12> month_names = {
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december"};

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
// The events as lines, keys in the sample logs' order.

class event_writer {
 public:
  // Writes into out_dir (hubdoc-events.log, or with split_months one file a
  // month), or to stdout without one. rng must outlive the writer.
  event_writer(random_source& rng, std::optional<std::string> out_dir, bool split_months)
      : rng_(rng), out_dir_(std::move(out_dir)), split_months_(split_months) {
    if (!out_dir_) out_.open_stdout();
  }

  // Opens the right file for an event at utc (with split_months, one per month).
  bool switch_file(std::int64_t utc) {
    if (!out_dir_) return true;
    if (!split_months_) {
      if (out_.is_open()) return true;
      ++files_;
      return out_.open(*out_dir_ + "/hubdoc-events.log");
    }
    const civil_date d = clock_.local_date(utc);
    const int month_key = d.year * 12 + static_cast<int>(d.month) - 1;
    if (out_.is_open() && month_key == file_month_) return true;
    if (!out_.close()) return false;
    file_month_ = month_key;
    ++files_;
    return out_.open(*out_dir_ + "/" + std::to_string(d.year) + "-" +
                     std::string(month_names[d.month - 1]) + ".log");
  }

  // Closes the last file; false if any write failed.
  [[nodiscard]] bool finish() { return out_.close() && !out_.failed(); }

  [[nodiscard]] bool failed() const { return out_.failed(); }
  std::uint64_t bytes() const { return out_.bytes(); }
  std::uint64_t files() const { return files_; }

  void sign_up(std::int64_t utc, std::uint32_t account, std::uint8_t plan) {
    put_head(utc, "SIGN_UP", account);
    out_.put(", \"plan\": \"");
    out_.put(plans[plan]);
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

  void login(std::int64_t utc, std::uint32_t account) {
    put_head(utc, "LOGIN", account);
    put_details(logins[weighted(rng_, login_weights)]);
  }

  void page_access(std::int64_t utc, std::uint32_t account, std::size_t page) {
    put_head(utc, "PAGE_ACCESS", account);
    put_details(pages[page]);
  }

  void plan_change(std::int64_t utc, std::uint32_t account, std::uint8_t from, std::uint8_t to) {
    put_head(utc, "PLAN_CHANGE", account);
    out_.put(", \"details\": {\"change_date\": \"");
    put_date(utc);
    out_.put("\", \"from\": \"");
    out_.put(plans[from]);
    out_.put("\", \"to\": \"");
    out_.put(plans[to]);
    out_.put("\"}}\n");
  }

  void upload(std::int64_t utc, std::uint32_t account) {
    put_head(utc, "UPLOAD", account);
    out_.put(", \"details\": \"");
    out_.put(upload_prefixes[rng_.below(upload_prefixes.size())]);
    out_.put_uint(rng_.below(100000));
    out_.put(upload_extensions[weighted(rng_, upload_extension_weights)]);
    out_.put("\"}\n");
  }

 private:
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

  void put_head(std::int64_t utc, std::string_view log_type, std::uint32_t account) {
    out_.put("{\"date\": \"");
    put_date(utc);
    out_.put("\", \"log_type\": \"");
    out_.put(log_type);
    out_.put("\", \"level\": \"INFO\", \"account\": ");
    out_.put_uint(account);
  }

  void put_details(std::string_view text) {
    out_.put(", \"details\": \"");
    out_.put(text);
    out_.put("\"}\n");
  }

  random_source& rng_;
  std::optional<std::string> out_dir_;
  bool split_months_;
  toronto_clock clock_;
  output out_;
  std::int64_t cached_day_ = std::numeric_limits<std::int64_t>::min();
  std::array<char, 48> day_text_{};
  std::uint64_t files_ = 0;
  int file_month_ = -1;
};

}  // namespace sluice::gen::hubdoc
