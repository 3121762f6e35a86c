-- Product usage pack, reports: feature retention, new-user adoption and
-- upgrades. Each is a table that the job product_usage_reports fills from
-- its *_full() function, right after a commit into the pack's staging tables
-- (and every 10 minutes): a corrected day can move any month (a first use
-- moves earlier, a retention appears or goes), so each refresh recomputes the
-- reports whole from core, in one transaction. Rates are rounded to 4
-- decimals; a rate over no users is NULL.

create table reports.product_feature_retention (
  month                    date not null,
  product_id               bigint not null,
  feature_id               bigint not null,
  users_first_used         bigint not null,
  users_retained           bigint not null,
  retention_rate           numeric,
  diff_vs_previous_feature numeric,
  primary key (month, product_id, feature_id)
);
comment on table reports.product_feature_retention is 'Feature retention: per user, product and feature, the first use is the earliest event with that feature_id (0 is no feature); the user is retained who used the same feature again at least 7 days after it. Per month of the first use, product and feature.';
comment on column reports.product_feature_retention.month is 'First day of the month of the first uses (UTC).';
comment on column reports.product_feature_retention.product_id is 'The product.';
comment on column reports.product_feature_retention.feature_id is 'The feature.';
comment on column reports.product_feature_retention.users_first_used is 'Users whose first use of the feature fell in the month.';
comment on column reports.product_feature_retention.users_retained is 'Those of them who used it again at least 7 days after their first use.';
comment on column reports.product_feature_retention.retention_rate is 'users_retained / users_first_used, rounded to 4 decimals.';
comment on column reports.product_feature_retention.diff_vs_previous_feature is 'This rate minus that of the same product''s previous feature in the month, ordered by the feature''s release_date (core.product_usage_feature_release; unknown last), then feature_id; NULL for the first.';

create table reports.product_new_user_adoption (
  month      date not null,
  product_id bigint not null,
  feature_id bigint not null,
  new_users  bigint not null,
  adopters   bigint not null,
  fraction   numeric,
  primary key (month, product_id, feature_id)
);
comment on table reports.product_new_user_adoption is 'New-user adoption: per month with new users (sign_in_date in it) and per feature of core.product_usage_feature_release, how many of them used the feature (an event with its product_id and feature_id) within 14 days of signing in, [sign_in_date, sign_in_date + 14 days) in UTC.';
comment on column reports.product_new_user_adoption.month is 'First day of the month of the sign-ins.';
comment on column reports.product_new_user_adoption.product_id is 'The feature''s product.';
comment on column reports.product_new_user_adoption.feature_id is 'The feature.';
comment on column reports.product_new_user_adoption.new_users is 'Users who signed in that month.';
comment on column reports.product_new_user_adoption.adopters is 'Those of them who used the feature within 14 days of signing in (may be 0).';
comment on column reports.product_new_user_adoption.fraction is 'adopters / new_users, rounded to 4 decimals.';

create table reports.product_upgrades (
  month        date not null,
  product_id   bigint not null,
  release_id   text not null,
  active_users bigint not null,
  upgraded     bigint not null,
  fraction     numeric,
  primary key (product_id, release_id)
);
comment on table reports.product_upgrades is 'Upgrades to each release (core.product_usage_release), over the month starting at its release date, [release_date, release_date + 1 month) in UTC: users with any event of the product, and those of them with a version_upgrade event to that release (curr_state = release_id). One row per release.';
comment on column reports.product_upgrades.month is 'First day of the month of the release date.';
comment on column reports.product_upgrades.product_id is 'The product.';
comment on column reports.product_upgrades.release_id is 'The release.';
comment on column reports.product_upgrades.active_users is 'Users with an event of the product in the month after the release.';
comment on column reports.product_upgrades.upgraded is 'Those of them with a version_upgrade event to the release in that month.';
comment on column reports.product_upgrades.fraction is 'upgraded / active_users, rounded to 4 decimals; NULL when there are no active users.';

create function reports.product_feature_retention_full()
  returns table (month date, product_id bigint, feature_id bigint, users_first_used bigint, users_retained bigint,
                 retention_rate numeric, diff_vs_previous_feature numeric)
  language sql stable
as $$
  with uses as (
    select e.user_id, e.product_id, e.feature_id, e.event_at from core.product_usage_event e
     where e.feature_id is not null and e.feature_id <> 0),
  firsts as (
    select u.user_id, u.product_id, u.feature_id, min(u.event_at) as first_at from uses u group by 1, 2, 3),
  kept as (
    select f.*, exists (select 1 from uses u
                         where u.user_id = f.user_id and u.product_id = f.product_id and u.feature_id = f.feature_id
                           and u.event_at >= f.first_at + interval '7 days') as retained
      from firsts f),
  per_month as (
    select date_trunc('month', k.first_at at time zone 'UTC')::date as month, k.product_id, k.feature_id,
           count(*) as first_used, count(*) filter (where k.retained) as retained
      from kept k group by 1, 2, 3),
  released as (
    select r.product_id, r.feature_id, min(r.release_date) as release_date
      from core.product_usage_feature_release r group by 1, 2),
  rated as (
    select p.*, round(p.retained::numeric / p.first_used, 4) as rate, r.release_date
      from per_month p left join released r using (product_id, feature_id))
  select r.month, r.product_id, r.feature_id, r.first_used, r.retained, r.rate,
         r.rate - lag(r.rate) over (partition by r.month, r.product_id
                                    order by r.release_date nulls last, r.feature_id)
    from rated r
$$;
comment on function reports.product_feature_retention_full() is 'reports.product_feature_retention computed from scratch from core (the newest export of each day).';

create function reports.product_new_user_adoption_full()
  returns table (month date, product_id bigint, feature_id bigint, new_users bigint, adopters bigint, fraction numeric)
  language sql stable
as $$
  with months as (
    select date_trunc('month', u.sign_in_date)::date as month, count(*) as new_users
      from core.product_usage_user u group by 1),
  features as (
    select distinct f.product_id, f.feature_id from core.product_usage_feature_release f),
  adoption as (
    select date_trunc('month', u.sign_in_date)::date as month, e.product_id, e.feature_id,
           count(distinct u.user_id) as adopters
      from core.product_usage_user u
      join core.product_usage_event e
        on e.user_id = u.user_id
       and e.event_at >= u.sign_in_date::timestamp at time zone 'UTC'
       and e.event_at < (u.sign_in_date + 14)::timestamp at time zone 'UTC'
     group by 1, 2, 3)
  select m.month, f.product_id, f.feature_id, m.new_users, coalesce(a.adopters, 0),
         round(coalesce(a.adopters, 0)::numeric / m.new_users, 4)
    from months m
   cross join features f
    left join adoption a on a.month = m.month and a.product_id = f.product_id and a.feature_id = f.feature_id
$$;
comment on function reports.product_new_user_adoption_full() is 'reports.product_new_user_adoption computed from scratch from core.';

create function reports.product_upgrades_full()
  returns table (month date, product_id bigint, release_id text, active_users bigint, upgraded bigint, fraction numeric)
  language sql stable
as $$
  select date_trunc('month', r.release_date)::date, r.product_id, r.release_id, w.active_users, w.upgraded,
         round(w.upgraded::numeric / nullif(w.active_users, 0), 4)
    from core.product_usage_release r
   cross join lateral (
     select count(distinct e.user_id) as active_users,
            count(distinct e.user_id) filter (where e.event_type = 'version_upgrade'
                                                and e.curr_state = r.release_id) as upgraded
       from core.product_usage_event e
      where e.product_id = r.product_id
        and e.event_at >= r.release_date::timestamp at time zone 'UTC'
        and e.event_at < (r.release_date + interval '1 month') at time zone 'UTC') w
$$;
comment on function reports.product_upgrades_full() is 'reports.product_upgrades computed from scratch from core.';

-- The job: the three reports again, whole, in one transaction. It takes the
-- watermarks every job is given (sluice.jobs) and needs neither.
create function reports.product_usage_refresh(since xid8 default null, upto xid8 default null) returns void
  language plpgsql
as $$
begin
  perform pg_advisory_xact_lock(hashtext('sluice product_usage pack'));
  truncate reports.product_feature_retention, reports.product_new_user_adoption, reports.product_upgrades;
  insert into reports.product_feature_retention select * from reports.product_feature_retention_full();
  insert into reports.product_new_user_adoption select * from reports.product_new_user_adoption_full();
  insert into reports.product_upgrades select * from reports.product_upgrades_full();
end
$$;
comment on function reports.product_usage_refresh(xid8, xid8) is 'Recomputes the product usage reports from core (the job product_usage_reports runs it).';

insert into sluice.jobs (name, command, every, description, inputs) values
  ('product_usage_reports', 'select reports.product_usage_refresh($1, $2)', '10 minutes',
   'Product usage reports (feature retention, new-user adoption, upgrades), recomputed whole after each commit into the pack''s staging tables.',
   array['staging.product_usage_event', 'staging.product_usage_user', 'staging.product_usage_release',
         'staging.product_usage_feature_release']);

insert into sluice.rebuilds (name, pack, inputs, command) values
  ('product_usage', 'product_usage',
   '{staging.product_usage_event,staging.product_usage_user,staging.product_usage_release,staging.product_usage_feature_release}',
   'select reports.product_usage_refresh()');
