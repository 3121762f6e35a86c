#!/usr/bin/env bash
# The Pleo pack end to end: sluice-gen-pleo writes user and card event files,
# `sluice run --once` loads them into a fresh database, and then
#   * every event file is in the ledger, and __id_counter is not;
#   * loaded + rejected = files, and the rejects are exactly the card events
#     without user_id (the count the generator printed), each naming
#     /payload/user_id;
#   * core and the report equal their full recompute from staging, with one
#     current version per card.
#
#   SLUICE_TEST_DSN='host=... port=... user=...' tests/pleo_end_to_end_test.sh SLUICE_BINARY GEN_BINARY
#
# SLUICE_TEST_DSN as for tests/sql/run_sql_test.sh.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: SLUICE_TEST_DSN=<conninfo> $0 SLUICE_BINARY GEN_BINARY" >&2
  exit 2
fi
sluice_binary=$1
gen_binary=$2
: "${SLUICE_TEST_DSN:?set SLUICE_TEST_DSN to a libpq conninfo of the test server, e.g. host=/tmp port=5432 user=postgres}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

db="sluice_pleo_e2e_$(date +%s)_${RANDOM}${RANDOM}"
test_dsn="$SLUICE_TEST_DSN dbname=$db"
work=$(mktemp -d)
admin() { psql -X -q -v ON_ERROR_STOP=1 -d "$SLUICE_TEST_DSN" "$@"; }
cleanup() {
  admin -c "drop database if exists $db with (force)" >/dev/null || \
    echo "$0: could not drop test database $db; drop it by hand" >&2
  rm -rf "$work"
}
admin -c "create database $db"
trap cleanup EXIT

# users=N cards=M cards_without_user=K
counts=$("$gen_binary" --out "$work/inbox/pleo" --users 300 --cards 1500 --seed 42 --shuffle-names)
users=$(sed -n 's/.*users=\([0-9]*\) .*/\1/p' <<<"$counts")
cards=$(sed -n 's/.*cards=\([0-9]*\) .*/\1/p' <<<"$counts")
without_user=$(sed -n 's/.*cards_without_user=\([0-9]*\).*/\1/p' <<<"$counts")
[[ -n $users && -n $cards && -n $without_user ]] || { echo "$0: cannot read the generator's counts: $counts" >&2; exit 1; }
[[ -f $work/inbox/pleo/cards/__id_counter ]] || { echo "$0: the generator wrote no __id_counter" >&2; exit 1; }

"$sluice_binary" --log-level warn migrate --dsn "$test_dsn"
"$sluice_binary" --log-level error run --once --dsn "$test_dsn" --inbox "$work/inbox"

# The counts go in by the shell (psql does not expand its variables inside quotes).
psql -X -q -v ON_ERROR_STOP=1 -d "$test_dsn" <<SQL
\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;
\ir $here/sql/lib/helpers.sql

select pg_temp.assert_same('every event file is loaded, as what it is, and __id_counter is not',
  \$\$select feed, state, count(*) from sluice.files group by feed, state\$\$,
  \$\$values ('pleo_users', 'loaded', $users::bigint), ('pleo_cards', 'loaded', $cards)\$\$);
select pg_temp.assert_same('loaded + rejected = events; the rejects are the cards without user_id',
  \$\$select feed, sum(rows_loaded), sum(rows_rejected) from sluice.files group by feed\$\$,
  \$\$values ('pleo_users', $users::numeric, 0::numeric), ('pleo_cards', $cards - $without_user, $without_user)\$\$);
select pg_temp.assert_same('every reject names /payload/user_id',
  'select feed, field, count(*) from sluice.rejects group by feed, field',
  \$\$values ('pleo_cards', '/payload/user_id', $without_user::bigint)\$\$);
select pg_temp.assert_same('staging holds what the files say',
  \$\$select (select count(*) from staging.pleo_user), (select count(*) from staging.pleo_card),
           (select count(*) from staging.pleo_user where address like E'%\n%')\$\$,
  \$\$values ($users::bigint, $cards - $without_user::bigint, $users::bigint)\$\$);

select pg_temp.assert_same('users equal their full recompute',
  'select * from core.pleo_user', 'select * from core.pleo_user_full()');
select pg_temp.assert_same('cards equal their full recompute',
  'select * from core.pleo_card', 'select * from core.pleo_card_full()');
select pg_temp.assert_same('the card history equals its full recompute',
  \$\$select card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at,
           event_id, _file_id, _record, events from core.pleo_card_history\$\$,
  'select * from core.pleo_card_history_full()');
select pg_temp.assert_same('one current version per card',
  'select card_id, count(*) from core.pleo_card_history where is_current group by card_id',
  'select card_id, 1::bigint from core.pleo_card');
select pg_temp.assert_same('the report equals its full recompute',
  'select * from reports.pleo_cards_per_user', 'select * from reports.pleo_cards_per_user_full()');
select pg_temp.assert_same('the unknown user is in the report',
  'select user_id, user_known from reports.pleo_cards_per_user where not user_known',
  \$\$values ($users, false)\$\$);
SQL
echo "$(basename "$0"): passed ($counts)"
