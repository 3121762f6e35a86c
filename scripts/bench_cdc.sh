# shellcheck shell=bash
# shellcheck disable=SC2154  # keep, work, sluice, runs and the cdc_* settings come from bench.sh
# The --cdc case of scripts/bench.sh (see its --help): sluice's change data
# capture against PostgreSQL's own logical replication (a native subscription)
# on the same pgbench work. Sourced by bench.sh after its build; uses its
# $work, $sluice, $runs, q, now and median.
#
# Two throwaway clusters: a source (fsync off: it only has to produce WAL;
# synchronous_commit on, see below) and a warehouse (fsync on, as a real one),
# both with track_commit_timestamp on.
# The warehouse holds one database per consumer: native_* (pgbench's tables,
# created empty by `pgbench -i -I dtp`, and a subscription) and sluice_* (the
# sluice pack and a row in sluice.sources). pgbench_history has no primary key;
# the source gets REPLICA IDENTITY FULL on it, for both consumers alike.

pgbench_bin=$(sluice_pg_bindir)/pgbench
[[ -x "$pgbench_bin" ]] || sluice_die "pgbench is missing from $(sluice_pg_bindir) (apt-get install postgresql-contrib)"

cdc_src_dir=
cdc_wh_dir=
cdc_subs=()   # "database subscription" on the warehouse
cdc_slots=()  # "database slot" on the source
cdc_pids=()   # sluice processes started in the background
forget_pid() {
  local kept=() pid
  for pid in "${cdc_pids[@]}"; do [[ "$pid" == "$1" ]] || kept+=("$pid"); done
  cdc_pids=("${kept[@]}")
}

# Ctrl-C or an error anywhere: stop sluice, drop the subscriptions (before their
# source goes) and the slots, then the clusters. Called by bench.sh's cleanup.
cdc_teardown() {
  local pid entry db name
  # --once runs under /usr/bin/time, which would leave its child running.
  for pid in "${cdc_pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${cdc_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $keep; then
    echo "kept: clusters $cdc_src_dir (source) and $cdc_wh_dir (warehouse), running, with their subscriptions and slots" >&2
    return 0
  fi
  if [[ -n "$cdc_wh_dir" ]] && sluice_cluster_running "$cdc_wh_dir"; then
    for entry in "${cdc_subs[@]}"; do
      read -r db name <<<"$entry"
      # Detached from its slot first, so the drop never waits for the source.
      psql -X -q -d "$(sluice_cluster_dsn "$cdc_wh_dir" "$db")" -c "alter subscription $name disable" \
        -c "alter subscription $name set (slot_name = none)" -c "drop subscription $name" >/dev/null 2>&1 || true
    done
  fi
  if [[ -n "$cdc_src_dir" ]] && sluice_cluster_running "$cdc_src_dir"; then
    for entry in "${cdc_slots[@]}"; do
      read -r db name <<<"$entry"
      psql -X -q -d "$(sluice_cluster_dsn "$cdc_src_dir" "$db")" -c "select pg_drop_replication_slot(slot_name)
        from pg_replication_slots where slot_name = '$name'" >/dev/null 2>&1 || true
    done
  fi
  [[ -n "$cdc_wh_dir" ]] && sluice_throwaway_cluster_remove "$cdc_wh_dir"
  [[ -n "$cdc_src_dir" ]] && sluice_throwaway_cluster_remove "$cdc_src_dir"
  SLUICE_THROWAWAY_DIR=
  return 0
}

src() { sluice_cluster_dsn "$cdc_src_dir" "$1"; }
wh() { sluice_cluster_dsn "$cdc_wh_dir" "$1"; }
# pgb DIR DB ARGS...: pgbench against database DB of the cluster in DIR.
pgb() {
  local dir=$1 db=$2
  shift 2
  "$pgbench_bin" -h "$dir" -p "$(sluice_cluster_port "$dir")" -U postgres "$@" "$db"
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
secs_since() { secs_between "$1" "$(now)"; }

# wait_until DSN CONDITION [TIMEOUT_S]: returns once the SQL boolean CONDITION
# holds, polled every 10 ms inside one session (a psql per poll would cost
# more CPU than what is measured).
wait_until() {
  local dsn=$1 cond=$2 timeout=${3:-900}
  q "$dsn" "do \$wait\$ declare deadline timestamptz := clock_timestamp() + interval '$timeout seconds';
    begin
      loop
        exit when ($cond);
        if clock_timestamp() > deadline then
          raise exception 'timed out after % s waiting for: %', $timeout, \$c\$$cond\$c\$;
        end if;
        perform pg_sleep(0.01);
      end loop;
    end \$wait\$" >/dev/null
}
# wait_for DSN CONDITION [PID]: wait_until in the background, so that a signal
# stops the script at once; fails when process PID (a sluice) ends first.
# Sets reached_at, the time (date +%s.%N) the condition was seen to hold.
wait_for() {
  local dsn=$1 cond=$2 pid=${3:-} waiter gone=0
  rm -f "$work/reached"
  { wait_until "$dsn" "$cond" && now >"$work/reached"; } &
  waiter=$!
  cdc_pids+=("$waiter")
  while kill -0 "$waiter" 2>/dev/null; do
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      # It ended: the poll has a moment to see what it confirmed last.
      if ((++gone > 40)); then
        pkill -TERM -P "$waiter" 2>/dev/null || true
        kill -TERM "$waiter" 2>/dev/null || true
        wait "$waiter" 2>/dev/null || true
        forget_pid "$waiter"
        sluice_die "sluice ended before this held: $cond"
      fi
    fi
    sleep 0.05
  done
  wait "$waiter" || sluice_die "gave up waiting for: $cond"
  forget_pid "$waiter"
  reached_at=$(cat "$work/reached")
}
slot_reached() { echo "coalesce((select confirmed_flush_lsn >= '$2' from pg_replication_slots where slot_name = '$1'), false)"; }
slots_idle() { wait_for "$1" "not exists (select 1 from pg_replication_slots where active and slot_name in ($2))" 60; }

# sluice_once DB LOG: starts `sluice run --once` on warehouse database DB in the
# background (peak RSS to LOG.rss); sets once_pid.
sluice_once() {
  /usr/bin/time -f '%M' -o "$2.rss" "$sluice" run --once --dsn "$(wh "$1")" --inbox "$work/empty-inbox" \
    --log-level info >"$2" 2>&1 &
  once_pid=$!
  cdc_pids+=("$once_pid")
}
# sluice_once_wait LOG: waits for it; sets once_rss_mb.
sluice_once_wait() {
  if ! wait "$once_pid"; then tail -n 30 "$1" >&2; sluice_die "sluice run --once failed (log above, $1)"; fi
  forget_pid "$once_pid"
  once_rss_mb=$(awk '/^[0-9]+$/ { printf "%.1f", $1 / 1024 }' "$1.rss")
}
# A new sluice warehouse database with one source; prints nothing.
sluice_db() {
  local db=$1 source=$2 src_db=$3 publication=$4
  q "$(wh postgres)" "create database $db" >/dev/null
  "$sluice" migrate --dsn "$(wh "$db")" --packs sluice --log-level warn >"$work/$db.migrate.log" 2>&1 || {
    cat "$work/$db.migrate.log" >&2; sluice_die "sluice migrate failed"; }
  # The slot's name chosen here (recorded, so sluice takes it for its own):
  # the timings below watch it on the source.
  q "$(wh "$db")" "insert into sluice.sources (name, conninfo, publication, slot_name)
                   values ('$source', '$(src "$src_db")', '$publication', 'sluice_$source')" >/dev/null
  cdc_slots+=("$src_db sluice_$source")
}
# A new native warehouse database: pgbench's tables, empty, with their keys.
native_db() {
  local db=$1 scale=$2
  q "$(wh postgres)" "create database $db" >/dev/null
  pgb "$cdc_wh_dir" "$db" -i -I dtp -s "$scale" -q >/dev/null 2>&1 || sluice_die "pgbench -i -I dtp failed on $db"
}
pgbench_tables="pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"
# A source database with pgbench's tables at SCALE and a publication PUB of them.
source_db() {
  local db=$1 scale=$2 pub=$3 extra=${4:-}
  q "$(src postgres)" "create database $db" >/dev/null
  pgb "$cdc_src_dir" "$db" -i -s "$scale" -q >"$work/$db.init.log" 2>&1 || {
    cat "$work/$db.init.log" >&2; sluice_die "pgbench -i failed"; }
  # pgbench_history has no primary key; pgbench only inserts into it, but a
  # published table needs a replica identity for updates and deletes at all.
  q "$(src "$db")" "alter table pgbench_history replica identity full;
                    $extra
                    create publication $pub for table $pgbench_tables${extra:+, bench_marker}" >/dev/null
}
marker_sql="create table bench_marker (run integer primary key, at timestamptz not null default now());"

mkdir -p "$work/empty-inbox"
results=$work/cdc-results.tsv
: >"$results"
load_at_start=$(uptime | sed 's/.*load average: //')

echo "starting two throwaway PostgreSQL clusters (source: fsync off; warehouse: fsync on) ..." >&2
# synchronous_commit on (fsync stays off): a walsender sends only flushed WAL,
# and an asynchronous commit waits up to wal_writer_delay (200 ms) for its
# flush, which would be counted as lag of either consumer.
commit_ts_cluster throwaway "synchronous_commit = on"
cdc_src_dir=$SLUICE_THROWAWAY_DIR
commit_ts_cluster durable
cdc_wh_dir=$SLUICE_THROWAWAY_DIR
SLUICE_THROWAWAY_DIR=  # both are cdc_teardown's now

part_on() { [[ ",$cdc_parts," == *",$1,"* ]]; }

# --- 1. backlog catch-up and 3. lag share one source ------------------------------
if part_on backlog || part_on lag; then
  echo "source: pgbench -i -s $cdc_scale; native subscription and sluice source, initial copies ..." >&2
  source_db cdc_backlog "$cdc_scale" bench_pub "$marker_sql"
  native_db native_backlog "$cdc_scale"
  # _arrived: when the native apply wrote the row (the lag figures); filled by
  # the default since the publisher does not send the column.
  q "$(wh native_backlog)" "$marker_sql
     alter table pgbench_history add column _arrived timestamptz default clock_timestamp()" >/dev/null
  cdc_subs+=("native_backlog native_sub")
  cdc_slots+=("cdc_backlog native_sub")
  PGOPTIONS='-c client_min_messages=warning' q "$(wh native_backlog)" "create subscription native_sub connection '$(src cdc_backlog)' publication bench_pub" >/dev/null
  sluice_db sluice_backlog bench cdc_backlog bench_pub
  sluice_once sluice_backlog "$work/sluice_backlog.first.log"
  sluice_once_wait "$work/sluice_backlog.first.log"
  wait_for "$(wh native_backlog)" "(select count(*) = 5 and bool_and(r.srsubstate = 'r') from pg_subscription_rel r
                                       join pg_subscription s on s.oid = r.srsubid where s.subname = 'native_sub')"
fi

# Stops both consumers of cdc_backlog (sluice runs only while timed).
stop_backlog_consumers() {
  q "$(wh native_backlog)" "alter subscription native_sub disable" >/dev/null
  slots_idle "$(src cdc_backlog)" "'native_sub', 'sluice_bench'"
}
marker_in() { echo "exists (select 1 from $1 where run = $2)"; }

if part_on backlog; then
  printf '\n1. backlog catch-up: pgbench -T %s -c %s on scale %s with both consumers stopped, then each timed\n' \
    "$cdc_seconds" "$cdc_clients" "$cdc_scale"
  printf '%-6s %9s %10s %8s %9s %9s %11s %9s %8s\n' run "source tx" "changes" "WAL MB" "native s" "sluice s" \
    "sluice/nat" "RSS MB" "load"
  for ((run = 1; run <= runs; run++)); do
    stop_backlog_consumers
    from=$(q "$(src cdc_backlog)" "select pg_current_wal_lsn()")
    pgb "$cdc_src_dir" cdc_backlog -n -T "$cdc_seconds" -c "$cdc_clients" -j 2 >"$work/backlog.$run.pgbench" 2>&1 ||
      { cat "$work/backlog.$run.pgbench" >&2; sluice_die "pgbench failed"; }
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/backlog.$run.pgbench")
    target=$(q "$(src cdc_backlog)" "select pg_current_wal_lsn()")
    # A published commit after the end: sluice confirms commit ends only (an
    # idle slot's position is not advanced), so the end needs one to reach.
    q "$(src cdc_backlog)" "insert into bench_marker (run) values ($run)" >/dev/null
    wal_mb=$(q "$(src cdc_backlog)" "select round(pg_wal_lsn_diff('$target', '$from') / 1048576.0, 1)")
    time_native() {
      local t0; t0=$(now)
      q "$(wh native_backlog)" "alter subscription native_sub enable" >/dev/null
      wait_for "$(src cdc_backlog)" "$(slot_reached native_sub "$target")"
      native_s=$(secs_between "$t0" "$reached_at")
    }
    time_sluice() {
      local t0; t0=$(now)
      sluice_once sluice_backlog "$work/backlog.$run.sluice.log"
      wait_for "$(src cdc_backlog)" "$(slot_reached sluice_bench "$target")" "$once_pid"
      sluice_s=$(secs_between "$t0" "$reached_at")
      sluice_once_wait "$work/backlog.$run.sluice.log"
    }
    # Alternate who goes first: the second finds a warmer source cache.
    if ((run % 2)); then time_native; time_sluice; else time_sluice; time_native; fi
    q "$(wh native_backlog)" "select 1 where $(marker_in bench_marker "$run")" | grep -q 1 ||
      sluice_die "the native subscriber lacks marker $run"
    q "$(wh sluice_backlog)" "select 1 where $(marker_in core.bench_bench_marker "$run")" | grep -q 1 ||
      sluice_die "sluice's mirror lacks marker $run"
    printf 'backlog\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$tx" "$wal_mb" "$native_s" "$sluice_s" "$once_rss_mb" "$(loadavg)" >>"$results"
    awk -v r="$run" -v tx="$tx" -v w="$wal_mb" -v n="$native_s" -v s="$sluice_s" -v m="$once_rss_mb" -v l="$(loadavg)" 'BEGIN {
      printf "%-6s %9d %10d %8s %9s %9s %11.3f %9s %8s\n", r, tx, tx * 4, w, n, s, n / s, m, l }'
  done
  # Both mirrors equal the source, table by table (the comparison is void otherwise).
  stop_backlog_consumers
  for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
    want=$(q "$(src cdc_backlog)" "select count(*), sum(hashtext($t::text)) from $t")
    # The subscriber's pgbench_history has _arrived besides the source's columns.
    cols=$(q "$(src cdc_backlog)" "select string_agg(quote_ident(attname), ', ' order by attnum) from pg_attribute
                                    where attrelid = '$t'::regclass and attnum > 0 and not attisdropped")
    got_native=$(q "$(wh native_backlog)" "select count(*), sum(hashtext(row($cols)::text)) from $t")
    got_sluice=$(q "$(wh sluice_backlog)" "select count(*), sum(hashtext(c::text)) from core.bench_$t c")
    [[ "$want" == "$got_native" ]] || sluice_die "native $t differs from the source ($got_native vs $want)"
    [[ "$want" == "$got_sluice" ]] || sluice_die "sluice's core.bench_$t differs from the source ($got_sluice vs $want)"
  done
fi

# --- 2. initial snapshot -------------------------------------------------------------
if part_on snapshot; then
  echo "source: pgbench -i -s $cdc_snapshot_scale ..." >&2
  source_db cdc_snap "$cdc_snapshot_scale" snap_pub
  rows=$(q "$(src cdc_snap)" "select (select count(*) from pgbench_accounts) + (select count(*) from pgbench_tellers)
                               + (select count(*) from pgbench_branches)")
  # shellcheck disable=SC2016
  printf '\n2. initial snapshot of pgbench scale %s (%s rows): native initial sync vs the first `sluice run --once`\n' \
    "$cdc_snapshot_scale" "$rows"
  printf '%-6s %9s %9s %11s %9s %9s %8s\n' run "native s" "sluice s" "sluice/nat" "once s" "RSS MB" "load"
  for ((run = 1; run <= runs; run++)); do
    native_db "native_snap_$run" "$cdc_snapshot_scale"
    sluice_db "sluice_snap_$run" snap cdc_snap snap_pub
    snap_native() {
      local t0; t0=$(now)
      cdc_subs+=("native_snap_$run snap_native")
      cdc_slots+=("cdc_snap snap_native")
      PGOPTIONS='-c client_min_messages=warning' q "$(wh "native_snap_$run")" "create subscription snap_native connection '$(src cdc_snap)' publication snap_pub" >/dev/null
      wait_for "$(wh "native_snap_$run")" "(select count(*) = 4 and bool_and(r.srsubstate = 'r') from pg_subscription_rel r
                                              join pg_subscription s on s.oid = r.srsubid where s.subname = 'snap_native')"
      native_s=$(secs_between "$t0" "$reached_at")
      PGOPTIONS='-c client_min_messages=warning' q "$(wh "native_snap_$run")" "drop subscription snap_native" >/dev/null
    }
    snap_sluice() {
      local t0; t0=$(now)
      sluice_once "sluice_snap_$run" "$work/snap.$run.sluice.log"
      wait_for "$(wh "sluice_snap_$run")" "(select state = 'streaming' from sluice.sources where name = 'snap')" "$once_pid"
      sluice_s=$(secs_between "$t0" "$reached_at")
      sluice_once_wait "$work/snap.$run.sluice.log"
      once_s=$(secs_since "$t0")
      q "$(src cdc_snap)" "select pg_drop_replication_slot('sluice_snap')" >/dev/null
    }
    if ((run % 2)); then snap_native; snap_sluice; else snap_sluice; snap_native; fi
    got=$(q "$(wh "sluice_snap_$run")" "select count(*) from core.snap_pgbench_accounts")
    want=$(q "$(src cdc_snap)" "select count(*) from pgbench_accounts")
    [[ "$got" == "$want" ]] || sluice_die "sluice copied $got of $want accounts"
    got=$(q "$(wh "native_snap_$run")" "select count(*) from pgbench_accounts")
    [[ "$got" == "$want" ]] || sluice_die "the native sync copied $got of $want accounts"
    printf 'snapshot\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$native_s" "$sluice_s" "$once_s" "$once_rss_mb" "$(loadavg)" >>"$results"
    awk -v r="$run" -v n="$native_s" -v s="$sluice_s" -v o="$once_s" -v m="$once_rss_mb" -v l="$(loadavg)" 'BEGIN {
      printf "%-6s %9s %9s %11.3f %9s %9s %8s\n", r, n, s, n / s, o, m, l }'
    q "$(wh postgres)" "drop database native_snap_$run" >/dev/null
    q "$(wh postgres)" "drop database sluice_snap_$run" >/dev/null
  done
fi

# --- 3. lag at a steady rate ------------------------------------------------------------
# Per source transaction (one pgbench_history row each): sluice: the warehouse
# commit time of the staging row (its xmin's commit timestamp) minus _commit_at,
# the source's. Native: _arrived (when the apply wrote the row; it commits right
# after) minus the row's commit timestamp on the subscriber, which for an
# applied transaction is the origin's, i.e. the source's, commit time.
lag_stats() {  # DSN QUERY-OF-SECONDS -> "p50_ms p99_ms max_ms count"
  q "$1" "select round((percentile_cont(0.5) within group (order by l) * 1000)::numeric, 1),
                 round((percentile_cont(0.99) within group (order by l) * 1000)::numeric, 1),
                 round((max(l) * 1000)::numeric, 1), count(*) from ($2) x(l)" | tr '|' ' '
}
if part_on lag; then
  printf '\n3. lag at pgbench -R %s -T %s (-c %s): warehouse commit minus source commit, per source transaction\n' \
    "$cdc_lag_rate" "$cdc_lag_seconds" "$cdc_clients"
  printf '%-6s %-8s %9s %9s %9s %9s %9s %8s\n' run consumer "tx" "p50 ms" "p99 ms" "max ms" "RSS MB" "load"
  for ((run = 1; run <= runs; run++)); do
    stop_backlog_consumers
    # sluice: the daemon, caught up first.
    "$sluice" run --dsn "$(wh sluice_backlog)" --inbox "$work/empty-inbox" --log-level info \
      >"$work/lag.$run.sluice.log" 2>&1 &
    daemon=$!
    cdc_pids+=("$daemon")
    q "$(src cdc_backlog)" "insert into bench_marker (run) values ($((100 + run)))" >/dev/null
    wait_for "$(wh sluice_backlog)" "$(marker_in core.bench_bench_marker $((100 + run)))" "$daemon"
    from=$(q "$(src cdc_backlog)" "select pg_current_wal_lsn()")
    pgb "$cdc_src_dir" cdc_backlog -n -R "$cdc_lag_rate" -T "$cdc_lag_seconds" -c "$cdc_clients" -j 2 \
      >"$work/lag.$run.sluice.pgbench" 2>&1 || { cat "$work/lag.$run.sluice.pgbench" >&2; sluice_die "pgbench failed"; }
    q "$(src cdc_backlog)" "insert into bench_marker (run) values ($((200 + run)))" >/dev/null
    wait_for "$(wh sluice_backlog)" "$(marker_in core.bench_bench_marker $((200 + run)))" "$daemon"
    rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$daemon/status")
    kill -TERM "$daemon"
    wait "$daemon" || sluice_die "the sluice daemon failed (see $work/lag.$run.sluice.log)"
    forget_pid "$daemon"
    read -r p50 p99 max n < <(lag_stats "$(wh sluice_backlog)" "select extract(epoch from pg_xact_commit_timestamp(xmin) - _commit_at)
      from staging.bench_pgbench_history where _op = 'i' and _lsn > '$from'")
    printf 'lag_sluice\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$n" "$p50" "$p99" "$max" "$rss" "$(loadavg)" >>"$results"
    printf '%-6s %-8s %9s %9s %9s %9s %9s %8s\n' "$run" sluice "$n" "$p50" "$p99" "$max" "$rss" "$(loadavg)"

    # native: the subscription, caught up first; sluice stopped.
    q "$(wh native_backlog)" "alter subscription native_sub enable" >/dev/null
    q "$(src cdc_backlog)" "insert into bench_marker (run) values ($((300 + run)))" >/dev/null
    wait_for "$(wh native_backlog)" "$(marker_in bench_marker $((300 + run)))"
    since=$(q "$(src cdc_backlog)" "select now()")
    pgb "$cdc_src_dir" cdc_backlog -n -R "$cdc_lag_rate" -T "$cdc_lag_seconds" -c "$cdc_clients" -j 2 \
      >"$work/lag.$run.native.pgbench" 2>&1 || { cat "$work/lag.$run.native.pgbench" >&2; sluice_die "pgbench failed"; }
    q "$(src cdc_backlog)" "insert into bench_marker (run) values ($((400 + run)))" >/dev/null
    wait_for "$(wh native_backlog)" "$(marker_in bench_marker $((400 + run)))"
    read -r p50 p99 max n < <(lag_stats "$(wh native_backlog)" "select extract(epoch from _arrived - pg_xact_commit_timestamp(xmin))
      from pgbench_history where mtime >= '$since'")
    printf 'lag_native\t%s\t%s\t%s\t%s\t%s\t-\t%s\n' "$run" "$n" "$p50" "$p99" "$max" "$(loadavg)" >>"$results"
    printf '%-6s %-8s %9s %9s %9s %9s %9s %8s\n' "$run" native "$n" "$p50" "$p99" "$max" - "$(loadavg)"
  done
fi

# --- summary ---------------------------------------------------------------------------
col() {  # PART COLUMN: the median of that column of that part's rows
  local values; values=$(awk -F'\t' -v p="$1" -v c="$2" '$1 == p && $c != "-" { print $c }' "$results")
  [[ -z "$values" ]] || median <<<"$values"
}
colmax() { awk -F'\t' -v p="$1" -v c="$2" '$1 == p && $c != "-" && $c > m { m = $c } END { print m + 0 }' "$results"; }
printf '\nmedian of %d run(s); load average at start %s, at end %s (2 shared cores: other work skews every figure)\n' \
  "$runs" "$load_at_start" "$(uptime | sed 's/.*load average: //')"
if part_on backlog; then
  awk -v tx="$(col backlog 3)" -v w="$(col backlog 4)" -v n="$(col backlog 5)" -v s="$(col backlog 6)" -v m="$(colmax backlog 7)" 'BEGIN {
    r = n / s
    printf "  backlog catch-up, %d source tx (%d row changes, %s MB of WAL): native subscription %.2f s (%.0f tx/s),", tx, tx * 4, w, n, tx / n
    printf " sluice %.2f s (%.0f tx/s): sluice at %.3fx native'"'"'s speed (%s the 1.0 target); sluice peak RSS %s MB\n", s, tx / s, r, (r >= 1 ? "meets" : "MISSES"), m }'
fi
if part_on snapshot; then
  awk -v sc="$cdc_snapshot_scale" -v n="$(col snapshot 3)" -v s="$(col snapshot 4)" -v o="$(col snapshot 5)" -v m="$(colmax snapshot 6)" 'BEGIN {
    r = n / s
    printf "  initial snapshot of pgbench scale %s: native initial sync %.2f s, sluice to state streaming %.2f s (whole --once %.2f s):", sc, n, s, o
    printf " sluice at %.3fx native'"'"'s speed (%s the 1.0 target); sluice peak RSS %s MB\n", r, (r >= 1 ? "meets" : "MISSES"), m }'
fi
if part_on lag; then
  awk -v rate="$cdc_lag_rate" -v p50="$(col lag_sluice 4)" -v p99="$(col lag_sluice 5)" -v m="$(colmax lag_sluice 7)" \
      -v n50="$(col lag_native 4)" -v n99="$(col lag_native 5)" 'BEGIN {
    printf "  lag at %s tx/s: sluice p50 %.1f ms, p99 %.1f ms (%s the p99 < 100 ms target); native p50 %.1f ms, p99 %.1f ms;", rate, p50, p99, (p99 < 100 ? "meets" : "MISSES"), n50, n99
    printf " sluice daemon peak RSS %s MB\n", m }'
fi
