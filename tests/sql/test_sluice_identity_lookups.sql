-- The ledger's identity lookups stay index lookups while the ledger grows
-- within a run (before its statistics catch up).
--
-- BUG (2026-12-06, scripts/bench.sh --files): ledger version 8 indexed
-- (feed, head_hash) and (feed, lead_hash); on a ledger grown in one run the
-- planner took files_head for an index on the feed alone, and every content
-- lookup (is this new file a duplicate?) walked all rows of its feed:
-- `sluice run --once` over 20,000 one-event files ran at 538 files/s where it
-- had run at 6,477. Here: 20,000 loaded rows of one feed, inserted just now,
-- and the lookup of a content no row has, as file_ledger.cpp's
-- lookup_contents() makes it; it may look at a handful of rows, not the feed;
-- then again with the rows loading.
--
-- Run by tests/sql/run_sql_test.sh in a fresh migrated database.

\set ON_ERROR_STOP 1
\o /dev/null
set client_min_messages = warning;

insert into sluice.files (feed, path, state, device, inode, size_seen, bytes_done, content_size,
                          content_hash, head_hash, lead_hash)
select 'cards', 'cards/' || g || '.json', 'loaded', 1, g, 300 + g % 40, 300 + g % 40, 300 + g % 40,
       md5('content ' || g), md5('head ' || g), md5('{')
from generate_series(1, 20000) g;

create function pg_temp.check_content_lookup(rows_are text) returns void language plpgsql as $$
declare
  plan jsonb;
  walked numeric;
begin
  execute $q$
    explain (analyze, format json)
    select s.idx, l.id, p.id
    from unnest(array['cards'], array[310::bigint], array['no such content']) with ordinality as s(feed, size, hash, idx)
    left join lateral (select * from sluice.files f where f.feed = s.feed and f.content_size = s.size
                         and f.content_hash = s.hash and f.state = 'loaded' limit 1) l on true
    left join lateral (select * from (
        (select * from sluice.files c where c.feed = s.feed and c.content_size = s.size
           and c.content_hash = s.hash and c.state = 'loading' limit 1)
        union all
        (select * from sluice.files c where c.feed = s.feed and c.content_size = s.size
           and c.content_hash is null and c.state = 'loading' limit 1)) q limit 1) p on true
  $q$ into plan;
  select coalesce(sum(v::numeric), 0) into walked
  from jsonb_path_query(plan, 'strict $.**."Rows Removed by Filter"') as v;
  if walked > 1000 then
    raise exception 'the content lookup walked % rows of its feed, %, to find nothing (an index lookup looks at a handful): %',
      walked, rows_are, plan;
  end if;
end $$;

select pg_temp.check_content_lookup('loaded');

-- The same rows all loading at once (a run that found 20,000 new files):
-- the index of status's files loading (sluice migration 0023) is not one
-- the lookups may take for their feed and state (it was, and they walked
-- every file loading: the load 2.3x slower).
update sluice.files set state = 'loading';
select pg_temp.check_content_lookup('loading');
