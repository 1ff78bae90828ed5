-- The rollup rows of site $1 for the hours overlapping [$2, $3), computed in plain SQL
-- over tally.events: the definition tally.rollups_recompute implemented before it moved
-- to Rust (tally_core::rollup), kept as the oracle of tests/tests/rollups.rs and the
-- baseline of benches/rollups.sh. Where two events of a visit share a timestamp, SQL
-- picks either as "first"; the Rust version picks the one with the smallest values.
WITH bounds AS MATERIALIZED (
    SELECT date_bin('1 hour', $2::timestamptz, '2000-01-01 00:00:00+00') AS lo,
           date_bin('1 hour', $3::timestamptz - interval '1 microsecond', '2000-01-01 00:00:00+00') + interval '1 hour' AS hi
), ev AS MATERIALIZED (
    SELECT ts, name, visitor_id, session_id, pathname, referrer_source, utm_source, utm_medium,
           utm_campaign, utm_term, utm_content, country, device, browser, os, engagement_ms, interactive
    FROM bounds, tally.events($1, lo - interval '30 minutes', hi + interval '2 hours')
), visit AS MATERIALIZED (
    SELECT session_id,
           min(ts) AS start_ts,
           max(ts) AS end_ts,
           (extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint AS duration_ms,
           (extract(epoch FROM max(ts) - min(ts)) * 1000000)::bigint AS duration_us,
           count(*) FILTER (WHERE name = 'pageview') AS pageviews,
           count(*) FILTER (WHERE name <> 'engagement' AND interactive IS NOT false) AS interactions,
           (array_agg(pathname ORDER BY ts) FILTER (WHERE name = 'pageview'))[1] AS entry_page,
           (array_agg(referrer_source ORDER BY ts))[1] AS source,
           (array_agg(utm_source ORDER BY ts))[1] AS utm_source,
           (array_agg(utm_medium ORDER BY ts))[1] AS utm_medium,
           (array_agg(utm_campaign ORDER BY ts))[1] AS utm_campaign,
           (array_agg(utm_term ORDER BY ts))[1] AS utm_term,
           (array_agg(utm_content ORDER BY ts))[1] AS utm_content
    FROM ev GROUP BY session_id
), visit_dims AS (
    -- Dimension values of each visit: its own, and every value its events had.
    SELECT v.session_id, d.dimension, d.value, false AS mixed
    FROM bounds, visit v, LATERAL (VALUES ('total', NULL::text), ('entry_page', v.entry_page), ('source', v.source),
        ('utm_source', v.utm_source), ('utm_medium', v.utm_medium), ('utm_campaign', v.utm_campaign),
        ('utm_term', v.utm_term), ('utm_content', v.utm_content)) d(dimension, value)
    WHERE v.start_ts >= lo AND v.start_ts < hi
    UNION ALL
    SELECT session_id, dimension, value, count(*) OVER (PARTITION BY session_id, dimension) > 1
    FROM (SELECT DISTINCT ev.session_id, d.dimension, d.value
          FROM bounds, ev JOIN visit v USING (session_id),
               LATERAL (VALUES ('page', ev.pathname), ('event', ev.name), ('country', ev.country),
                   ('device', ev.device), ('browser', ev.browser), ('os', ev.os)) d(dimension, value)
          -- A page through its pageviews only.
          WHERE v.start_ts >= lo AND v.start_ts < hi AND (d.dimension <> 'page' OR ev.name = 'pageview')) own
), visits AS (
    SELECT date_bin('1 hour', v.start_ts, '2000-01-01 00:00:00+00') AS hour, d.dimension, d.value,
           count(*) AS visits,
           count(*) FILTER (WHERE v.interactions <= 1) AS bounces,
           sum(v.duration_us)::bigint AS visit_duration_us,
           sum(v.pageviews)::bigint AS visit_pageviews,
           count(*) FILTER (WHERE v.end_ts >= b.hi + interval '90 minutes') AS open_visits,
           count(*) FILTER (WHERE d.mixed) AS mixed_visits,
           tally.ddsketch_agg(v.duration_ms) AS visit_durations
    FROM bounds b, visit_dims d JOIN visit v USING (session_id)
    GROUP BY 1, 2, 3
), visit_visitors AS (
    -- Visitors of the visit values belong to the hour the visit started.
    SELECT date_bin('1 hour', v.start_ts, '2000-01-01 00:00:00+00') AS hour, d.dimension, d.value,
           tally.hll_add_agg(tally.hll_hash_bigint(ev.visitor_id), 14) AS visitors
    FROM visit_dims d JOIN visit v USING (session_id) JOIN ev USING (session_id)
    WHERE d.dimension IN ('entry_page', 'source', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content')
    GROUP BY 1, 2, 3
), events AS (
    SELECT date_bin('1 hour', ev.ts, '2000-01-01 00:00:00+00') AS hour, d.dimension, d.value,
           count(*) FILTER (WHERE ev.name <> 'engagement') AS events,
           count(*) FILTER (WHERE ev.name = 'pageview') AS pageviews,
           coalesce(sum(ev.engagement_ms), 0)::bigint AS engagement_ms,
           tally.hll_add_agg(tally.hll_hash_bigint(ev.visitor_id), 14)
               FILTER (WHERE d.dimension IN ('total', 'page', 'event', 'country', 'device', 'browser', 'os')
                         AND (d.dimension <> 'page' OR ev.name = 'pageview')) AS visitors,
           tally.ddsketch_agg(ev.engagement_ms) AS engagement_times
    FROM bounds, ev JOIN visit v USING (session_id),
         LATERAL (VALUES ('total', NULL::text), ('page', ev.pathname), ('event', ev.name),
             ('country', ev.country), ('device', ev.device), ('browser', ev.browser), ('os', ev.os),
             ('entry_page', v.entry_page), ('source', v.source), ('utm_source', v.utm_source),
             ('utm_medium', v.utm_medium), ('utm_campaign', v.utm_campaign), ('utm_term', v.utm_term),
             ('utm_content', v.utm_content)) d(dimension, value)
    -- Page rows hold pageviews and the engagement that measures them.
    WHERE ev.ts >= lo AND ev.ts < hi AND (d.dimension <> 'page' OR ev.name IN ('pageview', 'engagement'))
    GROUP BY 1, 2, 3
)
-- Visit and event figures side by side; GROUP BY (unlike a join) matches NULL values.
SELECT $1::int AS site_id, hour, dimension, value,
       sum(events) AS events, sum(pageviews) AS pageviews, sum(visits) AS visits, sum(bounces) AS bounces,
       sum(visit_duration_us) AS visit_duration_us, sum(visit_pageviews) AS visit_pageviews,
       sum(open_visits) AS open_visits, sum(mixed_visits) AS mixed_visits, sum(engagement_ms) AS engagement_ms,
       coalesce(tally.hll_union_agg(visitors), tally.hll_empty(14)) AS visitors,
       CASE WHEN dimension = 'total' THEN tally.ddsketch_union_agg(visit_durations) END AS visit_durations,
       CASE WHEN dimension = 'total' THEN tally.ddsketch_union_agg(engagement_times) END AS engagement_times
FROM (
    SELECT hour, dimension, value, events, pageviews, 0 AS visits, 0 AS bounces, 0 AS visit_duration_us,
           0 AS visit_pageviews, 0 AS open_visits, 0 AS mixed_visits, engagement_ms, visitors,
           NULL::tally.ddsketch AS visit_durations,
           engagement_times
    FROM events
    UNION ALL
    SELECT hour, dimension, value, 0, 0, visits, bounces, visit_duration_us, visit_pageviews, open_visits, mixed_visits, 0, NULL,
           visit_durations, NULL
    FROM visits
    UNION ALL
    SELECT hour, dimension, value, 0, 0, 0, 0, 0, 0, 0, 0, 0, visitors, NULL, NULL
    FROM visit_visitors
) figures
GROUP BY hour, dimension, value
