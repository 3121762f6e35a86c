// Migrations: the SQL files under sql/ (embedded in the binary at build time),
// named <pack>/NNNN_name.sql, applied once each in NNNN order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/warehouse/connection.h"

namespace sluice::warehouse {

struct migration {
  int version;
  std::string name;      // path under sql/, e.g. "hubdoc/0101_staging.sql"
  std::string_view sql;  // static storage
  std::string checksum;  // hex XXH3-64 of sql
};

// Every embedded migration, sorted by version. Throws std::logic_error when two
// files share a version or a name lacks the NNNN_ prefix (a build mistake).
[[nodiscard]] std::vector<migration> embedded_migrations();

struct migrate_outcome {
  int applied = 0;
  int already_applied = 0;
};

// Applies what is missing, each file in its own transaction, under an advisory
// lock so that two processes migrating at once take turns. Throws db_error on
// failure (the failing file is named; earlier files stay applied), and
// db_error(kind::schema) when an applied file's checksum differs from the
// embedded one (a released migration was edited: add a new file instead).
migrate_outcome migrate(connection& conn);

}  // namespace sluice::warehouse
