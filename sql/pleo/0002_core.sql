-- Pleo pack, core: users, cards, and the cards' history (SCD type 2), kept by
-- the statement triggers of 0204_maintenance.sql; each table also has a *_full()
-- function here that computes it from staging alone (the reference the tests
-- hold the triggers to, and what core.pleo_rebuild() loads).
--
-- Conventions
--   * The services' naive timestamps are UTC: staging's `timestamp` values
--     become timestamptz with `at time zone 'UTC'`.
--   * Order of events, deterministic and independent of the order they were
--     loaded in:
--       users: event_at, then event_id, then (_file_id, _record);
--       cards: updated_at, then event_at, then event_id, then (_file_id, _record).
--     The "latest" event is the last in that order. event_id compares as plain
--     bytes (collate "C"), whatever the database's collation. Ties on the
--     timestamps are common (one-second resolution; a card often changes
--     several times in one second) and nothing in the events says which came
--     first; event_id at least makes the answer a function of the events
--     loaded, so a reload or a rebuild gives the same one. Load order would not:
--     the start-up scan takes files sorted by name, i.e. by random UUID, and the
--     daemon in the order they settle. (_file_id, _record) only separates two
--     loaded copies of one event_id.
--   * SCD2 current row: valid_to = 'infinity' (not NULL); validity is the
--     half-open range [valid_from, valid_to), as in the hubdoc pack.
--   * A card keeps the user_id its events carry, also when no user event has
--     described that user (the cards service names user 1000, which the users
--     service never creates). Whether the user is known is a join, never a
--     stored flag that a late user event would have to find and fix:
--     core.pleo_card_with_user and reports.pleo_cards_per_user.

-- Users -------------------------------------------------------------------------

create table core.pleo_user (
  user_id  integer primary key,
  name     text,
  address  text,
  job      text,
  score    double precision,
  event_at timestamptz not null,
  event_id text collate "C" not null,
  _file_id bigint not null,
  _record  bigint not null
);
comment on table core.pleo_user is 'Pleo users, one row per user: the payload of their latest user event (by event_at, then event_id; see the header of sql/pleo/0202_core.sql). Kept by a statement trigger on staging.pleo_user.';
comment on column core.pleo_user.user_id is 'The user (payload id); cards name it in user_id.';
comment on column core.pleo_user.name is 'Name, from the latest user event.';
comment on column core.pleo_user.address is 'Postal address, from the latest user event; may contain newlines.';
comment on column core.pleo_user.job is 'Job, from the latest user event.';
comment on column core.pleo_user.score is 'Score between 0 and 1, from the latest user event.';
comment on column core.pleo_user.event_at is 'event_at of the latest user event (UTC).';
comment on column core.pleo_user.event_id is 'event_id of the latest user event (its file is <event_id>.json).';
comment on column core.pleo_user._file_id is 'File of the latest user event (sluice.files.id).';
comment on column core.pleo_user._record is 'Record number of the latest user event in its file.';

-- Cards: current state ----------------------------------------------------------

create table core.pleo_card (
  card_id         integer primary key,
  user_id         integer not null,
  created_by_name text,
  created_at      timestamptz,
  updated_at      timestamptz not null,
  active          boolean not null,
  event_at        timestamptz not null,
  event_id        text collate "C" not null,
  _file_id        bigint not null,
  _record         bigint not null
);
create index pleo_card_user on core.pleo_card (user_id);

comment on table core.pleo_card is 'Pleo cards, one row per card: the payload of its latest event (by updated_at, then event_at, then event_id; see the header of sql/pleo/0202_core.sql), i.e. the current row of core.pleo_card_history. Cards whose events lack user_id are not here (they are rejects). Kept by a statement trigger on staging.pleo_card. Whether the card''s user is known: core.pleo_card_with_user.';
comment on column core.pleo_card.card_id is 'The card (payload id).';
comment on column core.pleo_card.user_id is 'The card''s user, as the latest event says; also when no user event describes that user (then it is not in core.pleo_user).';
comment on column core.pleo_card.created_by_name is 'Name of who created the card, as the latest event says.';
comment on column core.pleo_card.created_at is 'When the card was created (UTC), as the latest event says.';
comment on column core.pleo_card.updated_at is 'When the card''s current state began (UTC): updated_at of the latest event.';
comment on column core.pleo_card.active is 'Whether the card is active now.';
comment on column core.pleo_card.event_at is 'event_at of the latest event (UTC).';
comment on column core.pleo_card.event_id is 'event_id of the latest event (its file is <event_id>.json).';
comment on column core.pleo_card._file_id is 'File of the latest event (sluice.files.id).';
comment on column core.pleo_card._record is 'Record number of the latest event in its file.';

-- Cards: history, SCD type 2 ------------------------------------------------------

-- One version per card and distinct updated_at. Changes of a card that share
-- one updated_at second are one version: the last of them in event order
-- (event_at, event_id, _file_id, _record) gives its state, and `events` says
-- how many there were. The ones before it lasted less than the timestamps can
-- tell; as versions of their own they would be empty ranges [t, t) next to a
-- version starting at the same instant, and "the version in effect at t" would
-- not be one row.
create table core.pleo_card_history (
  card_id         integer not null,
  valid_from      timestamptz not null,
  valid_to        timestamptz not null default 'infinity',
  is_current      boolean generated always as (valid_to = 'infinity') stored,
  user_id         integer not null,
  active          boolean not null,
  created_by_name text,
  created_at      timestamptz,
  event_at        timestamptz not null,
  event_id        text collate "C" not null,
  _file_id        bigint not null,
  _record         bigint not null,
  events          integer not null,
  primary key (card_id, valid_from),
  check (valid_from < valid_to)
);
-- Exactly one current row per card. A deferrable constraint rather than a
-- unique index so that it is checked at the end of each statement, not row by
-- row: the trigger ends a version and inserts its successor in one statement.
alter table core.pleo_card_history
  add constraint pleo_card_history_one_current
  exclude using btree (card_id with =) where (valid_to = 'infinity')
  deferrable initially immediate;

comment on table core.pleo_card_history is 'Pleo cards with their history (SCD type 2 by updated_at): one version per card and distinct updated_at, valid over [valid_from, valid_to); the current version has valid_to = ''infinity'', exactly one per card. Changes within one second are one version (the last of them in event order; see events). Correct whatever order events arrive in. Kept by a statement trigger on staging.pleo_card.';
comment on column core.pleo_card_history.card_id is 'The card.';
comment on column core.pleo_card_history.valid_from is 'Start of this version (inclusive): the updated_at of its events (UTC).';
comment on column core.pleo_card_history.valid_to is 'End of this version (exclusive): valid_from of the next version, or ''infinity'' for the current one.';
comment on column core.pleo_card_history.is_current is 'True for the card''s current version (valid_to = ''infinity'').';
comment on column core.pleo_card_history.user_id is 'The card''s user during this version (known or not: see core.pleo_user).';
comment on column core.pleo_card_history.active is 'Whether the card was active during this version.';
comment on column core.pleo_card_history.created_by_name is 'Name of who created the card, as this version''s event says.';
comment on column core.pleo_card_history.created_at is 'When the card was created (UTC), as this version''s event says.';
comment on column core.pleo_card_history.event_at is 'event_at of the event that gives this version its state (UTC).';
comment on column core.pleo_card_history.event_id is 'event_id of the event that gives this version its state: the last, in event order, of the events with this updated_at.';
comment on column core.pleo_card_history._file_id is 'File of that event (sluice.files.id).';
comment on column core.pleo_card_history._record is 'Record number of that event in its file.';
comment on column core.pleo_card_history.events is 'How many events of the card have this updated_at (more than 1: changes within one second, of which only the last is a state here).';

-- Cards with their user ---------------------------------------------------------------

create view core.pleo_card_with_user as
select c.card_id, c.user_id, u.user_id is not null as user_known, u.name as user_name,
       u.job as user_job, c.created_by_name, c.created_at, c.updated_at, c.active
  from core.pleo_card c
  left join core.pleo_user u on u.user_id = c.user_id;

comment on view core.pleo_card_with_user is 'Each card''s current state with its user, when a user event describes that user; a user loaded after their cards is known here at once.';
comment on column core.pleo_card_with_user.card_id is 'The card.';
comment on column core.pleo_card_with_user.user_id is 'The card''s user id, known or not.';
comment on column core.pleo_card_with_user.user_known is 'True when core.pleo_user has this user; false for a user_id no user event has described (yet), e.g. 1000.';
comment on column core.pleo_card_with_user.user_name is 'The user''s name; NULL when the user is unknown.';
comment on column core.pleo_card_with_user.user_job is 'The user''s job; NULL when the user is unknown.';
comment on column core.pleo_card_with_user.created_by_name is 'Name of who created the card.';
comment on column core.pleo_card_with_user.created_at is 'When the card was created (UTC).';
comment on column core.pleo_card_with_user.updated_at is 'When the card''s current state began (UTC).';
comment on column core.pleo_card_with_user.active is 'Whether the card is active now.';

-- Full recompute, straight from staging -----------------------------------------------
-- Deliberately independent of the triggers' code: the reference the
-- incrementally kept tables are tested against, and what core.pleo_rebuild()
-- loads. They scan staging: fine for checks and rebuilds.

create function core.pleo_user_full()
  returns table (user_id integer, name text, address text, job text, score double precision,
                 event_at timestamptz, event_id text, _file_id bigint, _record bigint)
  language sql stable
as $$
  select distinct on (s.user_id) s.user_id, s.name, s.address, s.job, s.score,
         s.event_at at time zone 'UTC', s.event_id, s._file_id, s._record
    from staging.pleo_user s
   order by s.user_id, s.event_at desc, s.event_id collate "C" desc, s._file_id desc, s._record desc
$$;
comment on function core.pleo_user_full() is
  'core.pleo_user computed from scratch from staging.pleo_user.';

create function core.pleo_card_full()
  returns table (card_id integer, user_id integer, created_by_name text, created_at timestamptz,
                 updated_at timestamptz, active boolean, event_at timestamptz, event_id text,
                 _file_id bigint, _record bigint)
  language sql stable
as $$
  select distinct on (s.card_id) s.card_id, s.user_id, s.created_by_name,
         s.created_at at time zone 'UTC', s.updated_at at time zone 'UTC', s.active,
         s.event_at at time zone 'UTC', s.event_id, s._file_id, s._record
    from staging.pleo_card s
   order by s.card_id, s.updated_at desc, s.event_at desc, s.event_id collate "C" desc,
            s._file_id desc, s._record desc
$$;
comment on function core.pleo_card_full() is
  'core.pleo_card computed from scratch from staging.pleo_card.';

create function core.pleo_card_history_full()
  returns table (card_id integer, valid_from timestamptz, valid_to timestamptz, user_id integer,
                 active boolean, created_by_name text, created_at timestamptz,
                 event_at timestamptz, event_id text, _file_id bigint, _record bigint,
                 events integer)
  language sql stable
as $$
  with version as (
    select distinct on (s.card_id, s.updated_at) s.*,
           count(*) over (partition by s.card_id, s.updated_at) as events
      from staging.pleo_card s
     order by s.card_id, s.updated_at, s.event_at desc, s.event_id collate "C" desc,
              s._file_id desc, s._record desc)
  select v.card_id, v.updated_at at time zone 'UTC',
         coalesce(lead(v.updated_at at time zone 'UTC') over (partition by v.card_id order by v.updated_at),
                  'infinity'),
         v.user_id, v.active, v.created_by_name, v.created_at at time zone 'UTC',
         v.event_at at time zone 'UTC', v.event_id, v._file_id, v._record, v.events::integer
    from version v
$$;
comment on function core.pleo_card_history_full() is
  'core.pleo_card_history computed from scratch from staging.pleo_card.';
