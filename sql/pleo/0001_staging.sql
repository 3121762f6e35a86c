-- Pleo pack, staging: one table per service, typed. A users service and a cards
-- service each write one pretty-printed JSON file per event,
-- <event_id>.json, into pleo/users/ and pleo/cards/ under the inbox:
--
--   {"metadata": {"type": "user", "event_at": "2026-11-30 16:57:04", "event_id": "<uuid>"},
--    "payload": {"id": 3, "name": ..., "address": "...\n...", "job": ..., "score": 0.06}}
--   {"payload": {"id": 8, "user_id": 810, "created_by_name": ..., "updated_at": ...,
--                "created_at": ..., "active": true},
--    "metadata": {"type": "card", ...}}
--
-- The column types and NOT NULLs are the feeds' contract: the loader rejects a
-- record that lacks a NOT NULL column, naming its JSON pointer. Cards created
-- without a user (and every later change of such a card, which lacks user_id
-- too) are rejected that way: user_id is NOT NULL. No CHECK constraints here: a
-- failing check would abort a whole COPY.
--
-- The services' timestamps have one-second resolution and no time zone; they are
-- UTC. They stay naive here (timestamp: the loader takes naive text for it, and
-- refuses it for timestamptz); core converts them with `at time zone 'UTC'`.

create table staging.pleo_user (
  _file_id bigint not null,
  _record  bigint not null,
  event_id text not null,
  event_at timestamp not null,
  user_id  integer not null,
  name     text,
  address  text,
  job      text,
  score    double precision
);

create table staging.pleo_card (
  _file_id        bigint not null,
  _record         bigint not null,
  event_id        text not null,
  event_at        timestamp not null,
  card_id         integer not null,
  user_id         integer not null,
  created_by_name text,
  updated_at      timestamp not null,
  created_at      timestamp,
  active          boolean not null
);

comment on table staging.pleo_user is 'Pleo user events as loaded, one row per file of pleo/users/ (a user''s latest state is core.pleo_user).';
comment on column staging.pleo_user._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.pleo_user._record is '1-based ordinal of the record in its file (1: one event per file).';
comment on column staging.pleo_user.event_id is '/metadata/event_id: the event''s UUID (also the file name).';
comment on column staging.pleo_user.event_at is '/metadata/event_at: when the users service emitted the event, UTC, naive, one-second resolution.';
comment on column staging.pleo_user.user_id is '/payload/id: the user.';
comment on column staging.pleo_user.name is '/payload/name: the user''s name.';
comment on column staging.pleo_user.address is '/payload/address: postal address; may contain newlines.';
comment on column staging.pleo_user.job is '/payload/job: the user''s job.';
comment on column staging.pleo_user.score is '/payload/score: a score between 0 and 1.';

comment on table staging.pleo_card is 'Pleo card events as loaded, one row per file of pleo/cards/: a card''s creation or a change of it. Events without /payload/user_id are in sluice.rejects (feed pleo_cards), not here. Current state: core.pleo_card; history: core.pleo_card_history.';
comment on column staging.pleo_card._file_id is 'File the row came from (sluice.files.id).';
comment on column staging.pleo_card._record is '1-based ordinal of the record in its file (1: one event per file).';
comment on column staging.pleo_card.event_id is '/metadata/event_id: the event''s UUID (also the file name); every change of a card has its own.';
comment on column staging.pleo_card.event_at is '/metadata/event_at: when the cards service emitted the event, UTC, naive, one-second resolution.';
comment on column staging.pleo_card.card_id is '/payload/id: the card; the same for its creation and every change.';
comment on column staging.pleo_card.user_id is '/payload/user_id: the card''s user; may name a user no user event has described (yet).';
comment on column staging.pleo_card.created_by_name is '/payload/created_by_name: name of who created the card.';
comment on column staging.pleo_card.updated_at is '/payload/updated_at: when this state of the card began, UTC, naive, one-second resolution; several changes of a card can share a second.';
comment on column staging.pleo_card.created_at is '/payload/created_at: when the card was created, UTC, naive.';
comment on column staging.pleo_card.active is '/payload/active: whether the card is active in this state.';

-- The feeds. Two, one per folder, rather than one feed routed by
-- /metadata/type over both folders: each service owns its folder, so a file's
-- folder already says what it is, and rejects and ledger counts come out per
-- service (feed pleo_users / pleo_cards). Each still routes on /metadata/type
-- with a single target, so that an event of the other kind dropped into the
-- wrong folder is a reject ("unknown type") instead of being loaded as
-- something it is not. *.json only: the cards service also keeps its
-- __id_counter in pleo/cards/, which is no event.
insert into sluice.feeds (name, file_globs, format, route_pointer, description) values
  ('pleo_users', '{pleo/users/*.json}', 'json', '/metadata/type',
   'Pleo users service: one pretty-printed JSON event per file, <event_id>.json.'),
  ('pleo_cards', '{pleo/cards/*.json}', 'json', '/metadata/type',
   'Pleo cards service: one pretty-printed JSON event per file, <event_id>.json; events without user_id are rejected.');

insert into sluice.feed_targets (feed, route_value, target_table) values
  ('pleo_users', 'user', 'staging.pleo_user'),
  ('pleo_cards', 'card', 'staging.pleo_card');

insert into sluice.feed_columns (feed, target_table, column_name, json_pointer)
select f.feed, f.target_table, m.column_name, m.json_pointer
  from (values ('pleo_users', 'staging.pleo_user'), ('pleo_cards', 'staging.pleo_card'))
         as f(feed, target_table)
 cross join (values ('event_id', '/metadata/event_id'), ('event_at', '/metadata/event_at'))
         as m(column_name, json_pointer)
union all
select 'pleo_users', 'staging.pleo_user', c, p
  from (values ('user_id', '/payload/id'), ('name', '/payload/name'),
               ('address', '/payload/address'), ('job', '/payload/job'),
               ('score', '/payload/score')) as m(c, p)
union all
select 'pleo_cards', 'staging.pleo_card', c, p
  from (values ('card_id', '/payload/id'), ('user_id', '/payload/user_id'),
               ('created_by_name', '/payload/created_by_name'),
               ('updated_at', '/payload/updated_at'), ('created_at', '/payload/created_at'),
               ('active', '/payload/active')) as m(c, p);
