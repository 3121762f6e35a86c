#!/usr/bin/env bash
# ./rerun.sh — the clean restart: stop what a previous rerun.sh started, wipe
# the state, build, start the warehouse, migrate, load everything in
# data/inbox/ and keep watching it.
#
# usage: ./rerun.sh [-d] [--keep] [--dsn DSN] [--packs NAME,...] [--pack-dir DIR]... [--log-level LEVEL]
#                   [--demo-source]
#        ./rerun.sh --stop
#
#   (no option)        run sluice in the foreground; Ctrl-C stops sluice and the
#                      embedded PostgreSQL this script started
#   -d, --detach       start sluice in the background and return once it is
#                      watching (log: data/sluice.log, pid: data/sluice.pid);
#                      ./clean.sh stops it
#   --keep             restart keeping everything: the embedded warehouse (and
#                      the demo shop) come back with the data they had, the
#                      daemon goes on from its ledger; nothing is wiped
#   --stop             stop what ./rerun.sh started (sluice, the embedded
#                      PostgreSQL, the demo shop) and any other sluice of this
#                      machine using the embedded warehouse; keep all data.
#                      `./rerun.sh --keep` starts it all again
#   --dsn DSN          use this PostgreSQL instead of the embedded one
#   --packs NAME,...   built-in packs to install (default: all on a new warehouse)
#   --pack-dir DIR     also install (or upgrade) your own pack from DIR; repeatable
#                      (`build/app/sluice migrate --help` tells the rules)
#   --log-level LEVEL  trace, debug, info (default), warn or error
#   --demo-source      also run a demo shop for the orders pack: a second private
#                      PostgreSQL under data/pg-source (database shop), the
#                      shop's schema and publication orders_pub from
#                      sluice-gen-orders, which keeps running in the background
#                      at SLUICE_DEMO_RATE transactions a second (default 2; log
#                      data/gen-orders.log), and the source row `shop` in
#                      sluice.sources: the orders reports move while sluice runs.
#                      Needs the orders pack (installed by default)
#   -h, --help         this text
#
# Warehouse: with no DSN configured (no --dsn, SLUICE_DSN, PGHOST, PGHOSTADDR,
# PGPORT, PGDATABASE or PGSERVICE) a private PostgreSQL cluster runs under
# data/pg; it is wiped and created afresh each time (unless --keep). Before it
# is wiped, every sluice of this machine using it is stopped and each
# replication source's slot is dropped on its source (as ./clean.sh does). With a DSN that server is
# used as it is: nothing is wiped there, the schemas are migrated.
# Files in data/inbox/ are kept (the packs' folders, e.g. data/inbox/hubdoc/, are created if missing);
# everything else under data/ is wiped. scripts/psql opens psql on the warehouse.
# SLUICE_START_TIMEOUT (seconds, default 60) bounds how long -d waits.
# The daemon serves /metrics, /healthz, /readyz, /status.json and a status page
# on http://127.0.0.1:${SLUICE_HTTP_PORT:-9187}/ (SLUICE_HTTP_PORT=off: none).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
caller_dir=$PWD  # --pack-dir paths are relative to where we were started
cd "$root"

usage() { sluice_usage "$root/rerun.sh"; }
from_caller() { if [[ $1 == /* ]]; then printf '%s\n' "$1"; else printf '%s\n' "$caller_dir/$1"; fi; }

detach=false
dsn=
dsn_given=false
log_level=()
pack_args=()
demo_source=false
keep=false
stop_only=false
while (($#)); do
  case "$1" in
    -d|--detach) detach=true ;;
    --keep) keep=true ;;
    --stop) stop_only=true ;;
    --dsn) (($# >= 2)) || sluice_die "--dsn needs a value"; dsn=$2; dsn_given=true; shift ;;
    --dsn=*) dsn=${1#--dsn=}; dsn_given=true ;;
    --packs) (($# >= 2)) || sluice_die "--packs needs a value"; pack_args+=(--packs "$2"); shift ;;
    --packs=*) pack_args+=(--packs "${1#--packs=}") ;;
    --pack-dir) (($# >= 2)) || sluice_die "--pack-dir needs a value"; pack_args+=(--pack-dir "$(from_caller "$2")"); shift ;;
    --pack-dir=*) pack_args+=(--pack-dir "$(from_caller "${1#--pack-dir=}")") ;;
    --log-level) (($# >= 2)) || sluice_die "--log-level needs a value"; log_level=(--log-level "$2"); shift ;;
    --log-level=*) log_level=(--log-level "${1#--log-level=}") ;;
    --demo-source) demo_source=true ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; sluice_die "unknown argument '$1'" ;;
  esac
  shift
done

embedded=true
if $dsn_given; then
  embedded=false
elif [[ -n "${SLUICE_DSN:-}" ]]; then
  embedded=false; dsn=$SLUICE_DSN
elif sluice_env_has_dsn; then
  embedded=false   # libpq reads the PG* variables itself
fi

stop_embedded() { if $embedded; then scripts/pg.sh stop || true; fi; }
# The demo shop (--demo-source): its generator, then its cluster.
source_pg() { env -u SLUICE_PG_PORT SLUICE_PG_NAME=pg-source scripts/pg.sh "$@"; }
stop_demo_source() {
  sluice_stop_pidfile data/gen-orders.pid 10 sluice-gen-orders
  source_pg stop || true
}

# Interrupted at any point (Ctrl-C, or a later ./rerun.sh or ./clean.sh):
# stop the loader if it runs, then the embedded PostgreSQL; exit with the
# loader's status (0 after a clean stop). Bash runs this once the command in
# hand (e.g. initdb) has finished, so nothing is left half-started.
pid=
stopping() {
  trap '' INT TERM HUP
  local status=130
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
  fi
  rm -f data/sluice.pid data/rerun.pid
  stop_demo_source
  stop_embedded
  exit "$status"
}
trap stopping INT TERM HUP

# 1. Stop what a previous rerun.sh started. A foreground rerun.sh is asked to
#    stop first (it stops its sluice and its PostgreSQL), so it cannot stop the
#    cluster we are about to start.
sluice_stop_pidfile data/rerun.pid 40 rerun.sh
sluice_stop_pidfile data/sluice.pid 30
if $embedded && ($keep || $stop_only); then
  if scripts/pg.sh status >/dev/null 2>&1; then sluice_stop_daemons "$(scripts/pg.sh dsn)" || true; fi
elif $embedded && { scripts/pg.sh status >/dev/null 2>&1 || scripts/pg.sh start >/dev/null 2>&1; }; then
  # About to be wiped (a stopped warehouse is started to be asked): every
  # sluice using it stops, and its sources' slots go too (or their SQL is printed).
  source_pg status >/dev/null 2>&1 || source_pg start >/dev/null 2>&1 || true
  sluice_release_warehouse "$root/build/app/sluice" "$(scripts/pg.sh dsn)" ||
    echo "(what is said above is left to you)" >&2
fi
stop_demo_source
scripts/pg.sh stop
if $stop_only; then
  rm -f data/rerun.pid
  echo "stopped; everything under data/ is kept (./rerun.sh --keep starts it again, ./clean.sh removes it)"
  exit 0
fi
mkdir -p data
echo "$$" >data/rerun.pid

# 2. Wipe: everything under data/ but the inbox (not with --keep).
if ! $keep; then
  scripts/pg.sh destroy
  source_pg destroy
  find data -mindepth 1 -maxdepth 1 ! -name inbox ! -name rerun.pid -exec rm -rf {} +
fi
mkdir -p data/inbox/hubdoc data/inbox/pleo/users data/inbox/pleo/cards data/inbox/orders data/inbox/order_totals \
  data/inbox/sales data/inbox/product_usage/events data/inbox/product_usage/dictionaries

# 3. Build (quiet unless it fails); every generator the README names too, for
# trying things out.
echo "building sluice ..."
sluice_build "$root" quiet sluice sluice-gen-hubdoc sluice-gen-orders sluice-gen-pleo sluice-gen-sales \
  sluice-gen-product-usage ||
  sluice_die "the build failed (output above)"
sluice=$root/build/app/sluice

# 4. The warehouse.
if $embedded; then
  echo "starting the embedded PostgreSQL (data/pg) ..."
  # (--keep: the cluster there is started as it is; init only makes a missing one.)
  if ! $keep || [[ $(scripts/pg.sh status >/dev/null 2>&1; echo $?) == 4 ]]; then scripts/pg.sh init 2>/dev/null; fi
  scripts/pg.sh start
  dsn=$(scripts/pg.sh dsn)
fi
# scripts/psql reads the DSN from here (empty: the PG* variables).
(umask 077 && printf '%s\n' "$dsn" >data/dsn)
dsn_args=()
[[ -n "$dsn" ]] && dsn_args=(--dsn "$dsn")

# 5. Migrate.
echo "migrating ..."
if ! "$sluice" migrate "${dsn_args[@]}" "${pack_args[@]}" "${log_level[@]}"; then
  stop_embedded
  rm -f data/rerun.pid
  sluice_die "sluice migrate failed (output above)"
fi

# The embedded warehouse's daemon runs as sluice_loader (made by migrate),
# with a password of its own given the first time (kept 0600 in data/pg/).
daemon_dsn_args=("${dsn_args[@]}")
if $embedded; then
  cluster=$(readlink -f data/pg)
  for role in sluice_loader sluice_reader; do
    if [[ ! -s "$cluster/$role.password" ]]; then
      scripts/pg.sh password "$role" 2>data/password.log || { cat data/password.log >&2; stop_embedded; rm -f data/rerun.pid; sluice_die "could not give $role a password (output above)"; }
    fi
  done
  daemon_dsn_args=(--dsn "$(scripts/pg.sh dsn-as sluice_loader)")
fi

# 6. The demo shop: schema, publication and a first few orders (the initial
#    snapshot takes them), then a steady workload in the background.
#    With --keep, a demo shop that exists goes on as it was (its source row too).
demo_kept=false
if $demo_source && $keep && [[ $(source_pg status >/dev/null 2>&1; echo $?) != 4 ]]; then demo_kept=true; fi
if $demo_source; then
  echo "starting the demo shop (data/pg-source, database shop) ..."
  $demo_kept || source_pg init 2>/dev/null
  source_pg start
  source_dsn=$(source_pg dsn)
  gen_orders=$root/build/scripts/sluice-gen-orders
  if ! $demo_kept; then
    "$gen_orders" --dsn "$source_dsn" --rate 50 --seconds 2 --seed 1 >data/gen-orders.log 2>&1 ||
      { cat data/gen-orders.log >&2; sluice_die "sluice-gen-orders could not set up the demo shop"; }
  fi
  setsid "$gen_orders" --dsn "$source_dsn" --rate "${SLUICE_DEMO_RATE:-2}" --seconds 0 --seed 2 \
    >>data/gen-orders.log 2>&1 </dev/null &
  echo "$!" >data/gen-orders.pid
  psql_target=()
  [[ -n "$dsn" ]] && psql_target=(-d "$dsn")
  if ! $demo_kept && ! psql -X -q -v ON_ERROR_STOP=1 "${psql_target[@]}" -v conninfo="$source_dsn" >/dev/null <<'SQL'
insert into sluice.sources (name, conninfo, publication) values ('shop', :'conninfo', 'orders_pub')
on conflict (name) do update set conninfo = excluded.conninfo, publication = excluded.publication,
  state = 'new', applied_lsn = '0/0', last_error = null, updated_at = now();
SQL
  then
    stop_demo_source
    stop_embedded
    rm -f data/rerun.pid
    sluice_die "could not add the source shop (is the orders pack installed? --packs must include orders)"
  fi
  echo "the demo shop runs (sluice-gen-orders pid $(cat data/gen-orders.pid), log data/gen-orders.log)"
fi

# 7. Load and watch.
http_args=()
http_port=${SLUICE_HTTP_PORT:-9187}
[[ "$http_port" == off ]] || http_args=(--http "127.0.0.1:$http_port")
if $detach; then
  # setsid: the loader outlives this script and the terminal; ./clean.sh stops it.
  setsid "$sluice" run "${daemon_dsn_args[@]}" --inbox data/inbox "${log_level[@]}" "${http_args[@]}" \
    >data/sluice.log 2>&1 </dev/null &
  pid=$!
  echo "$pid" >data/sluice.pid
  timeout=${SLUICE_START_TIMEOUT:-60}
  for ((tick = 0; tick < timeout * 10; tick++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 data/sluice.log >&2 || true
      rm -f data/sluice.pid data/rerun.pid
      stop_demo_source
      stop_embedded
      sluice_die "sluice exited during start-up (log: data/sluice.log)"
    fi
    if grep -qi 'watching' data/sluice.log 2>/dev/null; then
      rm -f data/rerun.pid
      echo "sluice is watching data/inbox (pid $pid, log data/sluice.log)"
      echo "query:  scripts/psql -c 'table reports.hubdoc_signup_plans'"
      if $demo_source; then echo "        scripts/psql -c 'table reports.orders_daily'"; fi
      if ((${#http_args[@]})); then echo "look:   build/app/sluice status, or http://127.0.0.1:$http_port/ (metrics: /metrics)"; fi
      echo "stop:   ./clean.sh"
      exit 0
    fi
    sleep 0.1
  done
  tail -n 30 data/sluice.log >&2 || true
  rm -f data/rerun.pid
  sluice_die "sluice did not report watching within ${timeout}s; it is still running (pid $pid, log data/sluice.log); ./clean.sh stops it"
fi

echo "sluice is loading and watching data/inbox; Ctrl-C stops it"
# In the background so that the trap can run: background jobs of a script
# ignore SIGINT, so `stopping` forwards Ctrl-C to the loader as SIGTERM.
"$sluice" run "${daemon_dsn_args[@]}" --inbox data/inbox "${log_level[@]}" "${http_args[@]}" &
pid=$!
echo "$pid" >data/sluice.pid
status=0
wait "$pid" || status=$?
trap '' INT TERM HUP
rm -f data/sluice.pid data/rerun.pid
stop_demo_source
stop_embedded
exit "$status"
