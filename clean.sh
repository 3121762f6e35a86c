#!/usr/bin/env bash
# ./clean.sh — stop everything ./rerun.sh started (sluice, the embedded
# PostgreSQL, the demo shop of --demo-source and its generator) and remove the
# state under data/. Asks nothing.
#
# usage: ./clean.sh [--all]
#
#   (no option)  keeps data/inbox/ (your files); removes everything else under
#                data/: the embedded warehouse, logs, pid files
#   --all        removes data/inbox/ too, i.e. all of data/
#
# Before the embedded warehouse is removed, every sluice daemon of this machine
# that uses it is stopped (also one started by hand: its connections are named
# "sluice PID@HOST"; one on another machine is named), and each replication
# source's slot is dropped on its source (`sluice source drop`), or the SQL to
# drop it is printed when the source cannot be reached.
# A server named by a DSN (--dsn, SLUICE_DSN, PG*) is never touched; only the
# embedded one under data/pg is removed. The build/ directory is kept.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
cd "$root"

all=false
case "${1:-}" in
  "") ;;
  --all) all=true ;;
  -h|--help) sluice_usage "$root/clean.sh"; exit 0 ;;
  *) sluice_die "unknown argument '$1' (see ./clean.sh --help)" ;;
esac

[[ -d data ]] || exit 0
sluice_stop_pidfile data/rerun.pid 40 rerun.sh
sluice_stop_pidfile data/sluice.pid 30
# Before the embedded warehouse goes: every other sluice using it stops (or is
# named), and its sources' replication slots are dropped (or the SQL printed).
# A warehouse stopped by ./rerun.sh --stop is started to be asked.
if scripts/pg.sh status >/dev/null 2>&1 || scripts/pg.sh start >/dev/null 2>&1; then
  env -u SLUICE_PG_PORT SLUICE_PG_NAME=pg-source scripts/pg.sh start >/dev/null 2>&1 || true
  sluice_release_warehouse "$root/build/app/sluice" "$(scripts/pg.sh dsn)" ||
    echo "(what is said above is left to you)" >&2
fi
sluice_stop_pidfile data/gen-orders.pid 10 sluice-gen-orders
env -u SLUICE_PG_PORT SLUICE_PG_NAME=pg-source scripts/pg.sh destroy
scripts/pg.sh destroy
if $all; then
  rm -rf data
  echo "stopped sluice and the embedded PostgreSQL; removed data/"
else
  find data -mindepth 1 -maxdepth 1 ! -name inbox -exec rm -rf {} +
  echo "stopped sluice and the embedded PostgreSQL; removed data/ except data/inbox/"
fi
