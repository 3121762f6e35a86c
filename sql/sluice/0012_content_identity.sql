-- A file's identity for duplicates is its content: a .gz file's decompressed
-- content, a plain file's own bytes. Before, a .gz was known by its compressed
-- bytes, so `export.csv` and `export.csv.gz` (or the same content split into
-- other gzip members) both loaded. content_size and content_hash now count
-- the content; a .gz row written before this version keeps its compressed
-- size and hash (it matches only a byte-identical .gz, as before).
--
-- A settled .gz read to its end may have lost parts (a gzip member whose CRC,
-- length or deflate data is damaged: none of its rows loads, the rest does);
-- the row is then loaded with a reason, and the run counts it as not loaded
-- completely.

comment on column sluice.files.content_size is 'Size of the whole content when the file was settled (complete): a plain file''s bytes, a .gz file''s decompressed content (each lost part of a damaged member counts as one byte). With content_hash, a later file of the same content, plain or compressed however it is split into gzip members, is recognised as a duplicate. (A .gz row from before version 10: its compressed size.)';
comment on column sluice.files.content_hash is 'XXH3-128 of the whole content of the settled file (decompressed for a .gz; NULL while it is a growing log). (A .gz row from before version 10: of its compressed bytes.)';
comment on column sluice.files.reason is 'Why a refused, gone or duplicate file was not loaded, or why a file read to its end is not loaded completely (a .gz with damaged gzip members: which compressed bytes were lost and why), in words a person can act on.';
