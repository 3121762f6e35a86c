#include "sluice/warehouse/migrate.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <span>
#include <stdexcept>
#include <utility>

#include "sluice/warehouse/log.h"

namespace sluice::warehouse {

namespace detail {
std::span<const std::pair<std::string_view, std::string_view>> embedded_sql();
}

namespace {

// Key of the session advisory lock that serializes migrations.
constexpr std::string_view lock_key = "7307731203";

std::string hex64(std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[value & 0xf];
    value >>= 4;
  }
  return out;
}

int version_of(std::string_view name) {
  auto slash = name.rfind('/');
  auto base = name.substr(slash == std::string_view::npos ? 0 : slash + 1);
  std::size_t digits = 0;
  while (digits < base.size() && std::isdigit(static_cast<unsigned char>(base[digits]))) ++digits;
  if (digits == 0 || digits >= base.size() || base[digits] != '_') {
    throw std::logic_error("migration file sql/" + std::string(name) +
                           " must be named NNNN_description.sql");
  }
  return std::stoi(std::string(base.substr(0, digits)));
}

}  // namespace

std::vector<migration> embedded_migrations() {
  std::vector<migration> out;
  for (const auto& [name, sql] : detail::embedded_sql()) {
    out.push_back({version_of(name), std::string(name), sql,
                   hex64(XXH3_64bits(sql.data(), sql.size()))});
  }
  std::sort(out.begin(), out.end(),
            [](const migration& a, const migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      throw std::logic_error("migrations sql/" + out[i - 1].name + " and sql/" + out[i].name +
                             " share version " + std::to_string(out[i].version));
    }
  }
  return out;
}

migrate_outcome migrate(connection& conn) {
  auto log = logger();
  auto migrations = embedded_migrations();
  conn.exec("select pg_advisory_lock(" + std::string(lock_key) + ")");
  struct unlock {
    connection& conn;
    ~unlock() {
      try {
        if (conn.is_open()) conn.exec("select pg_advisory_unlock_all()");
      } catch (...) {
      }
    }
  } unlock_at_exit{conn};

  std::map<int, std::string> applied;  // version -> checksum
  auto exists = conn.exec("select to_regclass('sluice.migrations') is not null");
  if (exists.text(0, 0) == "t") {
    auto rows = conn.exec("select version, checksum from sluice.migrations");
    for (int row = 0; row < rows.rows(); ++row) {
      applied.emplace(static_cast<int>(rows.int64(row, 0)), std::string(rows.text(row, 1)));
    }
  }

  migrate_outcome outcome;
  for (const auto& m : migrations) {
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second != m.checksum) {
        throw db_error(error_kind::schema, "",
                       "migration sql/" + m.name + " was changed after it was applied to " +
                           conn.target() +
                           "; add a new migration instead (or start from a fresh database: ./rerun.sh)");
      }
      ++outcome.already_applied;
      continue;
    }
    log->info("applying migration sql/{}", m.name);
    transaction tx(conn);
    try {
      conn.exec(m.sql);
    } catch (const db_error& e) {
      throw db_error(e.kind(), e.sqlstate(), "migration sql/" + m.name + ": " + e.what());
    }
    conn.exec_params(
        "insert into sluice.migrations (version, name, checksum) values ($1, $2, $3)",
        {std::to_string(m.version), m.name, m.checksum});
    tx.commit();
    ++outcome.applied;
  }
  return outcome;
}

}  // namespace sluice::warehouse
