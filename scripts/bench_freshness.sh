# shellcheck shell=bash
# shellcheck disable=SC2154  # work, sluice, freshness_files and databases come from bench.sh
# The --freshness case of scripts/bench.sh (see its --help): how soon a file
# dropped into the daemon's inbox is in its pack's report. Sourced by bench.sh
# after its build; uses its $work, $sluice, q, now, secs_between and
# commit_ts_cluster.
#
# What is timed, per file: from the moment the writer closed it to the commit
# of the transaction that changed the report row (pg_xact_commit_timestamp of
# the row's xmin, both on this machine's clock). Polling the report only finds
# that row; its speed is not in the figure.

fresh_daemon=
freshness_teardown() {
  if [[ -n "$fresh_daemon" ]]; then
    kill -TERM "$fresh_daemon" 2>/dev/null || true
    wait "$fresh_daemon" 2>/dev/null || true
  fi
}

commit_ts_cluster durable
dsn=$SLUICE_THROWAWAY_DSN
fresh_db=bench_freshness
databases+=("$fresh_db")
q "$dsn" "create database $fresh_db" >/dev/null
fresh_dsn=$(sluice_cluster_dsn "$SLUICE_THROWAWAY_DIR" "$fresh_db")
"$sluice" migrate --dsn "$fresh_dsn" --packs hubdoc,orders >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; sluice_die "sluice migrate failed"; }
inbox=$work/inbox
mkdir -p "$inbox/hubdoc" "$inbox/orders"
"$sluice" run --dsn "$fresh_dsn" --inbox "$inbox" >"$work/daemon.log" 2>&1 &
fresh_daemon=$!
for _ in $(seq 200); do
  grep -q watching "$work/daemon.log" && break
  kill -0 "$fresh_daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; sluice_die "the daemon ended"; }
  sleep 0.1
done

# fresh_pack NAME FILE_PATTERN REPORT_QUERY LINE_FN: per file i (1..N) writes
# $(LINE_FN i) into FILE_PATTERN with i, waits until REPORT_QUERY (with :i
# replaced) says true, then prints the seconds from close to the commit of the
# row REPORT_QUERY's table shows (the query's second column: its xmin's commit
# timestamp, epoch seconds). A CSV export waits for the settle time (500 ms by
# default) after its close: its first line, the header, is the same in every
# export of the feed, so until it settles it may be a copy of a loaded one.
fresh_pack() {
  local name=$1 pattern=$2 query=$3 line_fn=$4 i closed seen committed
  for ((i = 1; i <= freshness_files; i++)); do
    "$line_fn" "$i" >"$work/$name.part"
    local path=${pattern//:i/$i}
    cat "$work/$name.part" >"$path"  # written and closed in place, as a writer does
    closed=$(now)
    while :; do
      seen=$(q "$fresh_dsn" "${query//:i/$i}")
      [[ "${seen%%|*}" == true ]] && break
      if awk -v waited="$(secs_between "$closed" "$(now)")" 'BEGIN { exit !(waited > 30) }'; then
        tail -20 "$work/daemon.log" >&2
        sluice_die "$name: file $i was not in the report after 30 s"
      fi
      sleep 0.005
    done
    committed=${seen#*|}
    secs_between "$closed" "$committed"
    echo
    sleep 0.05
  done
}

hubdoc_line() {
  printf '{"date": "2019-06-01T10:00:00-04:00", "log_type": "SIGN_UP", "level": "INFO", "account": %d, "plan": "PLAN_GOLD", "firstname": "Ana", "lastname": "Lee", "address": "'"'"'12 Elm St., Moncton, NB E1A 1A1'"'"'"}\n' "$((100000 + $1))"
}
orders_line() {
  printf 'order_id,ordered_at,customer_id,product_id,product_name,quantity,unit_price,status\n%d,2024-03-01T10:00:00Z,%d,1,Widget,1,9.99,paid\n' "$((900000 + $1))" "$1"
}

# p50, p99 (nearest rank) and max of the figures on stdin, in ms.
percentiles() {
  sort -g | awk '{ v[NR] = $1 * 1000 } END {
    p50 = v[int((NR + 1) / 2)]; r = int(NR * 0.99); if (r < NR * 0.99) r++; if (r < 1) r = 1
    printf "p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d files)", p50, v[r], v[NR], NR }'
}

echo "freshness: $freshness_files files per pack into a running daemon (load average $(cut -d' ' -f1 /proc/loadavg)) ..." >&2
hubdoc_figures=$(fresh_pack hubdoc "$inbox/hubdoc/fresh-:i.log" \
  "select coalesce(bool_or(signups >= :i), false) || '|' || coalesce(max(extract(epoch from pg_xact_commit_timestamp(xmin))), 0)
     from reports.hubdoc_signup_plans where year = 2019 and plan = 'PLAN_GOLD'" hubdoc_line)
orders_figures=$(fresh_pack orders "$inbox/orders/fresh-:i.csv" \
  "select coalesce(bool_or(orders >= :i), false) || '|' || coalesce(max(extract(epoch from pg_xact_commit_timestamp(xmin))), 0)
     from reports.orders_daily where day = '2024-03-01'" orders_line)
echo "freshness, from a file's close to its rows' commit in the report (target p99 < 1 s), load average $(cut -d' ' -f1 /proc/loadavg):"
echo "  hubdoc (reports.hubdoc_signup_plans, the report job): $(percentiles <<<"$hubdoc_figures")"
echo "  orders (reports.orders_daily, statement triggers):    $(percentiles <<<"$orders_figures")"
