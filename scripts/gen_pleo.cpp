// sluice-gen-pleo: a fast, seeded generator of Pleo-shaped event files for
// tests and demos. Standard library only.
//
// The shape follows examples/pleo/: one file per event, named
// <event_id>.json, written in place (as the services do), pretty-printed the
// way Python's json.dump(event, f, indent=2) prints it: two-space indent,
// a bare "," at line ends, ": " after keys, \n escapes in strings, floats as
// Python's repr, and no newline at the end. Key order as in the samples: a
// user event is metadata then payload, a card event payload then metadata.
//
// The simulation: the users service writes users 0..N-1, one event each; the
// cards service writes M events: about 40% new cards with a user, 5% new cards
// without user_id, the rest changes of an existing card (picked uniformly:
// same id, user, creator and created_at; new event id, updated_at and active).
// A change of a card created without user_id lacks it too. A new card's user
// is uniform over 0..N-1, or with a 2% chance N (1000 with --users 1000, as in
// the real service), whom no user event describes. Both services emit a few
// events per second, so several changes of one card can share a second. The
// cards service also keeps the next card id in cards/__id_counter, which is
// no event.
//
// Output is a pure function of the arguments (own RNG and number formatting,
// so the same seed gives the same bytes with any standard library).

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "civil_date.h"
#include "random_source.h"

namespace {

constexpr std::string_view usage_text =
    R"(sluice-gen-pleo: writes seeded, Pleo-shaped event files (one JSON event per file).

usage: sluice-gen-pleo --out DIR [--users N] [--cards M] [--seed S] [--shuffle-names]

  --out DIR          write DIR/users/<event_id>.json, DIR/cards/<event_id>.json and
                     DIR/cards/__id_counter (directories created if missing)
  --users N          users 0..N-1, one event each (default 1000)
  --cards M          card events (default 10000): ~40% new cards, ~5% new cards
                     without user_id, the rest changes of an existing card
                     (changes of a card without user_id lack it too); 2% of
                     new cards name user N, whom no user event describes
  --seed S           random seed (default 1); same arguments, same output
  --shuffle-names    write the files in a random order instead of event order,
                     so that neither the order of their names (random UUIDs
                     either way) nor their modification times follow the events
  --help             this text

Prints one line to stdout: users=N cards=M cards_without_user=K, where K card
events lack user_id (the loader rejects them). Files are written in place, as
the Pleo services do; the loader reads a JSON file once it has settled.
)";

using sluice::gen::civil_from_days;
using sluice::gen::random_source;
using sluice::gen::seconds_per_day;

// ---------------------------------------------------------------------------
// Formatting.

// 2026-01-05 09:00:00 UTC: the services' clocks start here.
constexpr std::int64_t start_time = 1767603600;
// Each event moves its service's clock on by one second with this chance: a
// few events per second, so same-second changes of a card happen.
constexpr double tick_chance = 0.25;
// The card event mix.
constexpr double new_card_chance = 0.40;
constexpr double new_card_without_user_chance = 0.05;
// Share of new cards whose user (id N) no user event describes. The real
// service picks 0..1000 uniformly (1 in 1001); 2% makes sure a small run has
// some.
constexpr double unknown_user_chance = 0.02;

// "YYYY-MM-DD HH:MM:SS" of seconds since 1970-01-01 UTC.
void put_timestamp(std::string& out, std::int64_t utc) {
  const std::int64_t days = utc / seconds_per_day;  // utc is after 1970
  const auto second_of_day = static_cast<unsigned>(utc - days * seconds_per_day);
  const auto [year, month, day] = civil_from_days(days);
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02u %02u:%02u:%02u", year, month, day,
                second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
  out.append(text.data(), 19);
}

void put_uint(std::string& out, std::uint64_t value) {
  std::array<char, 24> text{};
  const auto result = std::to_chars(text.data(), text.data() + text.size(), value);
  out.append(text.data(), result.ptr);
}

// A JSON string as Python's json.dumps writes it (ensure_ascii; the text here
// is ASCII).
void put_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 16> escape{};
          std::snprintf(escape.data(), escape.size(), "\\u%04x", static_cast<unsigned>(c));
          out += escape.data();
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// A double as Python's repr() writes it: the shortest digits that read back
// the same (std::to_chars gives those), in positional notation when the
// decimal exponent is in [-4, 16), else as d.ddde-XX.
void put_float(std::string& out, double value) {
  std::array<char, 40> text{};
  const auto result = std::to_chars(text.data(), text.data() + text.size(), value, std::chars_format::scientific);
  const std::string_view sci(text.data(), static_cast<std::size_t>(result.ptr - text.data()));
  const std::size_t e = sci.find('e');
  std::string_view mantissa = sci.substr(0, e);
  if (!mantissa.empty() && mantissa.front() == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  const std::string_view exponent_text = sci.substr(e + 1);
  std::from_chars(exponent_text.data() + (exponent_text.front() == '+' ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      const auto integer_digits = static_cast<std::size_t>(exponent) + 1;
      if (digits.size() <= integer_digits) {
        out += digits;
        out.append(integer_digits - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, integer_digits);
        out += '.';
        out.append(digits, integer_digits);
      }
    }
    return;
  }
  out += digits.front();
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1);
  }
  std::array<char, 16> exp_text{};
  std::snprintf(exp_text.data(), exp_text.size(), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_text.data();
}

// A version 4 UUID, lower-case, from the RNG.
std::string make_uuid(random_source& rng) {
  const std::uint64_t high = rng.next();
  const std::uint64_t low = rng.next();
  std::array<char, 40> text{};
  std::snprintf(text.data(), text.size(), "%08llx-%04llx-4%03llx-%04llx-%012llx",
                static_cast<unsigned long long>(high >> 32),
                static_cast<unsigned long long>((high >> 16) & 0xffff),
                static_cast<unsigned long long>(high & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((low >> 48) & 0x3fff)),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text.data();
}

// ---------------------------------------------------------------------------
// The two services.

constexpr std::array<std::string_view, 10> first_names = {"Ada", "Bo", "Cy", "Di", "Ed",
                                                          "Flo", "Gus", "Jo", "Lou", "Max"};
constexpr std::array<std::string_view, 8> last_names = {"Moe", "Jones", "Holm", "Smith",
                                                        "Berg", "Lund", "Park", "Roy"};
constexpr std::array<std::string_view, 6> jobs = {"Nurse", "Engineer", "Pilot",
                                                  "Teacher", "Chef", "Accountant"};

struct options {
  std::string out_dir;
  std::uint64_t users = 1000;
  std::uint64_t cards = 10000;
  std::uint64_t seed = 1;
  bool shuffle = false;
};

struct card {
  std::uint64_t id;
  std::optional<std::uint64_t> user_id;
  std::string created_by_name;
  std::int64_t created_at;
};

struct event_file {
  std::string path;
  std::string content;
};

class generator {
 public:
  explicit generator(const options& opts) : opts_(opts), rng_(opts.seed) {}

  int run() {
    const std::string users_dir = opts_.out_dir + "/users";
    const std::string cards_dir = opts_.out_dir + "/cards";
    for (const auto& dir : {users_dir, cards_dir}) {
      std::error_code error;
      std::filesystem::create_directories(dir, error);
      if (error) return fail("cannot create " + dir + ": " + error.message());
    }

    std::int64_t users_clock = start_time;
    for (std::uint64_t user_id = 0; user_id < opts_.users; ++user_id) {
      if (rng_.chance(tick_chance)) ++users_clock;
      if (!emit(users_dir, user_event(user_id, users_clock))) return 1;
    }

    std::int64_t cards_clock = start_time;
    std::uint64_t without_user = 0;
    for (std::uint64_t event_idx = 0; event_idx < opts_.cards; ++event_idx) {
      if (rng_.chance(tick_chance)) ++cards_clock;
      // A change when there is no card yet creates one instead (with a user).
      const double pick = rng_.uniform();
      const bool without = pick >= new_card_chance && pick < new_card_chance + new_card_without_user_chance;
      const bool is_new = without || pick < new_card_chance || cards_.empty();
      std::size_t card_idx = 0;
      if (is_new) {
        std::optional<std::uint64_t> user_id;
        if (!without) user_id = rng_.chance(unknown_user_chance) ? opts_.users : rng_.below(opts_.users);
        cards_.push_back({cards_.size(), user_id, full_name(), cards_clock});
        card_idx = cards_.size() - 1;
      } else {
        card_idx = static_cast<std::size_t>(rng_.below(cards_.size()));
      }
      const card& c = cards_[card_idx];
      const bool active = is_new || rng_.chance(0.5);  // new cards start active
      if (!c.user_id) ++without_user;
      if (!emit(cards_dir, card_event(c, cards_clock, active))) return 1;
    }

    if (opts_.shuffle) {
      // Fisher-Yates with our RNG, so the order is the same on every platform.
      for (std::size_t idx = pending_.size(); idx > 1; --idx) {
        std::swap(pending_[idx - 1], pending_[static_cast<std::size_t>(rng_.below(idx))]);
      }
      for (const auto& file : pending_) {
        if (!write_file(file.path, file.content)) return 1;
      }
    }
    std::string counter;
    put_uint(counter, cards_.size());
    if (!write_file(cards_dir + "/__id_counter", counter)) return 1;

    std::printf("users=%llu cards=%llu cards_without_user=%llu\n",
                static_cast<unsigned long long>(opts_.users), static_cast<unsigned long long>(opts_.cards),
                static_cast<unsigned long long>(without_user));
    return 0;
  }

 private:
  static int fail(const std::string& message) {
    std::fprintf(stderr, "sluice-gen-pleo: %s\n", message.c_str());
    return 1;
  }

  std::string full_name() {
    std::string name(first_names[rng_.below(first_names.size())]);
    name += ' ';
    name += last_names[rng_.below(last_names.size())];
    return name;
  }

  event_file user_event(std::uint64_t user_id, std::int64_t at) {
    const std::string event_id = make_uuid(rng_);
    std::string out;
    out.reserve(320);
    out += "{\n  \"metadata\": {\n    \"type\": \"user\",\n    \"event_at\": \"";
    put_timestamp(out, at);
    out += "\",\n    \"event_id\": ";
    put_string(out, event_id);
    out += "\n  },\n  \"payload\": {\n    \"id\": ";
    put_uint(out, user_id);
    out += ",\n    \"name\": ";
    put_string(out, full_name());
    std::string address;
    put_uint(address, 1 + rng_.below(999));
    address += " Main St.\nTown ";
    put_uint(address, 1 + rng_.below(99));
    address += ", ST ";
    std::array<char, 32> zip{};
    std::snprintf(zip.data(), zip.size(), "%05llu", static_cast<unsigned long long>(rng_.below(100000)));
    address += zip.data();
    out += ",\n    \"address\": ";
    put_string(out, address);
    out += ",\n    \"job\": ";
    put_string(out, jobs[rng_.below(jobs.size())]);
    out += ",\n    \"score\": ";
    put_float(out, rng_.uniform());
    out += "\n  }\n}";
    return {event_id, std::move(out)};
  }

  event_file card_event(const card& c, std::int64_t at, bool active) {
    const std::string event_id = make_uuid(rng_);
    std::string out;
    out.reserve(340);
    out += "{\n  \"payload\": {\n    \"id\": ";
    put_uint(out, c.id);
    if (c.user_id) {
      out += ",\n    \"user_id\": ";
      put_uint(out, *c.user_id);
    }
    out += ",\n    \"created_by_name\": ";
    put_string(out, c.created_by_name);
    out += ",\n    \"updated_at\": \"";
    put_timestamp(out, at);
    out += "\",\n    \"created_at\": \"";
    put_timestamp(out, c.created_at);
    out += "\",\n    \"active\": ";
    out += active ? "true" : "false";
    out += "\n  },\n  \"metadata\": {\n    \"type\": \"card\",\n    \"event_at\": \"";
    put_timestamp(out, at);
    out += "\",\n    \"event_id\": ";
    put_string(out, event_id);
    out += "\n  }\n}";
    return {event_id, std::move(out)};
  }

  // Writes the event now, or keeps it for the shuffled write at the end.
  bool emit(const std::string& dir, event_file file) {
    file.path = dir + "/" + file.path + ".json";
    if (opts_.shuffle) {
      pending_.push_back(std::move(file));
      return true;
    }
    return write_file(file.path, file.content);
  }

  static bool write_file(const std::string& path, const std::string& content) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
      std::fprintf(stderr, "sluice-gen-pleo: cannot write %s\n", path.c_str());
      return false;
    }
    const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
    if (std::fclose(file) != 0 || !written) {
      std::fprintf(stderr, "sluice-gen-pleo: cannot write %s\n", path.c_str());
      return false;
    }
    return true;
  }

  options opts_;
  random_source rng_;
  std::vector<card> cards_;
  std::vector<event_file> pending_;
};

// ---------------------------------------------------------------------------
// Command line.

bool parse_uint(std::string_view text, std::uint64_t& value) {
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "sluice-gen-pleo: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t arg_idx = 0; arg_idx < args.size(); ++arg_idx) {
    std::string_view name = args[arg_idx];
    std::optional<std::string_view> inline_value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "--help" || name == "-h") {
      std::fputs(usage_text.data(), stdout);
      return 0;
    }
    if (name == "--shuffle-names") {
      opts.shuffle = true;
      continue;
    }
    constexpr std::array<std::string_view, 4> valued = {"--out", "--users", "--cards", "--seed"};
    if (std::find(valued.begin(), valued.end(), name) == valued.end()) {
      return usage_error("unknown option '" + std::string(name) + "'");
    }
    std::optional<std::string_view> v = inline_value;
    if (!v && arg_idx + 1 < args.size()) v = args[++arg_idx];
    if (!v) return usage_error(std::string(name) + " needs a value");
    if (name == "--out") {
      if (v->empty()) return usage_error("--out needs a directory");
      opts.out_dir = std::string(*v);
    } else if (name == "--users") {
      // Card and user ids are JSON integers the staging tables hold as integer.
      if (!parse_uint(*v, opts.users) || opts.users == 0 || opts.users > 2'000'000'000) {
        return usage_error("--users takes a number from 1 to 2000000000, got '" + std::string(*v) + "'");
      }
    } else if (name == "--cards") {
      if (!parse_uint(*v, opts.cards) || opts.cards > 2'000'000'000) {
        return usage_error("--cards takes a number up to 2000000000, got '" + std::string(*v) + "'");
      }
    } else if (!parse_uint(*v, opts.seed)) {
      return usage_error("--seed takes a number, got '" + std::string(*v) + "'");
    }
  }
  if (opts.out_dir.empty()) return usage_error("say where to write: --out DIR");
  generator gen(opts);
  return gen.run();
}
