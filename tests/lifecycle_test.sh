#!/usr/bin/env bash
# ./rerun.sh and ./clean.sh over a day of operations, on a copy of the scripts
# in a temp folder (so that a developer's data/ is never touched), with the
# binaries of the build folder given as $1 (SLUICE_PREBUILT):
#   1. ./rerun.sh -d loads a file;
#   2. ./rerun.sh --stop stops sluice and the embedded PostgreSQL, keeping data/;
#   3. ./rerun.sh --keep -d comes back on the same data: the file is not
#      loaded again, a new one is; `sluice reload` of the first replaces its
#      rows;
#   4. a source streaming from a cluster outside data/ (a slot there), and a
#      daemon started by hand against the embedded warehouse: ./clean.sh
#      stops that daemon too and drops the source's slot before it removes
#      the warehouse.
#   Along the way (1b, 4b): the daemon runs as sluice_loader, whose password
#   is rotated; sluice_reader reads core and reports only; no password is in
#   the daemon's log, `ps`, or anything sluice_reader can read.
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

# 1b. The daemon runs as sluice_loader; rotating its password (the README's
#     operator's day) keeps it loading now and after the restart below.
check "the daemon runs as sluice_loader" wait_for \
  "select string_agg(distinct usename::text, ',') from pg_stat_activity where application_name like 'sluice %'" sluice_loader 10
check "its jobs run as sluice_loader, without error" wait_for \
  "select count(*) filter (where last_run_at is not null and last_error is null) = count(*) from sluice.jobs" t 30
old_loader=$(head -1 data/pg/sluice_loader.password)
scripts/pg.sh password sluice_loader 2>"$work/rotate.log" || { cat "$work/rotate.log"; exit 1; }
check "rotating gives sluice_loader a new password" test "$(head -1 data/pg/sluice_loader.password)" != "$old_loader"
check "the old sluice_loader password is refused" bash -c "! PGPASSWORD='$old_loader' psql -X -w -h 127.0.0.1 \
  -p $(cat data/pg/port) -U sluice_loader -d sluice -c 'select 1' >/dev/null 2>&1"

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

# 3b. The README's reload, while the daemon (sluice_loader) runs: the file's
#     rows are replaced, not doubled, and the old ledger row says so.
"$build/app/sluice" reload hubdoc/first.log --inbox data/inbox --dsn "$(scripts/pg.sh dsn-as sluice_loader)" >"$work/reload.log" 2>&1 ||
  { cat "$work/reload.log"; exit 1; }
check "reload keeps each login once" test "$(sql "select count(*) || ' ' || count(distinct account) from staging.hubdoc_login")" = "60 60"
check "reload marks the old row reloaded" test "$(sql "select state from sluice.files where id = 1")" = reloaded
check "the reloaded rows are the new row's" test "$(sql "select count(*) from staging.hubdoc_login l join sluice.files f on f.id = l._file_id where f.reload_of = 1")" = 50

# 4. A source outside data/ and a daemon started by hand; then ./clean.sh.
sluice_throwaway_cluster >/dev/null
source_dir=$SLUICE_THROWAWAY_DIR
source_dsn=$(sluice_cluster_dsn "$source_dir")
psql -X -q -d "$source_dsn" -c "create table items (id int primary key); create publication pub for table items"
sql "insert into sluice.sources (name, conninfo, publication) values ('ext', '$source_dsn', 'pub')" >/dev/null
check "the source streams" wait_for "select state from sluice.sources" streaming 60
slot=$(sql "select slot_name from sluice.sources")

# 4b. Least privilege: sluice_reader (over TCP, its password from the .pgpass)
#     reads core and reports and nothing else; no password is in the
#     daemon's log, in `ps`, or in anything sluice_reader can read.
reader() { PGPASSFILE=data/pg/sluice_reader.pgpass psql -X -w -At -h 127.0.0.1 -p "$(cat data/pg/port)" -U sluice_reader -d sluice "$@"; }
loader() { PGPASSFILE=data/pg/sluice_loader.pgpass psql -X -w -At -h 127.0.0.1 -p "$(cat data/pg/port)" -U sluice_loader -d sluice "$@"; }
refused() {  # refused WHAT SQL: sluice_reader may not run SQL
  if reader -c "$2" >/dev/null 2>"$work/refused.err"; then echo "FAILED: $1"; failures=$((failures + 1));
  else echo "ok: $1 ($(head -1 "$work/refused.err"))"; fi
}
psql -X -q -d "$source_dsn" -c "insert into items values (1), (2)"
check "the loader's mirror reaches sluice_reader" bash -c "for i in \$(seq 100); do
  [[ \$(PGPASSFILE=data/pg/pgpass psql -X -w -At -h 127.0.0.1 -p $(cat data/pg/port) -U sluice_reader -d sluice \
    -c 'select count(*) from core.ext_items' 2>/dev/null) == 2 ]] && exit 0; sleep 0.1; done; exit 1"
check "sluice_reader reads every table and view in core and reports" reader -v ON_ERROR_STOP=1 -q -c "do \$\$
  declare r regclass; begin
  for r in select c.oid from pg_class c where c.relnamespace in ('core'::regnamespace, 'reports'::regnamespace)
             and c.relkind in ('r', 'v', 'm', 'p') loop
    execute format('select count(*) from %s', r);
  end loop; end \$\$"
refused "sluice_reader cannot read staging" "select count(*) from staging.hubdoc_login"
refused "sluice_reader cannot read sluice.sources" "select conninfo from sluice.sources"
refused "sluice_reader cannot read or change the settings" "update settings.hubdoc set as_of = null"
refused "sluice_reader cannot write reports" "delete from reports.hubdoc_signup_plans"
refused "sluice_reader cannot call sluice.status()" "select sluice.status()"
loader_refused() {  # loader_refused WHAT SQL: sluice_loader may not run SQL
  if loader -c "$2" >/dev/null 2>"$work/refused.err"; then echo "FAILED: $1"; failures=$((failures + 1));
  else echo "ok: $1 ($(head -1 "$work/refused.err"))"; fi
}
loader_refused "sluice_loader cannot change a job's command" "update sluice.jobs set command = 'select 1'"
loader_refused "sluice_loader cannot change a source's conninfo" "update sluice.sources set conninfo = 'host=/tmp'"
loader_refused "sluice_loader cannot add a source" "insert into sluice.sources (name, conninfo, publication) values ('x', 'host=/tmp', 'p')"
loader_refused "sluice_loader cannot change a feed" "update sluice.feeds set file_globs = '{x}'"
check "each role's pgpass holds its own line only" test "$(cat data/pg/sluice_reader.pgpass | wc -l)$(cut -d: -f4 data/pg/sluice_reader.pgpass)" = 1sluice_reader
reader -c "select format('copy (select * from %s) to stdout;', c.oid::regclass) from pg_class c
           where c.relkind in ('r', 'v', 'm', 'p') and has_table_privilege(c.oid, 'select')" >"$work/readable.sql"
reader -f "$work/readable.sql" >"$work/readable.txt" 2>/dev/null || true
check "the scan read what sluice_reader can read (core.ext_items among it)" grep -q "core.ext_items" "$work/readable.sql"
ps -eo args >"$work/ps.txt"
for secret in "$(head -1 data/pg/password)" "$(head -1 data/pg/sluice_loader.password)" \
              "$(head -1 data/pg/sluice_reader.password)" "$old_loader"; do
  check "no password in what sluice_reader can read (${#secret} chars)" bash -c "! grep -qF -- '$secret' '$work/readable.txt'"
  check "no password in ps (${#secret} chars)" bash -c "! grep -qF -- '$secret' '$work/ps.txt'"
  check "no password in the daemon's log (${#secret} chars)" bash -c "! grep -qF -- '$secret' data/sluice.log"
done
check "the scan read the catalogs too (pg_roles names sluice_loader)" grep -q "^sluice_loader" "$work/readable.txt"
sql "comment on table reports.hubdoc_signup_plans is 'leaked: $old_loader'" >/dev/null
reader -f "$work/readable.sql" >"$work/readable.txt" 2>/dev/null || true
check "the scan finds a password put where sluice_reader reads (a comment)" grep -qF -- "$old_loader" "$work/readable.txt"
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
