#!/usr/bin/env bash
# Run one SQL test file in a fresh, migrated database.
#
#   SLUICE_TEST_DSN='host=... port=... user=...' tests/sql/run_sql_test.sh SLUICE_BINARY TEST_FILE
#
# SLUICE_TEST_DSN is a libpq key=value conninfo for a maintenance database of the
# server under test. The script creates a database with a random name, migrates
# it with `SLUICE_BINARY migrate`, runs TEST_FILE with psql (ON_ERROR_STOP: the
# first failing statement fails the test), and drops the database on every exit.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: SLUICE_TEST_DSN=<conninfo> $0 SLUICE_BINARY TEST_FILE" >&2
  exit 2
fi
sluice_binary=$1
test_file=$2
: "${SLUICE_TEST_DSN:?set SLUICE_TEST_DSN to a libpq conninfo of the test server, e.g. host=/tmp port=5432 user=postgres}"
[[ -r $test_file ]] || { echo "$0: cannot read test file $test_file" >&2; exit 2; }

sql_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../sql" && pwd)
db="sluice_sqltest_$(date +%s)_${RANDOM}${RANDOM}"
# Later keywords win in a conninfo string, so this overrides any dbname in the DSN.
test_dsn="$SLUICE_TEST_DSN dbname=$db"

admin() { psql -X -q -v ON_ERROR_STOP=1 -d "$SLUICE_TEST_DSN" "$@"; }

admin -c "create database $db"
drop_db() {
  admin -c "drop database if exists $db with (force)" >/dev/null || \
    echo "$0: could not drop test database $db; drop it by hand" >&2
}
trap drop_db EXIT

if [[ -x $sluice_binary ]]; then
  "$sluice_binary" migrate --dsn "$test_dsn"
else
  # Fallback while the sluice binary is not built (or not there): apply every
  # pack as a new warehouse's `sluice migrate` does (the sluice pack first, then
  # the others by name, each pack's sql/<pack>/NNNN_*.sql by version, each file
  # in its own transaction), without its sluice.packs bookkeeping.
  echo "$0: $sluice_binary not found; applying sql/ with psql instead" >&2
  for migration in $(cd "$sql_dir" && ls */*.sql | sort -t/ -k1,1 -k2,2n |
                     awk -F/ '$1 == "sluice" { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }'); do
    psql -X -q -v ON_ERROR_STOP=1 -1 -d "$test_dsn" -f "$sql_dir/$migration"
  done
fi

psql -X -q -v ON_ERROR_STOP=1 -d "$test_dsn" -f "$test_file"
echo "$(basename "$test_file"): passed"
