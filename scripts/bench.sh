#!/usr/bin/env bash
# scripts/bench.sh — sluice's load speed against psql's binary COPY of the very
# same rows, and sluice's peak memory. A benchmark, not a test.
#
# usage: scripts/bench.sh [--events N] [--runs R] [--seed S] [--dsn DSN]
#                         [--sluice PATH] [--keep]
#        scripts/bench.sh --memory-check [SIZE_GB] [--dsn DSN] [--seed S]
#        scripts/bench.sh --files [--runs R] [--dsn DSN] [--seed S]
#        scripts/bench.sh --csv [--csv-rows N] [--runs R] [--dsn DSN] [--seed S]
#                               [--sluice-args "ARGS"]
#        scripts/bench.sh --cdc [--runs R] [--cdc-seconds T] [--cdc-scale S]
#                               [--snapshot-scale S] [--lag-rate N] [--lag-seconds T]
#                               [--cdc-clients C] [--cdc-parts LIST]
#        scripts/bench.sh --freshness [--freshness-files N]
#
#   --events N       events to generate (default 1000000), as monthly files
#   --runs R         runs (default 3); the median of each figure is reported
#   --seed S         generator seed (default 1)
#   --dsn DSN        a server to use (a superuser on a maintenance database);
#                    default: a throwaway cluster, fsync on, deleted afterwards
#   --sluice PATH    benchmark this binary instead of build/app/sluice
#   --keep           keep the work dir and the bench databases
#   --memory-check [SIZE_GB]
#                    load one ~SIZE_GB file (default 2) and report peak RSS
#   --files          the one-event-file case: 20,000 and 80,000 pretty-printed
#                    Pleo events, one file each (sluice-gen-pleo), loaded by
#                    `sluice run --once` into a warehouse with the pleo pack;
#                    reports files/s and how the time grows (targets: >= 3,000
#                    files/s at 20,000; 80,000 in at most 4.6x that time)
#   --csv            the CSV case: one generated sales export (sluice-gen-sales,
#                    12 columns, --csv-rows rows, default 1,000,000, ~87 MB,
#                    no traps: psql's COPY stops at the first bad row) loaded
#                    per run by `sluice run --once` into staging.bench_sales
#                    (a bench-only feed in a fresh database with the sluice
#                    pack only), then in the same database by
#                    `psql \copy staging_copy FROM file (format csv, header)`
#                    into an identical table; also by a Python csv + psycopg2
#                    COPY loader and by pgloader when they are installed
#                    (apt-get install python3-psycopg2 pgloader), else their
#                    column says why not. Reports seconds per loader (median of
#                    runs) and sluice's speed relative to psql's \copy
#                    (target: >= 0.9)
#   --sluice-args "ARGS"  extra arguments for `sluice run --once` in --csv
#                    (e.g. "--batch-mb 16"); default: none, what users get
#   --cdc            change data capture: sluice vs a native subscription
#                    (PostgreSQL's logical replication) on the same pgbench work,
#                    between two throwaway clusters (a source, fsync off, and a
#                    warehouse, fsync on; --dsn is not used). Three parts
#                    (--cdc-parts backlog,snapshot,lag, default all), medians of
#                    --runs runs, with the load average beside every figure:
#                    1. backlog: pgbench -T T (--cdc-seconds, default 20) on
#                    scale S (--cdc-scale, default 1) with both consumers stopped
#                    (ALTER SUBSCRIPTION DISABLE; sluice not running), then each
#                    timed alone until its slot's confirmed_flush_lsn reaches the
#                    source's WAL end (sluice: `sluice run --once`, its initial
#                    copy done before and not timed); target >= 1.0x.
#                    2. snapshot of pgbench scale --snapshot-scale (default 10):
#                    CREATE SUBSCRIPTION until every table is ready ('r') vs the
#                    first `sluice run --once` until sluice.sources says
#                    streaming; target >= 1.0x.
#                    3. lag: pgbench -R N (--lag-rate, default 1000) for
#                    --lag-seconds (default 30) with the sluice daemon running:
#                    per source transaction, warehouse commit time minus source
#                    commit time (commit timestamps), p50 and p99 (target p99 <
#                    100 ms); the native subscription's alike as a reference.
#                    And sluice's peak RSS in each part. pgbench_history has no
#                    primary key: the source gets REPLICA IDENTITY FULL on it.
#                    pgbench runs with -c C (--cdc-clients, default 4) -j 2.
#   --freshness      how soon a dropped file reaches its pack's report, with the
#                    daemon running (`sluice run`, default settings) on a
#                    throwaway warehouse (fsync on, track_commit_timestamp on):
#                    N files (--freshness-files, default 200) per pack, written
#                    one at a time into the inbox and closed; per file, the
#                    commit time of the report row it changed
#                    (pg_xact_commit_timestamp of its xmin) minus the time the
#                    file was closed; p50, p99 and max per pack. hubdoc: a
#                    SIGN_UP each, seen in reports.hubdoc_signup_plans (a report
#                    job's work); orders: a one-line CSV export each, seen in
#                    reports.orders_daily (statement triggers). Target: p99 < 1 s.
#
# Per run: (a) a fresh database, `sluice migrate`, then `sluice run --once` over
# the generated files, timed (wall clock) with its peak RSS (/usr/bin/time);
# staging triggers and due jobs run as part of it, as in production. Two
# figures come from it: the load phase (files to committed staging rows, with
# the triggers; from sluice's summary line) and the whole command (start-up,
# load, the report jobs' first run).
# (b) the rows sluice put in each staging table are dumped with
# COPY ... TO STDOUT (FORMAT binary), and loaded into bench.<table> (LIKE
# staging.<table> INCLUDING ALL) by one psql session with \copy ... (FORMAT
# binary), one transaction per table; the whole session is timed.
# Target: the load phase at >= 0.8 x COPY rows/s; peak RSS < 200 MB on 2 GB.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(sluice_repo_root)

usage() { sluice_usage "${BASH_SOURCE[0]}"; }

events=1000000
runs=3
seed=1
dsn=
dsn_given=false
sluice=
keep=false
memory_gb=
files_case=false
csv_case=false
csv_rows=1000000
sluice_args=
cdc_case=false
cdc_seconds=20
cdc_scale=1
cdc_snapshot_scale=10
cdc_lag_rate=1000
cdc_lag_seconds=30
cdc_clients=4
cdc_parts=backlog,snapshot,lag
freshness_case=false
freshness_files=200
while (($#)); do
  case "$1" in
    --events) events=${2:?--events needs a number}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --seed) seed=${2:?--seed needs a number}; shift ;;
    --dsn) dsn=${2?--dsn needs a value}; dsn_given=true; shift ;;
    --sluice) sluice=${2:?--sluice needs a path}; shift ;;
    --keep) keep=true ;;
    --memory-check)
      memory_gb=2
      if [[ "${2:-}" =~ ^[0-9]+([.][0-9]+)?$ ]]; then memory_gb=$2; shift; fi ;;
    --files) files_case=true ;;
    --csv) csv_case=true ;;
    --csv-rows) csv_rows=${2:?--csv-rows needs a number}; shift ;;
    --sluice-args) sluice_args=${2?--sluice-args needs a value}; shift ;;
    --cdc) cdc_case=true ;;
    --cdc-seconds) cdc_seconds=${2:?--cdc-seconds needs a number}; shift ;;
    --cdc-scale) cdc_scale=${2:?--cdc-scale needs a number}; shift ;;
    --snapshot-scale) cdc_snapshot_scale=${2:?--snapshot-scale needs a number}; shift ;;
    --lag-rate) cdc_lag_rate=${2:?--lag-rate needs a number}; shift ;;
    --lag-seconds) cdc_lag_seconds=${2:?--lag-seconds needs a number}; shift ;;
    --cdc-clients) cdc_clients=${2:?--cdc-clients needs a number}; shift ;;
    --cdc-parts) cdc_parts=${2:?--cdc-parts needs a list}; shift ;;
    --freshness) freshness_case=true ;;
    --freshness-files) freshness_files=${2:?--freshness-files needs a number}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; sluice_die "unknown argument '$1'" ;;
  esac
  shift
done
[[ "$events" =~ ^[0-9]+$ && "$events" -gt 0 ]] || sluice_die "--events takes a positive number"
[[ "$runs" =~ ^[0-9]+$ && "$runs" -gt 0 ]] || sluice_die "--runs takes a positive number"
for n in "$freshness_files" "$cdc_seconds" "$cdc_scale" "$cdc_snapshot_scale" "$cdc_lag_rate" "$cdc_lag_seconds" "$cdc_clients"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || sluice_die "the --cdc numbers must be positive integers (got '$n')"
done
[[ "$cdc_parts" =~ ^(backlog|snapshot|lag)(,(backlog|snapshot|lag))*$ ]] ||
  sluice_die "--cdc-parts takes a comma-separated list of backlog, snapshot and lag"
[[ -x /usr/bin/time ]] || sluice_die "/usr/bin/time is missing (apt-get install time, or scripts/install-deps.sh)"

# --- build --------------------------------------------------------------------
echo "building ..." >&2
generators=(sluice-gen-hubdoc sluice-gen-pleo sluice-gen-sales)
if $cdc_case || $freshness_case; then generators=(); fi  # pgbench, or the bench itself, makes the work
if [[ -n "$sluice" ]]; then
  [[ -x "$sluice" ]] || sluice_die "--sluice $sluice is not an executable"
  if ((${#generators[@]})); then sluice_build "$root" quiet "${generators[@]}" || sluice_die "the build failed"; fi
else
  sluice_build "$root" quiet sluice "${generators[@]}" || sluice_die "the build failed"
  sluice=$root/build/app/sluice
fi
gen=$root/build/scripts/sluice-gen-hubdoc

# --- work dir and server ------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
databases=()
cleanup() {
  local status=$?
  trap '' INT TERM
  if declare -F cdc_teardown >/dev/null; then cdc_teardown; fi
  if declare -F freshness_teardown >/dev/null; then freshness_teardown; fi
  if ! $keep; then
    for db in "${databases[@]}"; do
      [[ -n "$db" ]] || continue
      psql -X -q -d "$dsn" -c "drop database if exists $db" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
  else
    echo "kept: $work and databases ${databases[*]}" >&2
  fi
  if [[ -n "$SLUICE_THROWAWAY_DIR" ]]; then sluice_throwaway_cluster_remove; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A throwaway cluster with commit timestamps (the lag and freshness figures
# read them); sets SLUICE_THROWAWAY_DIR.
commit_ts_cluster() {
  local profile=$1 extra=${2:-}
  sluice_throwaway_cluster "$profile"
  printf 'track_commit_timestamp = on\n%s\n' "$extra" | sluice_as_pg tee -a "$SLUICE_THROWAWAY_DIR/data/postgresql.conf" >/dev/null
  sluice_cluster_stop "$SLUICE_THROWAWAY_DIR"
  sluice_cluster_start "$SLUICE_THROWAWAY_DIR" || sluice_die "the cluster in $SLUICE_THROWAWAY_DIR did not restart"
}
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

if $freshness_case; then
  # shellcheck source=scripts/bench_freshness.sh
  source "$root/scripts/bench_freshness.sh"
  exit 0
fi

if $cdc_case; then
  # shellcheck source=scripts/bench_cdc.sh
  source "$root/scripts/bench_cdc.sh"
  exit 0
fi

if ! $dsn_given; then
  echo "starting a throwaway PostgreSQL (fsync on, as a real warehouse) ..." >&2
  sluice_throwaway_cluster durable
  dsn=$SLUICE_THROWAWAY_DSN
fi
psql -X -q -d "$dsn" -c 'select 1' >/dev/null || sluice_die "cannot connect to $dsn"


# run_sluice DB INBOX [MIGRATE ARGS...] -> sets sluice_secs (the whole --once: start-up, load, report
# jobs), load_secs (the load phase), sluice_rss_mb, loaded, rejected, tables
run_sluice() {
  local db=$1 inbox=$2 dbdsn t0 t1
  shift 2
  q "$dsn" "create database $db" >/dev/null
  databases+=("$db")
  dbdsn=$(sluice_dsn_with_db "$dsn" "$db")
  "$sluice" migrate --dsn "$dbdsn" --log-level warn "$@" >"$work/$db.migrate.log" 2>&1 || {
    cat "$work/$db.migrate.log" >&2; sluice_die "sluice migrate failed"; }
  t0=$(now)
  if ! /usr/bin/time -f '%M' -o "$work/$db.rss" \
      "$sluice" run --once --dsn "$dbdsn" --inbox "$inbox" --log-level info >"$work/$db.run.log" 2>&1; then
    tail -n 30 "$work/$db.run.log" >&2
    sluice_die "sluice run --once failed (log above)"
  fi
  t1=$(now)
  sluice_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  # The load phase alone, from sluice's summary line ("... rejected in 0.79 s; ... jobs ...").
  load_secs=$(sed -n 's/.* rejected in \([0-9.]*\) s; .*/\1/p' "$work/$db.run.log" | tail -n 1)
  [[ -n "$load_secs" ]] || sluice_die "no summary line in $work/$db.run.log"
  sluice_rss_mb=$(awk '/^[0-9]+$/ { printf "%.1f", $1 / 1024 }' "$work/$db.rss")
  mapfile -t tables < <(q "$dbdsn" "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                    where n.nspname = 'staging' and c.relkind = 'r' order by 1")
  loaded=0
  local t
  for t in "${tables[@]}"; do
    loaded=$((loaded + $(q "$dbdsn" "select count(*) from staging.\"$t\"")))
  done
  rejected=$(q "$dbdsn" "select count(*) from sluice.rejects" 2>/dev/null || echo "?")
}

# run_copy DB -> sets copy_secs: dump staging.*, then time \copy into bench.*
run_copy() {
  local db=$1 dbdsn t0 t1 t script=$work/$db.copy.sql
  dbdsn=$(sluice_dsn_with_db "$dsn" "$db")
  mkdir -p "$work/$db.dump"
  q "$dbdsn" "create schema bench" >/dev/null
  : >"$script"
  echo '\set ON_ERROR_STOP on' >>"$script"
  for t in "${tables[@]}"; do
    psql -X -q -d "$dbdsn" -c "COPY staging.\"$t\" TO STDOUT (FORMAT binary)" >"$work/$db.dump/$t.bin"
    q "$dbdsn" "create table bench.\"$t\" (like staging.\"$t\" including all)" >/dev/null
    printf 'begin;\n\\copy bench."%s" from '"'"'%s'"'"' with (format binary)\ncommit;\n' \
      "$t" "$work/$db.dump/$t.bin" >>"$script"
  done
  t0=$(now)
  psql -X -q -d "$dbdsn" -f "$script" >/dev/null
  t1=$(now)
  copy_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  rm -rf "$work/$db.dump"
  local copied=0
  for t in "${tables[@]}"; do
    copied=$((copied + $(q "$dbdsn" "select count(*) from bench.\"$t\"")))
  done
  ((copied == loaded)) || sluice_die "COPY loaded $copied rows, sluice $loaded: the comparison is void"
}

size_of() { du -sb "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }

# --- memory check -------------------------------------------------------------
if [[ -n "$memory_gb" ]]; then
  bytes=$(awk -v g="$memory_gb" 'BEGIN { printf "%d", g * 1073741824 }')
  echo "generating one ~${memory_gb} GB file ..." >&2
  "$gen" --bytes "$bytes" --seed "$seed" --out-dir "$work/inbox/hubdoc"
  input_mb=$(size_of "$work/inbox")
  echo "loading it with sluice run --once ..." >&2
  run_sluice "sluice_bench_mem_$$" "$work/inbox"
  rows_s=$(awk -v r="$loaded" -v s="$sluice_secs" 'BEGIN { printf "%.0f", r / s }')
  printf '\nmemory check: input %s MB, %s rows loaded (%s rejected) in %s s = %s rows/s\n' \
    "$input_mb" "$loaded" "$rejected" "$sluice_secs" "$rows_s"
  verdict=$(awk -v m="$sluice_rss_mb" 'BEGIN { print (m < 200 ? "under" : "OVER") }')
  printf 'sluice peak RSS: %s MB (%s the 200 MB target)\n' "$sluice_rss_mb" "$verdict"
  exit 0
fi

# --- one event per file ----------------------------------------------------------
if $files_case; then
  printf '\n%-6s %8s %9s %9s %10s\n' run files "sluice s" "load s" "files/s"
  for count in 20000 80000; do
    echo "generating $count one-event files (seed $seed) ..." >&2
    rm -rf "$work/files-$count"
    "$root/build/scripts/sluice-gen-pleo" --out "$work/files-$count/pleo" --users 1000 \
      --cards $((count - 1000)) --seed "$seed" >/dev/null
    : >"$work/files-$count.secs"
    for ((run = 1; run <= runs; run++)); do
      db=sluice_bench_files_$$_${count}_$run
      run_sluice "$db" "$work/files-$count" --packs pleo
      echo "$sluice_secs" >>"$work/files-$count.secs"
      # A restart over the same inbox: every file is in the ledger, loaded and
      # unchanged, and must be known again without being read.
      t0=$(now)
      "$sluice" run --once --dsn "$(sluice_dsn_with_db "$dsn" "$db")" --inbox "$work/files-$count" \
        --log-level warn >>"$work/$db.run.log" 2>&1 || sluice_die "the restart run failed"
      awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/files-$count.restart"
      printf '%-6s %8d %9s %9s %10.0f\n' "$run" "$count" "$sluice_secs" "$load_secs" \
        "$(awk -v n="$count" -v s="$sluice_secs" 'BEGIN { print n / s }')"
      q "$dsn" "drop database $db" >/dev/null
      databases=("${databases[@]/$db}")
    done
  done
  small=$(median <"$work/files-20000.secs"); large=$(median <"$work/files-80000.secs")
  restart=$(median <"$work/files-80000.restart")
  awk -v a="$small" -v b="$large" -v r="$restart" -v runs="$runs" 'BEGIN {
    rate = 20000 / a; growth = b / a
    printf "\nmedian of %d run(s), whole `sluice run --once` with the pleo pack:\n", runs
    printf "  20,000 files: %.2f s = %.0f files/s (%s the 3,000 files/s target)\n", a, rate, (rate >= 3000 ? "meets" : "MISSES")
    printf "  80,000 files: %.2f s = %.0f files/s, %.2fx the time of 20,000 (%s the 4.6x bound)\n", b, 80000 / b, growth, (growth <= 4.6 ? "within" : "OVER")
    printf "  restart over the 80,000 loaded files (nothing new): %.2f s\n", r
  }'
  exit 0
fi

# --- CSV: sluice vs psql \copy (format csv) and friends ---------------------------
if $csv_case; then
  [[ "$csv_rows" =~ ^[0-9]+$ && "$csv_rows" -gt 0 ]] || sluice_die "--csv-rows takes a positive number"
  echo "generating a $csv_rows-row sales export (seed $seed) ..." >&2
  mkdir -p "$work/csv-inbox/sales"
  csv_file=$work/csv-inbox/sales/export.csv
  "$root/build/scripts/sluice-gen-sales" --rows "$csv_rows" --seed "$seed" --traps-every 0 --out "$csv_file" 2>/dev/null
  input_mb=$(size_of "$csv_file")
  columns="sale_id, product_id, product_name, brand, category, retailer_id, retailer_name, channel, location, quantity, price, sold_on"
  feed_sql=$work/bench_feed.sql
  cat >"$feed_sql" <<'SQL'
create table staging.bench_sales (
  _file_id bigint not null, _record bigint not null,
  sale_id integer not null, product_id integer, product_name text, brand text, category text,
  retailer_id integer, retailer_name text, channel text, location text,
  quantity integer, price numeric(12,2), sold_on date not null);
insert into sluice.feeds (name, file_globs, format, null_strings, date_formats)
  values ('bench_sales', '{sales/*.csv}', 'csv', '{"",None}', '{YYYY-MM-DD,YYYY/MM/DD}');
insert into sluice.feed_targets (feed, route_value, target_table) values ('bench_sales', '', 'staging.bench_sales');
insert into sluice.feed_columns (feed, target_table, column_name, csv_header)
  select 'bench_sales', 'staging.bench_sales', c, h from unnest(
    '{sale_id,product_id,product_name,brand,category,retailer_id,retailer_name,channel,location,quantity,price,sold_on}'::text[],
    '{SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date}'::text[]) as m(c, h);
-- The other loaders' tables: the same columns and types; a CSV has no
-- _file_id/_record, so they default to 0 there.
create table staging_copy (like staging.bench_sales);
alter table staging_copy alter _file_id set default 0, alter _record set default 0;
create table staging_py (like staging_copy including defaults);
create table staging_pgloader (like staging_copy including defaults);
SQL
  # A Python loader as one would write it: csv.reader, each value checked and
  # converted (int, Decimal, date), good rows COPYed in 50,000-row chunks.
  py_loader=$work/load_csv.py
  cat >"$py_loader" <<'PY'
import csv, datetime, decimal, io, sys
import psycopg2
dsn, path, table = sys.argv[1:4]
cols = "sale_id,product_id,product_name,brand,category,retailer_id,retailer_name,channel,location,quantity,price,sold_on"
conn = psycopg2.connect(dsn)
cur = conn.cursor()
def nul(v): return None if v.strip() in ("", "None") else v
def day(v):
    for f in ("%Y-%m-%d", "%Y/%m/%d"):
        try: return datetime.datetime.strptime(v, f).date()
        except ValueError: pass
    raise ValueError(v)
buf, n, bad = io.StringIO(), 0, 0
out = csv.writer(buf)
def flush():
    global buf, out
    buf.seek(0)
    cur.copy_expert(f"copy {table} ({cols}) from stdin (format csv)", buf)
    conn.commit()
    buf = io.StringIO(); out = csv.writer(buf)
with open(path, newline="", encoding="utf-8") as f:
    rows = csv.reader(f)
    next(rows)
    for r in rows:
        try:
            v = [nul(x) for x in r]
            if len(v) != 12 or v[0] is None: raise ValueError("ragged or no id")
            rec = [int(v[0]), None if v[1] is None else int(v[1]), v[2], v[3], v[4],
                   None if v[5] is None else int(v[5]), v[6], v[7], v[8],
                   None if v[9] is None else int(v[9]),
                   None if v[10] is None else decimal.Decimal(v[10]).quantize(decimal.Decimal("0.01")), day(v[11])]
        except (ValueError, decimal.InvalidOperation):
            bad += 1
            continue
        out.writerow(["" if x is None else x for x in rec])
        n += 1
        if n % 50000 == 0: flush()
flush()
print(n, bad)
PY
  have_py=false; py_why="python3-psycopg2 is not installed (apt-get install python3-psycopg2)"
  if /usr/bin/python3 -c 'import psycopg2' 2>/dev/null; then have_py=true; fi
  have_pgloader=false; pgl_why="pgloader is not installed (apt-get install pgloader)"
  if command -v pgloader >/dev/null; then have_pgloader=true; fi
  # pgloader wants a URI: the throwaway cluster's socket dir and port.
  pgloader_uri() {
    local db=$1 host port
    host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$dsn"); port=$(sed -n 's/.*port=\([^ ]*\).*/\1/p' <<<"$dsn")
    if [[ "$host" == /* ]]; then printf 'postgresql://postgres@unix:%s:%s/%s\n' "$host" "${port:-5432}" "$db"
    else printf 'postgresql://postgres@%s:%s/%s\n' "${host:-localhost}" "${port:-5432}" "$db"; fi
  }
  results=$work/csv-results.tsv
  : >"$results"
  printf '\n%-6s %9s %9s %9s %9s %9s %9s %12s %12s\n' run "sluice s" "load s" "psql s" "python s" "pgload s" "RSS MB" "speed vs psql" "load vs psql"
  for ((run = 1; run <= runs; run++)); do
    db=sluice_bench_csv_$$_$run
    q "$dsn" "create database $db" >/dev/null
    databases+=("$db")
    dbdsn=$(sluice_dsn_with_db "$dsn" "$db")
    "$sluice" migrate --dsn "$dbdsn" --packs sluice --log-level warn >"$work/$db.migrate.log" 2>&1 || {
      cat "$work/$db.migrate.log" >&2; sluice_die "sluice migrate failed"; }
    psql -X -q -v ON_ERROR_STOP=1 -d "$dbdsn" -f "$feed_sql" >/dev/null
    t0=$(now)
    # shellcheck disable=SC2086 # --sluice-args is split into words on purpose
    /usr/bin/time -f '%M' -o "$work/$db.rss" "$sluice" run --once --dsn "$dbdsn" --inbox "$work/csv-inbox" \
      --log-level info $sluice_args >"$work/$db.run.log" 2>&1 || { tail -n 30 "$work/$db.run.log" >&2; sluice_die "sluice failed"; }
    t1=$(now)
    sluice_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    load_secs=$(sed -n 's/.* rejected in \([0-9.]*\) s; .*/\1/p' "$work/$db.run.log" | tail -n 1)
    rss=$(awk '/^[0-9]+$/ { printf "%.1f", $1 / 1024 }' "$work/$db.rss")
    loaded=$(q "$dbdsn" "select count(*) from staging.bench_sales")
    ((loaded == csv_rows)) || sluice_die "sluice loaded $loaded of $csv_rows rows (see $work/$db.run.log)"
    t0=$(now)
    psql -X -q -v ON_ERROR_STOP=1 -d "$dbdsn" -c "\\copy staging_copy ($columns) from '$csv_file' (format csv, header)"
    t1=$(now)
    psql_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    copied=$(q "$dbdsn" "select count(*) from staging_copy")
    ((copied == csv_rows)) || sluice_die "psql copied $copied of $csv_rows rows: the comparison is void"
    py_secs=-
    if $have_py; then
      t0=$(now)
      if /usr/bin/python3 "$py_loader" "$dbdsn" "$csv_file" staging_py >"$work/$db.py.log" 2>&1; then
        t1=$(now); py_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
      else have_py=false; py_why="the Python loader failed: $(tail -n 1 "$work/$db.py.log")"; fi
    fi
    pgl_secs=-
    if $have_pgloader; then
      cat >"$work/$db.load" <<LOAD
LOAD CSV FROM '$csv_file'
  HAVING FIELDS (sale_id, product_id, product_name, brand, category, retailer_id, retailer_name, channel, location, quantity, price, sold_on)
  INTO $(pgloader_uri "$db")?tablename=staging_pgloader
  TARGET COLUMNS (sale_id, product_id, product_name, brand, category, retailer_id, retailer_name, channel, location, quantity, price, sold_on)
  WITH skip header = 1, fields optionally enclosed by '"', fields escaped by double-quote, fields terminated by ',';
LOAD
      t0=$(now)
      if pgloader --quiet "$work/$db.load" >"$work/$db.pgloader.log" 2>&1 &&
         (( $(q "$dbdsn" "select count(*) from staging_pgloader") == csv_rows )); then
        t1=$(now); pgl_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
      else have_pgloader=false; pgl_why="pgloader did not load every row (see $work/$db.pgloader.log)"; fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$sluice_secs" "$load_secs" "$psql_secs" "$py_secs" "$pgl_secs" "$rss" >>"$results"
    awk -v r="$run" -v s="$sluice_secs" -v l="$load_secs" -v p="$psql_secs" -v y="$py_secs" -v g="$pgl_secs" -v m="$rss" 'BEGIN {
      printf "%-6s %9s %9s %9s %9s %9s %9s %12.3f %12.3f\n", r, s, l, p, y, g, m, p / s, p / l }'
    q "$dsn" "drop database $db" >/dev/null
    databases=("${databases[@]/$db}")
  done
  col() { local values; values=$(cut -f"$1" "$results" | grep -v '^-$' || true); [[ -z "$values" ]] || median <<<"$values"; }
  med_s=$(col 2); med_l=$(col 3); med_p=$(col 4); med_y=$(col 5); med_g=$(col 6); med_m=$(col 7)
  printf '%-6s %9s %9s %9s %9s %9s %9s %12.3f %12.3f\n' median "$med_s" "$med_l" "$med_p" "${med_y:--}" "${med_g:--}" "$med_m" \
    "$(awk -v p="$med_p" -v s="$med_s" 'BEGIN { print p / s }')" "$(awk -v p="$med_p" -v l="$med_l" 'BEGIN { print p / l }')"
  awk -v p="$med_p" -v s="$med_s" -v l="$med_l" -v runs="$runs" -v rows="$csv_rows" -v mb="$input_mb" \
      -v extra="${sluice_args:+, sluice run with $sluice_args}" 'BEGIN {
    r = p / s
    printf "\nmedian of %d run(s), %d rows, %s MB of CSV%s:\n", runs, rows, mb, extra
    printf "  whole `sluice run --once` %.3f s vs psql \\copy (format csv) %.3f s: sluice at %.3fx psql'"'"'s speed (%s the 0.9 target)\n", s, p, r, (r >= 0.9 ? "meets" : "MISSES")
    printf "  load phase alone (from sluice'"'"'s summary line) %.3f s: %.3fx\n", l, p / l
  }'
  if [[ -n "$med_y" ]]; then printf '  Python csv + psycopg2 COPY: %s s\n' "$med_y"; else printf '  Python csv + psycopg2: skipped: %s\n' "$py_why"; fi
  if [[ -n "$med_g" ]]; then printf '  pgloader: %s s\n' "$med_g"; else printf '  pgloader: skipped: %s\n' "$pgl_why"; fi
  exit 0
fi

# --- benchmark ----------------------------------------------------------------
echo "generating $events events (seed $seed) ..." >&2
"$gen" --events "$events" --seed "$seed" --out-dir "$work/inbox/hubdoc" --split-months
input_mb=$(size_of "$work/inbox")

results=$work/results.tsv
printf 'run\tinput_mb\trows\trejected\tsluice_s\tload_s\tload_rows_s\tcopy_s\tcopy_rows_s\tload_ratio\tend_to_end_ratio\tsluice_rss_mb\n' >"$results"
printf '\n%-6s %9s %9s %8s %9s %8s %12s %8s %12s %10s %10s %8s\n' run "input MB" rows rejected "sluice s" "load s" "load rows/s" "COPY s" "COPY rows/s" "load/COPY" "e2e/COPY" "RSS MB"
for ((run = 1; run <= runs; run++)); do
  db=sluice_bench_$$_$run
  run_sluice "$db" "$work/inbox"
  run_copy "$db"
  line=$(awk -v run="$run" -v in_mb="$input_mb" -v rows="$loaded" -v rej="$rejected" -v ss="$sluice_secs" \
             -v ls="$load_secs" -v cs="$copy_secs" -v rss="$sluice_rss_mb" 'BEGIN {
    lrs = rows / ls; crs = rows / cs
    printf "%d\t%s\t%d\t%s\t%.3f\t%.3f\t%.0f\t%.3f\t%.0f\t%.3f\t%.3f\t%s", run, in_mb, rows, rej, ss, ls, lrs, cs, crs, lrs / crs, cs / ss, rss }')
  printf '%s\n' "$line" >>"$results"
  printf '%s\n' "$line" | awk -F'\t' '{ printf "%-6s %9s %9s %8s %9s %8s %12s %8s %12s %10s %10s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
  if ! $keep; then
    q "$dsn" "drop database $db" >/dev/null
    databases=("${databases[@]/$db}")
  fi
done

col() { tail -n +2 "$results" | cut -f"$1" | median; }
med_sluice_s=$(col 5); med_load_s=$(col 6); med_load=$(col 7); med_copy_s=$(col 8); med_copy=$(col 9)
med_ratio=$(col 10); med_e2e=$(col 11); med_rss=$(col 12)
printf '%-6s %9s %9s %8s %9s %8s %12.0f %8s %12.0f %10.3f %10.3f %8s\n' median "$input_mb" "$loaded" "$rejected" \
  "$med_sluice_s" "$med_load_s" "$med_load" "$med_copy_s" "$med_copy" "$med_ratio" "$med_e2e" "$med_rss"
verdict=$(awk -v r="$med_ratio" 'BEGIN { print (r >= 0.8 ? "meets" : "MISSES") }')
printf '\nmedian of %d run(s), %d events, %s MB input:\n' "$runs" "$events" "$input_mb"
printf '  load phase: sluice %.0f rows/s vs binary COPY %.0f rows/s = %.3fx (%s the 0.8 target)\n' \
  "$med_load" "$med_copy" "$med_ratio" "$verdict"
printf '  whole `sluice run --once` (start-up, load, triggers, report jobs): %.3fx of COPY time\n' "$med_e2e"
printf '  sluice peak RSS %s MB\n' "$med_rss"
