-- A source whose run fails is retried (a column dropped or retyped on the
-- source waits there until a person fixes the warehouse's tables); its
-- last_error now says why while it waits, not only once it stopped.

comment on column sluice.sources.last_error is 'Why the source stopped (state stopped), or why its last run failed while sluice retries it (e.g. a column dropped or retyped on the source: fix the warehouse''s tables and it resumes from its applied LSN); NULL once changes or heartbeats flow again.';
