-- The feed contract learns CSV and value formats (issue "CSV and gzip, value
-- formats in the feed contract"): a feed may be csv; a column may come from a
-- CSV header name or position instead of a JSON pointer; how text values are
-- read (the strings that mean NULL, date and timestamp formats, the time zone
-- of timestamps written without an offset, booleans) is declared per feed and
-- may be overridden per column.

alter table sluice.feeds drop constraint feeds_format_check;
alter table sluice.feeds add constraint feeds_format_check
  check (format in ('auto', 'ndjson', 'json', 'csv'));

alter table sluice.feeds
  add column csv_delimiter     text not null default ',' check (length(csv_delimiter) = 1),
  add column csv_quote         text not null default '"' check (length(csv_quote) = 1),
  add column csv_escape        text check (length(csv_escape) = 1),
  add column csv_header        boolean not null default true,
  add column null_strings      text[] not null default '{}',
  add column date_formats      text[] not null default '{YYYY-MM-DD}',
  add column timestamp_formats text[] not null default '{}',
  add column time_zone         text,
  add column true_strings      text[] not null default '{true,t,1,yes,y}',
  add column false_strings     text[] not null default '{false,f,0,no,n}';

comment on column sluice.feeds.format is 'ndjson: one record per line; json: pretty-printed document(s) or a top-level array of records; csv: RFC 4180 rows (see the csv_* columns); auto: json when the first line is a lone { or [, else ndjson.';
comment on column sluice.feeds.csv_delimiter is 'CSV: the field delimiter (one character).';
comment on column sluice.feeds.csv_quote is 'CSV: the quote character; a quote inside a quoted field is written twice.';
comment on column sluice.feeds.csv_escape is 'CSV: a character that escapes the next one inside quotes (e.g. backslash); NULL: only doubled quotes.';
comment on column sluice.feeds.csv_header is 'CSV: whether the first row names the columns (then columns are mapped by header name, in any order); else by position.';
comment on column sluice.feeds.null_strings is 'Text values that mean NULL, compared after trimming spaces, e.g. {"",None,NULL,N/A}. Per column in feed_columns.null_strings.';
comment on column sluice.feeds.date_formats is 'Accepted formats of date values, tried in order: YYYY, MM, DD and literal separators, e.g. {YYYY-MM-DD,YYYY/MM/DD}.';
comment on column sluice.feeds.timestamp_formats is 'Accepted formats of timestamp values besides ISO 8601 (YYYY, MM, DD, HH24, MI, SS, FF for fractions, literals); empty: ISO 8601 only.';
comment on column sluice.feeds.time_zone is 'Time zone (IANA name, e.g. UTC or Europe/Oslo) of timestamps written without an offset, for timestamptz columns; NULL: such values are rejected as ambiguous.';
comment on column sluice.feeds.true_strings is 'Text values read as true for boolean columns (case-insensitive).';
comment on column sluice.feeds.false_strings is 'Text values read as false for boolean columns (case-insensitive).';

alter table sluice.feed_columns
  alter column json_pointer drop not null,
  add column csv_header   text,
  add column csv_position int check (csv_position >= 1),
  add column null_strings text[],
  add column date_formats text[],
  add column timestamp_formats text[],
  add column time_zone    text,
  add constraint feed_columns_one_source check (num_nonnulls(json_pointer, csv_header, csv_position) = 1);

comment on table sluice.feed_columns is 'Which JSON pointer, CSV header name or CSV position fills which staging column, and per-column value formats. Columns without a mapping (other than _file_id, _record) get their default.';
comment on column sluice.feed_columns.json_pointer is 'JSON feeds: RFC 6901 pointer into the record, e.g. /details/change_date.';
comment on column sluice.feed_columns.csv_header is 'CSV feeds with a header: the header name of the field (exact, after trimming); a file whose header lacks it is rejected whole.';
comment on column sluice.feed_columns.csv_position is 'CSV feeds without a header: the 1-based position of the field.';
comment on column sluice.feed_columns.null_strings is 'Overrides sluice.feeds.null_strings for this column.';
comment on column sluice.feed_columns.date_formats is 'Overrides sluice.feeds.date_formats for this column.';
comment on column sluice.feed_columns.timestamp_formats is 'Overrides sluice.feeds.timestamp_formats for this column.';
comment on column sluice.feed_columns.time_zone is 'Overrides sluice.feeds.time_zone for this column.';
