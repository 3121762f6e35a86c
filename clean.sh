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
