// sluice-gen-sales: a fast, seeded generator of sales exports (CSV with a
// header) for tests, the sales pack and scripts/bench.sh --csv. Standard
// library only.
//
// The shape follows examples/sales/export-sample.csv:
//   SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date
// one row per sale, Price = Quantity x the product's unit price, dates in one
// month, rows out of date order (as exports are), online retailers without a
// Location. Some names need quoting (a comma, a doubled quote).
//
// Traps (--traps-every K: every K-th row, cycling through the kinds; 0: none):
//   blank_product   an empty ProductID
//   bad_price       a Price with a unit: 100USD
//   none_location   Location None
//   negative_qty    a negative Quantity (and Price)
//   slash_date      a date written 2024/02/28
//   duplicate       the previous row again, SaleID included
// The last line has no line break unless --final-newline.
//
// Output is a pure function of the arguments.

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "random_source.h"

namespace {

using sluice::gen::random_source;

constexpr std::string_view usage_text =
    R"(sluice-gen-sales: writes a seeded sales export (CSV with a header).

usage: sluice-gen-sales [--rows N] [--seed S] [--out FILE] [--traps-every K]
                        [--month YYYY-MM] [--first-id N] [--final-newline]

  --rows N          data rows (default 1000)
  --seed S          random seed (default 1); same arguments, same output
  --out FILE        where to write (default: standard output)
  --traps-every K   every K-th row is a trap, cycling through: blank ProductID,
                    Price 100USD, Location None, negative Quantity, a
                    2024/02/28-style date, a duplicate of the previous row
                    (default 500; 0: a clean file)
  --month YYYY-MM   the month the sales fall in (default 2024-02)
  --first-id N      SaleID of the first row (default 1)
  --final-newline   end the last row with a line break (default: none, as the
                    real exports)
  --help            this text

Prints one line to stderr: rows=N blank_product=.. bad_price=.. none_location=..
negative_qty=.. slash_date=.. duplicate=.. (the traps written).
)";

struct product {
  int id;
  std::string_view name;  // as written in the file (quoted when it must be)
  std::string_view brand;
  std::string_view category;
  int unit_price;
};

// The sample's five products, then a few more, two of which need quoting.
constexpr std::array<product, 10> products = {{
    {1, "Laptop", "BrandA", "Electronics", 1500},
    {2, "Coffee Maker", "BrandB", "Appliances", 100},
    {3, "Smartphone", "BrandC", "Electronics", 800},
    {4, "Desk Chair", "BrandD", "Furniture", 300},
    {5, "Blender", "BrandE", "Appliances", 200},
    {6, "\"Monitor 27\"\", 4K\"", "BrandA", "Electronics", 350},
    {7, "Standing Desk", "BrandD", "Furniture", 650},
    {8, "\"Kettle, 1.7 L\"", "BrandB", "Appliances", 45},
    {9, "Headphones", "BrandC", "Electronics", 120},
    {10, "Bookshelf", "BrandD", "Furniture", 180},
}};

struct retailer {
  int id;
  std::string_view name;
  std::string_view channel;
  std::string_view location;  // empty for online shops
};

constexpr std::array<retailer, 4> retailers = {{
    {1, "TechGear", "Online", ""},
    {2, "HomeEssentials", "Offline", "New York"},
    {3, "GadgetWorld", "Offline", "San Francisco"},
    {4, "ShopMart", "Offline", "\"Austin, TX\""},
}};

enum trap { blank_product, bad_price, none_location, negative_qty, slash_date, duplicate, trap_kinds };
constexpr std::array<std::string_view, trap_kinds> trap_names = {"blank_product", "bad_price",  "none_location",
                                                                "negative_qty",  "slash_date", "duplicate"};

struct options {
  std::uint64_t rows = 1000;
  std::uint64_t seed = 1;
  std::string out;
  std::uint64_t traps_every = 500;
  int year = 2024;
  int month = 2;
  std::uint64_t first_id = 1;
  bool final_newline = false;
};

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

void put_uint(std::string& out, std::uint64_t value) {
  char text[24];
  int n = std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(value));
  out.append(text, static_cast<std::size_t>(n));
}

bool parse_uint(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

int usage_error(const std::string& what) {
  std::fprintf(stderr, "sluice-gen-sales: %s (see --help)\n", what.c_str());
  return 2;
}

// One sale as a CSV row without its line break, with the trap `kind` built in
// (trap_kinds: a clean row; never duplicate, which repeats a row instead).
std::string sale_row(random_source& rng, const options& opts, int month_days, std::uint64_t sale_id, trap kind) {
  const auto& p = products[rng.below(products.size())];
  const auto& r = retailers[rng.below(retailers.size())];
  std::int64_t quantity = 1 + static_cast<std::int64_t>(rng.below(5));
  if (kind == negative_qty) quantity = -quantity;
  int day = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(month_days)));
  std::string row;
  put_uint(row, sale_id);
  row += ',';
  if (kind != blank_product) put_uint(row, static_cast<std::uint64_t>(p.id));
  row += ',';
  row += p.name;
  row += ',';
  row += p.brand;
  row += ',';
  row += p.category;
  row += ',';
  put_uint(row, static_cast<std::uint64_t>(r.id));
  row += ',';
  row += r.name;
  row += ',';
  row += r.channel;
  row += ',';
  row += kind == none_location ? std::string_view("None") : r.location;
  row += ',';
  if (quantity < 0) row += '-';
  put_uint(row, static_cast<std::uint64_t>(quantity < 0 ? -quantity : quantity));
  row += ',';
  if (kind == bad_price) {
    row += "100USD";
  } else {
    if (quantity < 0) row += '-';
    put_uint(row, static_cast<std::uint64_t>((quantity < 0 ? -quantity : quantity) * p.unit_price));
  }
  row += ',';
  char date[16];
  std::snprintf(date, sizeof date, kind == slash_date ? "%04d/%02d/%02d" : "%04d-%02d-%02d", opts.year,
                opts.month, day);
  row += date;
  return row;
}

// The one stderr line, so a test knows how many of each trap to expect.
void print_summary(std::uint64_t rows, const std::array<std::uint64_t, trap_kinds>& traps) {
  std::fprintf(stderr, "rows=%llu", static_cast<unsigned long long>(rows));
  for (int kind = 0; kind < trap_kinds; ++kind) {
    std::fprintf(stderr, " %s=%llu", trap_names[static_cast<std::size_t>(kind)].data(),
                 static_cast<unsigned long long>(traps[static_cast<std::size_t>(kind)]));
  }
  std::fprintf(stderr, "\n");
}

int run(const options& opts) {
  std::FILE* out = opts.out.empty() ? stdout : std::fopen(opts.out.c_str(), "wb");
  if (out == nullptr) {
    std::fprintf(stderr, "sluice-gen-sales: cannot write %s: %s\n", opts.out.c_str(), std::strerror(errno));
    return 1;
  }
  random_source rng(opts.seed);
  std::array<std::uint64_t, trap_kinds> traps{};
  std::string buffer = "SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,"
                       "Quantity,Price,Date\n";
  std::string previous;
  const int month_days = days_in_month(opts.year, opts.month);
  std::uint64_t next_id = opts.first_id;
  std::uint64_t trap_turn = 0;
  for (std::uint64_t row_idx = 0; row_idx < opts.rows; ++row_idx) {
    bool trapped = opts.traps_every > 0 && (row_idx + 1) % opts.traps_every == 0;
    trap kind = trapped ? static_cast<trap>(trap_turn++ % trap_kinds) : trap_kinds;
    if (kind == duplicate && previous.empty()) kind = blank_product;
    std::string row = kind == duplicate ? previous : sale_row(rng, opts, month_days, next_id++, kind);
    if (kind < trap_kinds) ++traps[kind];
    buffer += row;
    if (row_idx + 1 < opts.rows || opts.final_newline) buffer += '\n';
    previous = std::move(row);
    if (buffer.size() > (1 << 20)) {
      std::fwrite(buffer.data(), 1, buffer.size(), out);
      buffer.clear();
    }
  }
  std::fwrite(buffer.data(), 1, buffer.size(), out);
  bool ok = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout) ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "sluice-gen-sales: writing failed\n");
    return 1;
  }
  print_summary(opts.rows, traps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t arg_idx = 0; arg_idx < args.size(); ++arg_idx) {
    std::string_view name = args[arg_idx];
    if (name == "--help" || name == "-h") {
      std::fputs(usage_text.data(), stdout);
      return 0;
    }
    if (name == "--final-newline") {
      opts.final_newline = true;
      continue;
    }
    if (name != "--rows" && name != "--seed" && name != "--out" && name != "--traps-every" && name != "--month" &&
        name != "--first-id") {
      return usage_error("unknown option '" + std::string(name) + "'");
    }
    if (arg_idx + 1 >= args.size()) return usage_error(std::string(name) + " needs a value");
    std::string_view v = args[++arg_idx];
    if (name == "--out") {
      opts.out = std::string(v);
    } else if (name == "--month") {
      std::uint64_t y = 0, m = 0;
      if (v.size() != 7 || v[4] != '-' || !parse_uint(v.substr(0, 4), y) || !parse_uint(v.substr(5), m) || m < 1 ||
          m > 12) {
        return usage_error("--month takes YYYY-MM, got '" + std::string(v) + "'");
      }
      opts.year = static_cast<int>(y);
      opts.month = static_cast<int>(m);
    } else {
      std::uint64_t value = 0;
      if (!parse_uint(v, value)) return usage_error(std::string(name) + " takes a number, got '" + std::string(v) + "'");
      if (name == "--rows") opts.rows = value;
      else if (name == "--seed") opts.seed = value;
      else if (name == "--traps-every") opts.traps_every = value;
      else opts.first_id = value;
    }
  }
  return run(opts);
}
