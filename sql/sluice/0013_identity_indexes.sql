-- The indexes that find a file by its first bytes lead with the hash, not the
-- feed. With the feed first (ledger version 8), the planner could take them
-- for an index on the feed alone: while the statistics of a ledger that grows
-- within a run lagged behind it, every content lookup (is this new file a
-- duplicate?) walked all rows of its feed through files_head, and `sluice run
-- --once` over 20,000 one-event files ran at 538 files/s where it had run at
-- 6,477 (scripts/bench.sh --files). A hash first is selective on its own;
-- lookups by (feed, content_size, content_hash) keep files_content.

drop index sluice.files_lead;
drop index sluice.files_head;
create index files_lead on sluice.files (lead_hash, feed)
  where state in ('loading', 'loaded') and lead_hash is not null;
create index files_head on sluice.files (head_hash, feed)
  where state in ('loading', 'loaded');
