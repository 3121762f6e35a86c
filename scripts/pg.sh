#!/usr/bin/env bash
# The embedded, private PostgreSQL that ./rerun.sh uses when no DSN is configured.
#
#   scripts/pg.sh init      create the cluster under data/pg and the database `sluice`
#   scripts/pg.sh start     start it (waits until it accepts connections)
#   scripts/pg.sh stop      stop it (fast shutdown)
#   scripts/pg.sh status    print whether it runs; exit 0 running, 3 stopped, 4 no cluster
#   scripts/pg.sh dsn [DB]  print the libpq conninfo (database `sluice` by default)
#   scripts/pg.sh dsn-as ROLE  the conninfo of ROLE over TCP, its password from <cluster>/ROLE.pgpass
#   scripts/pg.sh password ROLE  give ROLE a new generated password (build/app/sluice
#                           password), kept 0600 in <cluster>/ROLE.password, ROLE.pgpass and pgpass
#   scripts/pg.sh destroy   stop it and delete the cluster
#
# Roles: `sluice migrate` makes sluice_loader (the daemon's) and sluice_reader
# (for BI users: reads core and reports); ./rerun.sh gives each a password the
# first time and runs the daemon as sluice_loader. A BI tool connects as
# `psql -h 127.0.0.1 -p 54329 -U sluice_reader sluice` with the password in
# data/pg/sluice_reader.password (or PGPASSFILE=data/pg/sluice_reader.pgpass). The unix
# socket and postgres stay the owner's (scripts/psql).
#
# It listens on a unix socket in the cluster's own directory and on 127.0.0.1 at
# port ${SLUICE_PG_PORT:-54329} (chosen at init and remembered in data/pg/port; if
# 54329 is taken and SLUICE_PG_PORT is unset, the next free port is used).
# The unix socket (in a 0700 directory) is trusted; TCP asks for the password,
# generated at init and kept 0600 in <cluster>/password, and as a .pgpass line
# in <cluster>/pgpass: `PGPASSFILE=data/pg/pgpass psql -h 127.0.0.1 -p 54329
# -U postgres sluice` (a BI tool takes the password from data/pg/password).
#
# SLUICE_PG_NAME names another cluster under data/ (default pg): ./rerun.sh
# --demo-source runs the orders pack's demo shop as SLUICE_PG_NAME=pg-source,
# whose database is `shop` and whose port starts the search at 54339.
#
# PostgreSQL refuses to run as root: as root the server runs as `postgres`. When
# that user cannot reach this checkout (e.g. a clone inside a 0700 temp dir), or
# the socket path would be too long, the cluster lives in
# /var/tmp/sluice-<hash of the repo path>/pg and data/pg is a symlink to it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(sluice_repo_root)
name=${SLUICE_PG_NAME:-pg}
[[ "$name" =~ ^[a-z][a-z0-9-]*$ ]] || sluice_die "SLUICE_PG_NAME must be lower-case letters, digits and -"
link=$root/data/$name
if [[ "$name" == pg ]]; then default_port=54329 database=sluice; else default_port=54339 database=shop; fi

usage() { sluice_usage "${BASH_SOURCE[0]}"; }

# The cluster directory, or nothing when there is none.
cluster_dir() {
  if [[ -L "$link" ]]; then
    readlink -f "$link" || true
  elif [[ -d "$link" ]]; then
    printf '%s\n' "$link"
  fi
}

pick_port() {
  local port=${SLUICE_PG_PORT:-$default_port}
  if sluice_port_busy "$port"; then
    [[ -n "${SLUICE_PG_PORT:-}" ]] && sluice_die "port $port (SLUICE_PG_PORT) is already in use on 127.0.0.1; choose another"
    local candidate
    for candidate in $(seq $((port + 1)) $((port + 50))); do
      if ! sluice_port_busy "$candidate"; then
        sluice_log "port $port is in use; the embedded PostgreSQL will use $candidate"
        echo "$candidate"; return 0
      fi
    done
    sluice_die "ports $port-$((port + 50)) are all in use; set SLUICE_PG_PORT"
  fi
  echo "$port"
}

cmd_init() {
  local dir port hash
  dir=$(cluster_dir)
  if [[ -n "$dir" && -e "$dir/data/PG_VERSION" ]]; then
    sluice_log "embedded PostgreSQL already initialised in $dir"
    return 0
  fi
  # A dangling or empty leftover is replaced.
  if [[ -L "$link" ]]; then rm -f "$link"; fi
  if [[ -d "$link" ]]; then rm -rf "$link"; fi
  mkdir -p "$root/data"
  port=$(pick_port)
  dir=$link
  if ! sluice_pg_can_reach "$root/data" || (( ${#link} + 20 > 100 )); then
    hash=$(printf '%s' "$root" | sha256sum | cut -c1-12)
    dir=/var/tmp/sluice-$hash/$name
    rm -rf "$dir"
    mkdir -p "/var/tmp/sluice-$hash"
    chmod 0755 "/var/tmp/sluice-$hash"
    ln -sfn "$dir" "$link"
    sluice_log "the server user cannot use $link directly; the cluster lives in $dir"
  fi
  sluice_cluster_init "$dir" "$port" durable
  sluice_cluster_start "$dir" || sluice_die "PostgreSQL did not start; see $dir/server.log"
  sluice_as_pg "$(sluice_pg_bindir)/createdb" -h "$dir" -p "$port" -U postgres "$database"
  sluice_cluster_stop "$dir"
  sluice_log "embedded PostgreSQL initialised in $dir (port $port, database $database)"
}

# Writes <cluster>/pgpass: a line for postgres and one per <cluster>/ROLE.password.
write_pgpass() {
  local dir=$1 port file role
  port=$(sluice_cluster_port "$dir")
  umask 077  # (pg.sh runs as its own process: the umask ends with it)
  {
    printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$(head -1 "$dir/password")"
    for file in "$dir"/*.password; do
      [[ -e "$file" ]] || continue
      role=$(basename "$file" .password)
      printf '127.0.0.1:%s:*:%s:%s\n' "$port" "$role" "$(head -1 "$file")"
      # Each role's own, holding only its password: what the daemon and a BI
      # user are given.
      printf '127.0.0.1:%s:*:%s:%s\n' "$port" "$role" "$(head -1 "$file")" >"$dir/$role.pgpass.new"
      mv "$dir/$role.pgpass.new" "$dir/$role.pgpass"
    done
  } >"$dir/pgpass.new"
  mv "$dir/pgpass.new" "$dir/pgpass"
}

need_dir() {
  local dir
  dir=$(cluster_dir)
  [[ -n "$dir" && -e "$dir/data/PG_VERSION" ]] || sluice_die "no embedded PostgreSQL in $link; run: scripts/pg.sh init"
  printf '%s\n' "$dir"
}

cmd=${1:-}
case "$cmd" in
  init) cmd_init ;;
  start)
    dir=$(need_dir)
    sluice_cluster_start "$dir" || sluice_die "PostgreSQL did not start; see $dir/server.log"
    ;;
  stop)
    dir=$(cluster_dir)
    if [[ -n "$dir" && -e "$dir/data/PG_VERSION" ]]; then sluice_cluster_stop "$dir"; fi
    ;;
  status)
    dir=$(cluster_dir)
    if [[ -z "$dir" || ! -e "$dir/data/PG_VERSION" ]]; then echo "no embedded PostgreSQL in $link"; exit 4; fi
    if sluice_cluster_running "$dir"; then
      echo "running: $dir (port $(sluice_cluster_port "$dir"))"
    else
      echo "stopped: $dir"; exit 3
    fi
    ;;
  dsn)
    dir=$(need_dir)
    sluice_cluster_dsn "$dir" "${2:-$database}"
    ;;
  dsn-as)
    dir=$(need_dir)
    [[ -n "${2:-}" ]] || sluice_die "usage: scripts/pg.sh dsn-as ROLE"
    printf 'host=127.0.0.1 port=%s user=%s dbname=%s passfile=%s\n' "$(sluice_cluster_port "$dir")" "$2" "$database" "$dir/$2.pgpass"
    ;;
  password)
    dir=$(need_dir)
    [[ "${2:-}" =~ ^[a-z_][a-z0-9_]*$ && "$2" != postgres ]] || sluice_die "usage: scripts/pg.sh password ROLE (not postgres)"
    sluice=${SLUICE_BUILD_DIR:-$root/build}/app/sluice
    [[ -x "$sluice" ]] || sluice_die "$sluice is not built (./rerun.sh builds it)"
    "$sluice" password "$2" --out "$dir/$2.password" --dsn "$(sluice_cluster_dsn "$dir" "$database")"
    write_pgpass "$dir"
    ;;
  destroy)
    dir=$(cluster_dir)
    if [[ -n "$dir" ]]; then
      if [[ -e "$dir/data/PG_VERSION" ]]; then sluice_cluster_stop "$dir" || true; fi
      rm -rf "$dir"
      # The /var/tmp/sluice-<hash> parent of a relocated cluster goes too.
      if [[ "$dir" == /var/tmp/sluice-*/"$name" ]]; then rmdir "$(dirname "$dir")" 2>/dev/null || true; fi
    fi
    rm -rf "$link"
    ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
