# shellcheck shell=bash
# Shared helpers for sluice's scripts (test.sh, bench.sh, pg.sh, rerun.sh, ...).
# Source it; it defines functions only and changes no shell options.
#
# A "cluster dir" is one directory holding a whole private PostgreSQL:
#   <dir>/data        PGDATA
#   <dir>/server.log  the server's log
#   <dir>/port        the TCP port it was initialised with
#   <dir>/.s.PGSQL.N  its unix socket (unix_socket_directories = <dir>)
# PostgreSQL refuses to run as root, so when we are root the server runs as the
# `postgres` system user and the cluster dir belongs to it.

sluice_log() { printf '%s\n' "$*" >&2; }
sluice_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The newest PostgreSQL server bin dir of the distribution (pg_config --bindir
# may name the client-only /usr/bin).
sluice_pg_bindir() {
  local dir
  if [[ -n "${SLUICE_PG_BINDIR:-}" ]]; then
    printf '%s\n' "$SLUICE_PG_BINDIR"; return 0
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    dir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  fi
  [[ -x "$dir/initdb" ]] || sluice_die "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH); run scripts/install-deps.sh"
  printf '%s\n' "$dir"
}

# The user the server runs as: postgres when we are root, else ourselves.
sluice_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# Run a command as the server user.
sluice_as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || sluice_die "running as root needs the 'postgres' system user (apt-get install postgresql)"
    # From / so that a cwd postgres cannot enter does not produce warnings.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# True when the server user can reach (traverse) directory $1.
sluice_pg_can_reach() {
  sluice_as_pg test -x "$1" 2>/dev/null && sluice_as_pg test -r "$1" 2>/dev/null
}

# True when something accepts TCP connections on 127.0.0.1:$1.
sluice_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free TCP port on 127.0.0.1 in the ephemeral-safe range 20000-59999.
sluice_free_port() {
  local port tries
  for tries in $(seq 1 50); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if ! sluice_port_busy "$port"; then echo "$port"; return 0; fi
  done
  sluice_die "found no free TCP port after 50 tries"
}

# sluice_cluster_init DIR PORT [PROFILE]
# Creates a cluster in DIR (created if missing; must be empty of a cluster).
# PROFILE "throwaway" turns durability off (fsync etc.): for test and bench
# clusters that are deleted afterwards; "durable" (default) keeps it on.
sluice_cluster_init() {
  local dir=$1 port=$2 profile=${3:-durable} bindir user
  bindir=$(sluice_pg_bindir)
  user=$(sluice_pg_user)
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown "$user:" "$dir"; fi
  chmod 0700 "$dir"
  sluice_pg_can_reach "$dir" || sluice_die "the PostgreSQL server user '$user' cannot reach $dir (a parent directory is not searchable by it)"
  [[ -e "$dir/data/PG_VERSION" ]] && sluice_die "$dir already holds a cluster"
  # Trust only the unix socket, in this 0700 directory (the server user and
  # root reach it); TCP on 127.0.0.1 asks every user for the password, which
  # is generated here and kept 0600 in $dir/password and as a .pgpass line in
  # $dir/pgpass. (It trusted TCP: any local user was superuser, and `copy ...
  # to program` ran commands as postgres.)
  local password
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-24)
  (umask 077; printf '%s\n' "$password" >"$dir/password.tmp")
  if [[ $(id -u) -eq 0 ]]; then chown "$user:" "$dir/password.tmp"; fi
  sluice_as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$dir/password.tmp" --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log.tmp" 2>&1 || {
      cat "$dir/initdb.log.tmp" >&2; rm -f "$dir/password.tmp"; sluice_die "initdb failed for $dir"; }
  rm -f "$dir/initdb.log.tmp"
  mv "$dir/password.tmp" "$dir/password"
  (umask 077; printf '127.0.0.1:%s:*:postgres:%s\n' "$port" "$password" >"$dir/pgpass")
  if [[ $(id -u) -eq 0 ]]; then chown "$user:" "$dir/pgpass"; fi
  {
    echo "# sluice: private cluster"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 100"
    echo "shared_buffers = 256MB"
    echo "max_wal_size = 2GB"
    # Logical decoding, so that a cluster can also be a replication source
    # (the change-data-capture tests and the demo source use it).
    echo "wal_level = logical"
    echo "max_replication_slots = 20"
    echo "max_wal_senders = 20"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] %d '"
    if [[ "$profile" == throwaway ]]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } | sluice_as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  echo "$port" | sluice_as_pg tee "$dir/port" >/dev/null
}

sluice_cluster_port() { cat "$1/port"; }

# True when the cluster in DIR is running.
sluice_cluster_running() {
  local dir=$1
  [[ -e "$dir/data/PG_VERSION" ]] || return 1
  sluice_as_pg "$(sluice_pg_bindir)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

sluice_cluster_start() {
  local dir=$1 bindir
  bindir=$(sluice_pg_bindir)
  [[ -e "$dir/data/PG_VERSION" ]] || sluice_die "no cluster in $dir (run init first)"
  if sluice_cluster_running "$dir"; then return 0; fi
  if ! sluice_as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      start >/dev/null; then
    tail -n 20 "$dir/server.log" >&2 || true
    return 1
  fi
}

sluice_cluster_stop() {
  local dir=$1
  sluice_cluster_running "$dir" || return 0
  sluice_as_pg "$(sluice_pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

# libpq conninfo for database $2 (default postgres) of the cluster in DIR.
sluice_cluster_dsn() {
  local dir=$1 db=${2:-postgres}
  printf 'host=%s port=%s user=postgres dbname=%s\n' "$dir" "$(sluice_cluster_port "$dir")" "$db"
}

# sluice_throwaway_cluster [PROFILE]
# Creates and starts a cluster in a fresh temp dir on a random free port;
# sets SLUICE_THROWAWAY_DIR and SLUICE_THROWAWAY_DSN (maintenance database
# postgres). PROFILE as for sluice_cluster_init, default throwaway (no fsync).
# Retries on port races. Trap sluice_throwaway_cluster_remove to delete it.
SLUICE_THROWAWAY_DIR=
sluice_throwaway_cluster() {
  local profile=${1:-throwaway} base dir port attempt
  base=${TMPDIR:-/tmp}
  dir=$(mktemp -d "$base/sluice-pg.XXXXXX")
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  if ! sluice_pg_can_reach "$dir"; then
    rmdir "$dir"
    dir=$(mktemp -d /var/tmp/sluice-pg.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  fi
  SLUICE_THROWAWAY_DIR=$dir
  for attempt in 1 2 3 4 5; do
    port=$(sluice_free_port)
    sluice_cluster_init "$dir" "$port" "$profile"
    if sluice_cluster_start "$dir"; then
      SLUICE_THROWAWAY_DSN=$(sluice_cluster_dsn "$dir")
      return 0
    fi
    sluice_log "PostgreSQL did not start on port $port (attempt $attempt); retrying"
    sluice_as_pg rm -rf "$dir/data" "$dir/port" "$dir/server.log"
  done
  sluice_die "could not start a throwaway PostgreSQL in $dir"
}

sluice_throwaway_cluster_remove() {
  local dir=${1:-$SLUICE_THROWAWAY_DIR}
  [[ -n "$dir" && -d "$dir" ]] || return 0
  sluice_cluster_stop "$dir" || {
    # A server that will not stop cleanly must still not outlive us.
    local pid
    pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
  }
  rm -rf "$dir"
}

# The repository root (the directory above scripts/).
sluice_repo_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P); }

# sluice_ccache ROOT: sets sluice_launcher to the cmake argument that compiles
# through ccache (SLUICE_CCACHE=1 and ccache installed; paths under ROOT are
# hashed relative to it, so another clone hits the same cache), or that
# compiles without it.
sluice_ccache() {
  if [[ "${SLUICE_CCACHE:-}" == 1 ]] && command -v ccache >/dev/null; then
    sluice_launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=$1 CCACHE_NOHASHDIR=1
  else
    sluice_launcher=(-UCMAKE_CXX_COMPILER_LAUNCHER)
  fi
}

# Configure (once) and build targets into build/ with Ninja, RelWithDebInfo.
# sluice_build ROOT [quiet] [targets...]
# SLUICE_BUILD_DIR names another folder (a sanitizer build's), SLUICE_SANITIZE
# the sanitizers it is built with, SLUICE_WERROR=ON makes warnings errors,
# SLUICE_UNITY_BUILD=ON compiles each target's files in batches of 8 (half the
# compile time: headers and templates once per batch, not once per file),
# SLUICE_CCACHE=1 compiles through ccache (sluice_ccache), SLUICE_PREBUILT=1
# builds nothing.
sluice_build() {
  local root=$1 quiet=${2:-} build=${SLUICE_BUILD_DIR:-$1/build} log
  shift 2 || shift $#
  local jobs=${SLUICE_JOBS:-$(nproc 2>/dev/null || echo 2)}
  # A build dir configured with another generator cannot be reused.
  if [[ -f "$build/CMakeCache.txt" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build/CMakeCache.txt"; then
    sluice_log "build/ was configured with another generator; reconfiguring"
    rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
  fi
  # SLUICE_PREBUILT=1: the binaries already in the build folder are used as
  # they are (the tests of rerun.sh and clean.sh run a copy of the scripts).
  if [[ "${SLUICE_PREBUILT:-}" == 1 ]]; then
    local t
    for t in "$@"; do
      [[ -n $(find "$build/" -name "$t" -type f -perm -u+x -print -quit) ]] ||
        { sluice_log "SLUICE_PREBUILT: $t is not built in $build"; return 1; }
    done
    return 0
  fi
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  local configure=(cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
                   "-DSLUICE_SANITIZE=${SLUICE_SANITIZE:-}" "-DSLUICE_WERROR=${SLUICE_WERROR:-OFF}"
                   "-DSLUICE_DEBUG_INFO=${SLUICE_DEBUG_INFO:-full}"
                   "-DCMAKE_UNITY_BUILD=${SLUICE_UNITY_BUILD:-OFF}")
  sluice_ccache "$root"
  configure+=("${sluice_launcher[@]}")
  if [[ "$quiet" == quiet ]]; then
    # Quiet, but not silent: a first build takes minutes, so every 5 s the
    # step it is at ("[57/109]") goes to stderr, on a terminal on one line.
    log=$(mktemp)
    { "${configure[@]}" && cmake --build "$build" -j "$jobs" "${targets[@]}"; } >"$log" 2>&1 &
    local builder=$! status=0 shown= step ticks=0
    while kill -0 "$builder" 2>/dev/null; do
      sleep 0.2
      ((++ticks % 25 == 0)) || continue
      step=$(grep -oE '^\[[0-9]+/[0-9]+\]' "$log" | tail -1)
      if [[ -n "$step" && "$step" != "$shown" ]]; then
        if [[ -t 2 ]]; then printf '\rbuilding %s ' "$step" >&2; else echo "building $step" >&2; fi
        shown=$step
      fi
    done
    wait "$builder" || status=$?
    if [[ -n "$shown" && -t 2 ]]; then echo >&2; fi
    if ((status != 0)); then
      cat "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
  else
    "${configure[@]}"
    cmake --build "$build" -j "$jobs" "${targets[@]}"
  fi
}

# sluice_stop_pidfile FILE [TIMEOUT_S] [PATTERN]: stops the process whose pid
# FILE holds (SIGTERM, then SIGKILL after TIMEOUT_S, default 30) and removes
# FILE. Only acts on a live process whose command line contains PATTERN
# (default "sluice"), so a stale file whose pid was reused harms nothing.
sluice_stop_pidfile() {
  local file=$1 timeout=${2:-30} pattern=${3:-sluice} pid
  [[ -f "$file" ]] || return 0
  pid=$(head -1 "$file" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"; then
    sluice_stop_pid "$pid" "$timeout"
  fi
  rm -f "$file"
}

# sluice_stop_pid PID TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds.
sluice_stop_pid() {
  local pid=$1 timeout=$2 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((waited < timeout * 10)); do
    sleep 0.1; waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    sluice_log "pid $pid did not stop within ${timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# sluice_stop_daemons DSN
# Stops every sluice daemon of this machine that uses the warehouse DSN (their
# connections are named "sluice PID@HOST", also those of one started by hand)
# and names those of other machines on stderr (then returns 1, as when the
# warehouse cannot be asked).
sluice_stop_daemons() {
  local dsn=$1 host label pid left=0 out labels=()
  host=$(hostname | cut -c1-40)
  out=$(psql -X -At -d "$dsn" -c "select distinct substring(application_name from '^sluice ([0-9]+@.*)$')
      from pg_stat_activity where application_name ~ '^sluice [0-9]+@' and pid <> pg_backend_pid()" 2>&1) ||
    { echo "cannot ask the warehouse which sluice daemons use it: $out" >&2; return 1; }
  [[ -n "$out" ]] && mapfile -t labels <<<"$out"
  for label in "${labels[@]}"; do
    [[ -n "$label" ]] || continue
    pid=${label%%@*}
    if [[ "${label#*@}" == "$host" ]]; then
      # (A pid of this machine's that is not sluice's, e.g. a container's
      # sharing the host name, is left alone.)
      if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q sluice; then
        sluice_stop_pid "$pid" 30
        echo "stopped sluice $label, which was using this warehouse"
      fi
    else
      echo "sluice $label, on another machine, uses this warehouse: stop it there" >&2
      left=1
    fi
  done
  return "$left"
}

# sluice_release_warehouse SLUICE DSN
# What must happen before a warehouse is wiped: sluice_stop_daemons, then each
# source's replication slot dropped on its source (`sluice source drop`), or
# the SQL to drop it printed. Returns 1 when something is left to a person
# (said on stderr).
sluice_release_warehouse() {
  local sluice=$1 dsn=$2 entry name slot left=0 out sources=()
  sluice_stop_daemons "$dsn" || left=1
  out=$(psql -X -At -d "$dsn" -c "select name || ' ' || coalesce(slot_name, '') from sluice.sources order by name" 2>&1) ||
    { echo "cannot read the warehouse's sources (their slots stay on the sources): $out" >&2; return 1; }
  [[ -n "$out" ]] && mapfile -t sources <<<"$out"
  for entry in "${sources[@]}"; do
    [[ -n "$entry" ]] || continue
    name=${entry%% *}
    slot=${entry#* }
    if [[ -x "$sluice" ]] && "$sluice" source drop "$name" --dsn "$dsn"; then continue; fi
    left=1
    # (sluice source drop prints this itself when it reached the warehouse;
    # said again for a missing or failing binary.)
    if [[ -n "$slot" ]]; then
      echo "source $name: if its replication slot $slot is still on the source, run there:" \
        "select pg_drop_replication_slot('$slot');" >&2
    fi
  done
  return "$left"
}

# True when a DSN is configured in the environment: SLUICE_DSN or the libpq
# variables that pick a server or database.
sluice_env_has_dsn() {
  [[ -n "${SLUICE_DSN:-}${PGHOST:-}${PGHOSTADDR:-}${PGPORT:-}${PGDATABASE:-}${PGSERVICE:-}" ]]
}

# sluice_dsn_with_db DSN DB: the same connection, database DB. Handles both
# keyword conninfo (a later dbname= wins) and postgresql:// URIs.
sluice_dsn_with_db() {
  local dsn=$1 db=$2
  if [[ "$dsn" =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
    printf '%s/%s%s\n' "${BASH_REMATCH[1]}" "$db" "${BASH_REMATCH[4]}"
  else
    printf '%s dbname=%s\n' "$dsn" "$db"
  fi
}

# Prints the leading comment block of script $1 (after the #! line) as help.
sluice_usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}
