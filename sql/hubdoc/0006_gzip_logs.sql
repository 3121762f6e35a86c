-- Hubdoc logs may arrive gzip-compressed (hubdoc/*.log.gz): the loader reads a
-- .gz file as its content, so the feed only needs to take those names too.
update sluice.feeds
   set file_globs = file_globs || '{hubdoc/*.log.gz,hubdoc/*.ndjson.gz,hubdoc/*.jsonl.gz}'::text[]
 where name = 'hubdoc';
