-- Rollup layouts measured on the rows a storage bench stored (benches/storage.sh
-- leaves its database `bench_storage` behind):
--
--   psql -h 127.0.0.1 -p 54317 -U postgres -d bench_storage -f benches/rollup_layouts.sql
--
-- First where the bytes of each table go per dimension (rows, average row, visitors
-- sketch and quantile sketches, MB of heap), then each layout of
-- extension/core/src/rollup/FOOTPRINT.md rebuilt from the stored rows with CREATE TABLE
-- AS and an index on the same key, its size (table, TOAST, index) per event. Temporary
-- tables only; the stored rollups are left as they are.
-- It measures heap-row layouts, so it needs a database that stores every dimension as
-- rows: one made by a build before tally.rollup_blocks (main at d35b015 and earlier),
-- where the per-value rows are still in tally.rollups and its daily and weekly sums.
\pset format aligned
SELECT 'hourly' AS t, dimension, count(*) AS rows, round(avg(pg_column_size(r.*))) AS row_b,
       round(avg(pg_column_size(visitors))) AS hll_b, round(avg(coalesce(pg_column_size(visit_durations),0)+coalesce(pg_column_size(engagement_times),0))) AS dd_b,
       round(sum(pg_column_size(r.*))/1e6,1) AS mb
FROM tally.rollups r GROUP BY dimension
UNION ALL
SELECT 'daily', dimension, count(*), round(avg(pg_column_size(r.*))), round(avg(pg_column_size(visitors))),
       round(avg(coalesce(pg_column_size(visit_durations),0)+coalesce(pg_column_size(engagement_times),0))), round(sum(pg_column_size(r.*))/1e6,1)
FROM tally.rollups_daily r GROUP BY dimension
UNION ALL
SELECT 'weekly', dimension, count(*), round(avg(pg_column_size(r.*))), round(avg(pg_column_size(visitors))),
       round(avg(coalesce(pg_column_size(visit_durations),0)+coalesce(pg_column_size(engagement_times),0))), round(sum(pg_column_size(r.*))/1e6,1)
FROM tally.rollups_weekly r GROUP BY dimension
ORDER BY 1, 7 DESC;
\set ON_ERROR_STOP 1
CREATE TEMP TABLE hi(d text); INSERT INTO hi VALUES ('page'),('entry_page'),('source'),('utm_source'),('utm_medium'),('utm_campaign'),('utm_term'),('utm_content');
CREATE OR REPLACE FUNCTION pg_temp.sz(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE total bigint := 0; t text; i int := 0;
BEGIN
  FOR t IN SELECT unnest(string_to_array(q, ';')) LOOP
    i := i + 1;
    EXECUTE format('DROP TABLE IF EXISTS opt_%s', i);
    EXECUTE format('CREATE TEMP TABLE opt_%s AS %s', i, t);
    EXECUTE format('CREATE INDEX ON opt_%s (site_id, dimension, p, value)', i);
    total := total + pg_total_relation_size(format('opt_%s', i)::regclass);
    EXECUTE format('DROP TABLE opt_%s', i);
  END LOOP;
  RETURN total;
END $$;
CREATE TEMP TABLE n AS SELECT count(*)::numeric AS n FROM tally.events;
CREATE TEMP TABLE results(option text, bytes bigint);
-- 0: as stored (rebuilt the same way, so bloat is left out)
INSERT INTO results SELECT '0 as stored (3 grains, all dimensions, 2 sketches per row)', pg_temp.sz(
 'SELECT r.*, r.hour p FROM tally.rollups r;SELECT r.*, r.day p FROM tally.rollups_daily r;SELECT r.*, r.week p FROM tally.rollups_weekly r');
-- 1: duration and engagement sketches only on total rows
INSERT INTO results SELECT '1 quantile sketches on total rows only', pg_temp.sz(
 'SELECT site_id, hour p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups;'
 'SELECT site_id, day p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_daily;'
 'SELECT site_id, week p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_weekly');
-- 2: no hourly rows for the 8 high-cardinality dimensions (days and weeks keep them)
INSERT INTO results SELECT '2 hourly rows of total, event, country, device, browser, os only', pg_temp.sz(
 'SELECT r.*, r.hour p FROM tally.rollups r WHERE dimension NOT IN (SELECT d FROM hi);SELECT r.*, r.day p FROM tally.rollups_daily r;SELECT r.*, r.week p FROM tally.rollups_weekly r');
-- 3: as 2, and daily/weekly rows of high-cardinality dimensions only for values with >= 50 events
-- (the query's tally.query_rollup_min_events_per_row), the rest summed into one "(other)" row
INSERT INTO results SELECT '3 as 2, high-cardinality day/week rows only for values with >= 50 events, rest as (other)', pg_temp.sz(
 'SELECT r.*, r.hour p FROM tally.rollups r WHERE dimension NOT IN (SELECT d FROM hi);'
 'SELECT r.*, r.day p FROM tally.rollups_daily r WHERE dimension NOT IN (SELECT d FROM hi) OR events + visits >= 50;'
 'SELECT site_id, day p, dimension, ''(other)'' AS value, sum(events) AS events, sum(pageviews) AS pageviews, sum(visits) AS visits, sum(bounces) AS bounces, sum(visit_duration_us) AS visit_duration_us, sum(visit_pageviews) AS visit_pageviews, tally.hll_union_agg(visitors) AS visitors FROM tally.rollups_daily WHERE dimension IN (SELECT d FROM hi) AND events + visits < 50 GROUP BY 1, 2, 3;'
 'SELECT r.*, r.week p FROM tally.rollups_weekly r WHERE dimension NOT IN (SELECT d FROM hi) OR events + visits >= 50;'
 'SELECT site_id, week p, dimension, ''(other)'' AS value, sum(events) AS events, sum(pageviews) AS pageviews, sum(visits) AS visits, sum(bounces) AS bounces, sum(visit_duration_us) AS visit_duration_us, sum(visit_pageviews) AS visit_pageviews, tally.hll_union_agg(visitors) AS visitors FROM tally.rollups_weekly WHERE dimension IN (SELECT d FROM hi) AND events + visits < 50 GROUP BY 1, 2, 3');
-- 4: 3 without quantile sketches but on total rows
INSERT INTO results SELECT '4 as 3 and quantile sketches on total rows only', pg_temp.sz(
 'SELECT site_id, hour p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups WHERE dimension NOT IN (SELECT d FROM hi);'
 'SELECT site_id, day p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_daily WHERE dimension NOT IN (SELECT d FROM hi) OR events + visits >= 50;'
 'SELECT site_id, week p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_weekly WHERE dimension NOT IN (SELECT d FROM hi) OR events + visits >= 50');
-- 5: only total rows per hour; every other dimension per day and week, values with >= 50 events
INSERT INTO results SELECT '5 hourly total only; other dimensions per day/week, values with >= 50 events, sketches on total only', pg_temp.sz(
 'SELECT r.*, r.hour p FROM tally.rollups r WHERE dimension = ''total'';'
 'SELECT site_id, day p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_daily WHERE events + visits >= 50;'
 'SELECT site_id, week p, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, engagement_ms, visitors, CASE WHEN dimension = ''total'' THEN visit_durations END vd, CASE WHEN dimension = ''total'' THEN engagement_times END et FROM tally.rollups_weekly WHERE events + visits >= 50');
-- 6: no rollups at all but hourly total rows (the scan answers everything else)
INSERT INTO results SELECT '6 hourly total rows only', pg_temp.sz('SELECT r.*, r.hour p FROM tally.rollups r WHERE dimension = ''total''');
\pset format aligned
SELECT option, round(bytes / 1e6, 1) AS mb, round(bytes / n, 1) AS bytes_per_event FROM results, n ORDER BY option;
