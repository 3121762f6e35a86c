#!/usr/bin/env bash
# ./rerun.sh and ./clean.sh over a day of operations, on a copy of the scripts
# in a temp folder (so that a developer's data/ is never touched), with the
# binaries of the build folder given as $1 (SLUICE_PREBUILT):
#   1. ./rerun.sh -d loads a file;
#   2. ./rerun.sh --stop stops sluice and the embedded PostgreSQL, keeping data/;
#   3. ./rerun.sh --keep -d comes back on the same data: the file is not
#      loaded again, a new one is;
#   4. a source streaming from a cluster outside data/ (a slot there), and a
#      daemon started by hand against the embedded warehouse: ./clean.sh
#      stops that daemon too and drops the source's slot before it removes
#      the warehouse.
# BUG (issue 15): ./clean.sh said "stopped sluice" while a daemon started by
# hand ran on against the deleted database, and wiping left the source's slot
# holding WAL; both ./rerun.sh and ./clean.sh wiped the warehouse, with no
# restart that kept it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=${1:?usage: lifecycle_test.sh BUILD_DIR}
source "$repo/scripts/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-lifecycle.XXXXXX")
chmod 755 "$work"
copy=$work/repo
mkdir -p "$copy/scripts"
cp "$repo/rerun.sh" "$repo/clean.sh" "$copy/"
cp "$repo"/scripts/*.sh "$repo/scripts/psql" "$copy/scripts/"
ln -s "$build" "$copy/build"
export SLUICE_PREBUILT=1 SLUICE_HTTP_PORT=0
unset SLUICE_DSN PGHOST PGHOSTADDR PGPORT PGDATABASE PGSERVICE SLUICE_BUILD_DIR
hand_pid=
source_dir=
cleanup() {
  [[ -n "$hand_pid" ]] && kill -KILL "$hand_pid" 2>/dev/null || true
  (cd "$copy" && ./clean.sh --all >/dev/null 2>&1) || true
  [[ -n "$source_dir" ]] && sluice_throwaway_cluster_remove "$source_dir"
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {  # check WHAT COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
sql() { "$copy/scripts/psql" -X -At -c "$1"; }
wait_for() {  # wait_for SQL WANT SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [[ "$(sql "$1" 2>/dev/null || true)" == "$2" ]] && return 0
    sleep 0.1
  done
  echo "waited $3 s for [$1] = $2; last: $(sql "$1" 2>&1 || true)"
  return 1
}
login() { printf '{"date": "2019-01-05T08:00:00-05:00", "log_type": "LOGIN", "level": "INFO", "account": %d, "details": "web login"}\n' "$1"; }
cd "$copy"

# 1. A clean start loads a file.
mkdir -p data/inbox/hubdoc
for i in $(seq 1 50); do login "$i"; done >data/inbox/hubdoc/first.log
./rerun.sh -d --packs hubdoc >"$work/rerun-1.log" 2>&1 || { cat "$work/rerun-1.log"; exit 1; }
check "the first file loads" wait_for "select count(*) from staging.hubdoc_login" 50 60

# 2. Stop, keeping everything.
sluice_pid=$(cat data/sluice.pid)
./rerun.sh --stop >"$work/stop.log" 2>&1
check "--stop stops sluice" bash -c "! kill -0 $sluice_pid 2>/dev/null"
check "--stop stops the embedded PostgreSQL" bash -c "scripts/pg.sh status >/dev/null 2>&1; [[ \$? == 3 ]]"
check "--stop keeps the warehouse" test -d data/pg/

# 3. Start again on the same data.
./rerun.sh --keep -d >"$work/rerun-2.log" 2>&1 || { cat "$work/rerun-2.log"; exit 1; }
check "--keep brings the rows back" wait_for "select count(*) from staging.hubdoc_login" 50 30
for i in $(seq 51 60); do login "$i"; done >data/inbox/hubdoc/second.log
check "--keep loads a new file, and the old one not again" wait_for "select count(*) from staging.hubdoc_login" 60 30
check "the ledger holds each file once" wait_for "select count(*) from sluice.files" 2 5

# 4. A source outside data/ and a daemon started by hand; then ./clean.sh.
sluice_throwaway_cluster >/dev/null
source_dir=$SLUICE_THROWAWAY_DIR
source_dsn=$(sluice_cluster_dsn "$source_dir")
psql -X -q -d "$source_dsn" -c "create table items (id int primary key); create publication pub for table items"
sql "insert into sluice.sources (name, conninfo, publication) values ('ext', '$source_dsn', 'pub')" >/dev/null
check "the source streams" wait_for "select state from sluice.sources" streaming 60
slot=$(sql "select slot_name from sluice.sources")
mkdir -p "$work/elsewhere"
"$build/app/sluice" run --dsn "$(scripts/pg.sh dsn)" --inbox "$work/elsewhere" >"$work/by-hand.log" 2>&1 &
hand_pid=$!
check "the daemon started by hand connects" wait_for \
  "select count(*) > 0 from pg_stat_activity where application_name = 'sluice $hand_pid@$(hostname | cut -c1-40)'" t 30
./clean.sh >"$work/clean.log" 2>&1
cat "$work/clean.log"
check "./clean.sh stops the daemon started by hand" bash -c "! kill -0 $hand_pid 2>/dev/null"
check "./clean.sh says so" grep -q "stopped sluice $hand_pid@" "$work/clean.log"
check "./clean.sh drops the source's slot on the source" \
  test "$(psql -X -At -d "$source_dsn" -c "select count(*) from pg_replication_slots where slot_name = '$slot'")" = 0
check "./clean.sh removes the warehouse" test ! -e data/pg
check "./clean.sh keeps the inbox" test -f data/inbox/hubdoc/first.log

if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
