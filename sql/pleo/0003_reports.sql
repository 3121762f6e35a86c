-- Pleo pack, reports: cards per user.
--
-- The counts live in core.pleo_user_card_counts, kept with +/- deltas by
-- statement triggers on core.pleo_card (0204_maintenance.sql): additions
-- commute, so two loads changing cards of one user at the same time both
-- count. The report is a view that joins the counts with core.pleo_user, so
-- that whether a user is known is always read at query time: a user event
-- loaded after the user's cards makes the user known at once, whatever order
-- or concurrency the loads had. Nothing here depends on time, so no job.

create table core.pleo_user_card_counts (
  user_id      integer primary key,
  cards        integer not null,
  active_cards integer not null
);
comment on table core.pleo_user_card_counts is 'Number of cards (current state) per user_id named by a card, known user or not; kept by statement triggers on core.pleo_card. Read reports.pleo_cards_per_user instead.';
comment on column core.pleo_user_card_counts.user_id is 'The user_id the cards name.';
comment on column core.pleo_user_card_counts.cards is 'Cards whose current state names this user (at least 1; rows that reach 0 are deleted).';
comment on column core.pleo_user_card_counts.active_cards is 'Of those, the cards that are active now.';

create view reports.pleo_cards_per_user as
select coalesce(u.user_id, k.user_id) as user_id,
       u.user_id is not null as user_known,
       coalesce(k.cards, 0) as cards,
       coalesce(k.active_cards, 0) as active_cards
  from core.pleo_user u
  full join core.pleo_user_card_counts k on k.user_id = u.user_id;

comment on view reports.pleo_cards_per_user is 'Cards per Pleo user: one row per known user (also with no cards) and per unknown user_id that cards name (e.g. 1000). Counts the cards'' current states (core.pleo_card); cards whose events lack user_id are rejects and not counted.';
comment on column reports.pleo_cards_per_user.user_id is 'The user.';
comment on column reports.pleo_cards_per_user.user_known is 'True when a user event describes this user (core.pleo_user); false for a user_id only cards name.';
comment on column reports.pleo_cards_per_user.cards is 'Cards of the user (current state).';
comment on column reports.pleo_cards_per_user.active_cards is 'Cards of the user that are active now.';

-- Full recompute, straight from staging (not from core): the reference for the tests.
create function reports.pleo_cards_per_user_full()
  returns table (user_id integer, user_known boolean, cards integer, active_cards integer)
  language sql stable
as $$
  with card as (
    select distinct on (s.card_id) s.card_id, s.user_id, s.active
      from staging.pleo_card s
     order by s.card_id, s.updated_at desc, s.event_at desc, s.event_id collate "C" desc,
              s._file_id desc, s._record desc),
  per_user as (
    select c.user_id, count(*)::integer as cards, (count(*) filter (where c.active))::integer as active_cards
      from card c
     group by c.user_id),
  known as (
    select distinct s.user_id from staging.pleo_user s)
  select coalesce(k.user_id, p.user_id), k.user_id is not null,
         coalesce(p.cards, 0), coalesce(p.active_cards, 0)
    from known k
    full join per_user p on p.user_id = k.user_id
$$;
comment on function reports.pleo_cards_per_user_full() is
  'reports.pleo_cards_per_user computed from scratch from staging.';
