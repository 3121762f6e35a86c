#!/usr/bin/env bash
# The private clusters sluice makes (the embedded warehouse of ./rerun.sh,
# the test and benchmark clusters) trust no one on TCP. BUG (2026-12-05): they
# were made with --auth=trust on 127.0.0.1, so any local user, e.g. nobody,
# was superuser (`psql -h 127.0.0.1 -U postgres`, then `copy ... to program`
# ran commands as postgres).
# Checks, on a cluster made by scripts/lib.sh: nobody is refused on TCP
# without the password and cannot reach the unix socket; the password kept
# in <dir>/pgpass lets a client in over TCP; password and pgpass are 0600.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (to act as nobody)"; exit 1; }

sluice_throwaway_cluster
dir=$SLUICE_THROWAWAY_DIR
trap 'sluice_throwaway_cluster_remove "$dir"' EXIT
port=$(sluice_cluster_port "$dir")
failures=0
check() {  # check WHAT COMMAND...: the command must succeed
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}

refused() {  # refused WHAT COMMAND...: the command must fail
  local what=$1; shift
  if "$@" 2>"$dir/refused.err"; then echo "FAILED: $what"; failures=$((failures + 1));
  else echo "ok: $what ($(head -1 "$dir/refused.err"))"; fi
}
as_nobody() { runuser -u nobody -- env -u PGPASSWORD -u PGPASSFILE "$@"; }

refused "nobody is refused on TCP without the password" \
  as_nobody psql -w -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select 1'
refused "nobody cannot reach the unix socket" \
  as_nobody psql -w -h "$dir" -p "$port" -U postgres -d postgres -c 'select 1'
check "the kept password lets a client in over TCP" \
  env PGPASSFILE="$dir/pgpass" psql -w -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc 'select 1'
check "the password file is 0600" test "$(stat -c %a "$dir/password")" = 600
check "the pgpass file is 0600" test "$(stat -c %a "$dir/pgpass")" = 600
if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
