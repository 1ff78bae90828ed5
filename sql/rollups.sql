-- Hourly rollups: per site, UTC hour and dimension value, the counts and sketches
-- that dashboards ask for, so a 30-day question reads ~720 rows per value instead of
-- every raw event. Kept current by compaction (extension/src/rollup/), rebuilt from
-- raw events by tally.rebuild_rollups(site_id, from_ts, to_ts).
--
-- Visit-level figures (visits, bounces, durations, the visits' pageviews) belong to
-- the hour the visit started. Event-level figures (events, pageviews, visitors,
-- engagement) belong to the hour of each event, but for the visit's own values
-- (entry_page, source, utm_*), whose visitors belong to the hour the visit started,
-- where its first event was seen. Events, bounces and durations are
-- defined as tally.query defines them, so tally.query can answer from these rows
-- (see "Rollups in tally.query" in README.md). Dimensions:
--   total                                     every event, value NULL
--   page, event, country, device, browser, os the event's own value
--   entry_page, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content
--                                             the visit's value (its first pageview or
--                                             first event), for every event of the visit
-- NULL values mean "not set" (direct traffic, no UTM tag, unknown country).
CREATE TABLE tally.rollups (
    site_id           int NOT NULL,
    hour              timestamptz NOT NULL,
    dimension         text NOT NULL,
    value             text,
    -- Events other than 'engagement' (which only measures time on page).
    events            bigint NOT NULL,
    pageviews         bigint NOT NULL,
    -- Visits that started in this hour and had this value.
    visits            bigint NOT NULL,
    -- ... of them with at most one event other than 'engagement'.
    bounces           bigint NOT NULL,
    -- Sum of their durations (last event - first event), microseconds.
    visit_duration_us bigint NOT NULL,
    -- Sum of their pageviews (views per visit).
    visit_pageviews   bigint NOT NULL,
    -- ... of them still active within 30 minutes of the end of the events the row was
    -- computed from (2 hours past the last hour recomputed): they may go on unseen.
    open_visits       bigint NOT NULL,
    -- ... of them whose events had several values of this dimension (page, event,
    -- country, device, browser, os rows; 0 elsewhere). tally.query answers visit:country
    -- etc. from rollups only where no visit is mixed.
    mixed_visits      bigint NOT NULL,
    -- Sum of engagement_ms of the hour's engagement events.
    engagement_ms     bigint NOT NULL,
    -- Distinct visitors: postgresql-hll's format with 2^14 registers (0.8% standard
    -- error; the default 2^11 errs by 2.3%), the same as
    -- tally.hll_add_agg(tally.hll_hash_bigint(visitor_id), 14) over the raw events, so
    -- the union of rollup rows equals the sketch of the raw events exactly.
    visitors          tally.hll NOT NULL,
    -- Quantile sketches of visit durations and engagement times (ms) of the `total`
    -- rows; NULL when none, and on the rows of every other dimension (per value they
    -- cost more than the row's counts: extension/core/src/rollup/FOOTPRINT.md).
    visit_durations   tally.ddsketch,
    engagement_times  tally.ddsketch
);
-- Holds the `total` rows only: every other dimension is in tally.rollup_blocks (below).
-- Rows are read and rewritten by site and hours. No unique key: every writer
-- (compaction, erasure, retention, tally.rebuild_rollups, the daily build) holds the
-- storage lock and deletes an hour's rows before writing them (tally.rollups_recompute,
-- for maintenance only, leaves the lock to its caller).
CREATE INDEX rollups_hours ON tally.rollups (site_id, dimension, hour);
SELECT pg_catalog.pg_extension_config_dump('tally.rollups', '');

-- Every rollup row but the `total` ones: per site and UTC day, one compressed columnar
-- block of the day's hourly rows of every other dimension (values as a dictionary,
-- counts as integer columns, the day's visitor hashes stored once;
-- extension/core/src/rollup/block/). A row of tally.rollups costs about 190 bytes with
-- its index entry whatever it holds, and high-cardinality dimensions (pages, entry
-- pages, sources) have about one row per event; an entry of a block costs a few bytes
-- (extension/core/src/rollup/FOOTPRINT.md). The rows have the columns of
-- tally.rollups but the quantile sketches; tally.rollup_rows lists them. Every rewrite
-- of hours rewrites their days' blocks, keeping the entries of the other hours.
CREATE TABLE tally.rollup_blocks (
    site_id int NOT NULL,
    day     timestamptz NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (site_id, day)
);
-- Compressed already: pglz would try again for nothing.
ALTER TABLE tally.rollup_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
SELECT pg_catalog.pg_extension_config_dump('tally.rollup_blocks', '');

-- Daily rollups: per site and UTC day, the sums of the day's hourly `total` rows
-- (sketches unioned), for SQL users' site-wide figures and quantiles and so that a
-- 30-day question reads one row per day instead of 24 (the other dimensions' days are
-- their blocks). A day's rows exist only while they equal
-- the sum of its current hourly rows: every rewrite of an hour of tally.rollups
-- deletes its day's rows (and its week's, below) and queues the day in
-- tally.rollups_daily_pending, and the background worker (or
-- tally.build_daily_rollups()) builds a queued day once it ended 5 hours ago, when live
-- traffic no longer rewrites its hours. tally.query reads a day's rows only where it
-- would read every hour of the day from tally.rollups, so its answers do not depend on
-- whether they exist. Columns as in tally.rollups.
CREATE TABLE tally.rollups_daily (LIKE tally.rollups);
ALTER TABLE tally.rollups_daily RENAME COLUMN hour TO day;
-- Readers ask for a list of days, and a rewrite drops whole days.
CREATE INDEX rollups_daily_days ON tally.rollups_daily (site_id, day, dimension);
SELECT pg_catalog.pg_extension_config_dump('tally.rollups_daily', '');

-- Weekly rollups: the same per week (Monday 00:00 UTC to the next), the sums of its
-- seven days' `total` rows, built with the week's last daily rows and dropped with any
-- of them.
CREATE TABLE tally.rollups_weekly (LIKE tally.rollups_daily);
ALTER TABLE tally.rollups_weekly RENAME COLUMN day TO week;
CREATE INDEX rollups_weekly_weeks ON tally.rollups_weekly (site_id, week, dimension);
SELECT pg_catalog.pg_extension_config_dump('tally.rollups_weekly', '');

-- The days whose hourly rows changed since their daily rows were built (none exist
-- for them meanwhile).
CREATE TABLE tally.rollups_daily_pending (
    site_id int NOT NULL,
    day     timestamptz NOT NULL,
    PRIMARY KEY (site_id, day)
);
SELECT pg_catalog.pg_extension_config_dump('tally.rollups_daily_pending', '');

-- Per site, the hour up to which tally.rollups is kept equal to a recomputation from
-- the raw events: compaction computes an hour's rows once, when on-time events can no
-- longer change them (an event at t changes the hours from t - 3 hours on, see
-- rollup::AFFECTS_BEFORE_US), and recomputes earlier hours only for late events,
-- erasure and retention. Recomputing the last hours at every pass instead read those
-- hours' events again each time: at 300k events/s, billions a pass. tally.query reads
-- hourly rows only before `settled_until`, daily ones only of days before it.
CREATE TABLE tally.rollups_settled (
    site_id       int PRIMARY KEY,
    settled_until timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('tally.rollups_settled', '');

-- tally.rollups_recompute(sites, from_ts, to_ts) recomputes the rows of the hours
-- overlapping [from_ts, to_ts) of each site of the array from the raw events (hot and
-- compacted), replacing what was there: idempotent. Sites are computed side by side
-- on tally.compaction_threads threads. Visits are followed up to 2 hours past the
-- last hour (longer visits are cut there), and events up to 30 minutes (the visit
-- timeout) before the first hour tell visits that started earlier from those that
-- started in it. It is Rust (extension/src/rollup/, rows computed by
-- tally_core::rollup from the decoded segments), declared with the extension's
-- functions.
