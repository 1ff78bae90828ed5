-- Hourly rollups: per site, UTC hour and dimension value, the counts and sketches
-- that dashboards ask for, so a 30-day question reads ~720 rows per value instead of
-- every raw event. Kept current by compaction (extension/src/rollup/), rebuilt from
-- raw events by tally.rebuild_rollups(site_id, from_ts, to_ts).
--
-- Visit-level figures (visits, bounces, durations) belong to the hour the visit
-- started. Event-level figures (events, pageviews, visitors, engagement) belong to
-- the hour of each event. Dimensions:
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
    events            bigint NOT NULL,
    pageviews         bigint NOT NULL,
    -- Visits that started in this hour and had this value.
    visits            bigint NOT NULL,
    -- ... of them with at most one pageview.
    bounces           bigint NOT NULL,
    -- Sum of their durations (last event - first event).
    visit_duration_ms bigint NOT NULL,
    -- Sum of engagement_ms of the hour's engagement events.
    engagement_ms     bigint NOT NULL,
    -- Distinct visitors: postgresql-hll's default parameters, the same as
    -- tally.hll_add_agg(tally.hll_hash_bigint(visitor_id)) over the raw events, so
    -- the union of rollup rows equals the sketch of the raw events exactly.
    visitors          tally.hll NOT NULL,
    -- Quantile sketches of visit durations and engagement times (ms); NULL when none.
    visit_durations   tally.ddsketch,
    engagement_times  tally.ddsketch
);
CREATE UNIQUE INDEX rollups_key ON tally.rollups (site_id, dimension, hour, value) NULLS NOT DISTINCT;
SELECT pg_catalog.pg_extension_config_dump('tally.rollups', '');

-- Recomputes the rollup rows of the hours overlapping [from_ts, to_ts) of one site
-- from the raw events (hot and compacted), replacing what was there: idempotent.
-- Visits are followed up to 2 hours past the last hour (longer visits are cut
-- there), and events up to 30 minutes (the visit timeout) before the first hour
-- tell visits that started earlier from those that started in it.
CREATE FUNCTION tally.rollups_recompute(p_site int, p_from timestamptz, p_to timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    origin constant timestamptz := '2000-01-01 00:00:00+00';
    lo constant timestamptz := date_bin('1 hour', p_from, origin);
    hi constant timestamptz := date_bin('1 hour', p_to - interval '1 microsecond', origin) + interval '1 hour';
    written bigint;
BEGIN
    DELETE FROM tally.rollups WHERE site_id = p_site AND hour >= lo AND hour < hi;
    INSERT INTO tally.rollups
    WITH ev AS MATERIALIZED (
        SELECT ts, name, visitor_id, session_id, pathname, referrer_source, utm_source, utm_medium,
               utm_campaign, utm_term, utm_content, country, device, browser, os, engagement_ms
        FROM tally.events(p_site, lo - interval '30 minutes', hi + interval '2 hours')
    ), visit AS MATERIALIZED (
        SELECT session_id,
               min(ts) AS start_ts,
               (extract(epoch FROM max(ts) - min(ts)) * 1000)::bigint AS duration_ms,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews,
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
        SELECT v.session_id, d.dimension, d.value
        FROM visit v, LATERAL (VALUES ('total', NULL::text), ('entry_page', v.entry_page), ('source', v.source),
            ('utm_source', v.utm_source), ('utm_medium', v.utm_medium), ('utm_campaign', v.utm_campaign),
            ('utm_term', v.utm_term), ('utm_content', v.utm_content)) d(dimension, value)
        WHERE v.start_ts >= lo AND v.start_ts < hi
        UNION ALL
        SELECT DISTINCT ev.session_id, d.dimension, d.value
        FROM ev JOIN visit v USING (session_id),
             LATERAL (VALUES ('page', ev.pathname), ('event', ev.name), ('country', ev.country),
                 ('device', ev.device), ('browser', ev.browser), ('os', ev.os)) d(dimension, value)
        WHERE v.start_ts >= lo AND v.start_ts < hi
    ), visits AS (
        SELECT date_bin('1 hour', v.start_ts, origin) AS hour, d.dimension, d.value,
               count(*) AS visits,
               count(*) FILTER (WHERE v.pageviews <= 1) AS bounces,
               sum(v.duration_ms)::bigint AS visit_duration_ms,
               tally.ddsketch_agg(v.duration_ms) AS visit_durations
        FROM visit_dims d JOIN visit v USING (session_id)
        GROUP BY 1, 2, 3
    ), events AS (
        SELECT date_bin('1 hour', ev.ts, origin) AS hour, d.dimension, d.value,
               count(*) AS events,
               count(*) FILTER (WHERE ev.name = 'pageview') AS pageviews,
               coalesce(sum(ev.engagement_ms), 0)::bigint AS engagement_ms,
               tally.hll_add_agg(tally.hll_hash_bigint(ev.visitor_id)) AS visitors,
               tally.ddsketch_agg(ev.engagement_ms) AS engagement_times
        FROM ev JOIN visit v USING (session_id),
             LATERAL (VALUES ('total', NULL::text), ('page', ev.pathname), ('event', ev.name),
                 ('country', ev.country), ('device', ev.device), ('browser', ev.browser), ('os', ev.os),
                 ('entry_page', v.entry_page), ('source', v.source), ('utm_source', v.utm_source),
                 ('utm_medium', v.utm_medium), ('utm_campaign', v.utm_campaign), ('utm_term', v.utm_term),
                 ('utm_content', v.utm_content)) d(dimension, value)
        WHERE ev.ts >= lo AND ev.ts < hi
        GROUP BY 1, 2, 3
    )
    -- Visit and event figures side by side; GROUP BY (unlike a join) matches NULL values.
    SELECT p_site, hour, dimension, value,
           sum(events), sum(pageviews), sum(visits), sum(bounces), sum(visit_duration_ms), sum(engagement_ms),
           coalesce(tally.hll_union_agg(visitors), tally.hll_empty()),
           tally.ddsketch_union_agg(visit_durations), tally.ddsketch_union_agg(engagement_times)
    FROM (
        SELECT hour, dimension, value, events, pageviews, 0 AS visits, 0 AS bounces, 0 AS visit_duration_ms,
               engagement_ms, visitors, NULL::tally.ddsketch AS visit_durations, engagement_times
        FROM events
        UNION ALL
        SELECT hour, dimension, value, 0, 0, visits, bounces, visit_duration_ms, 0, NULL, visit_durations, NULL
        FROM visits
    ) figures
    GROUP BY hour, dimension, value;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
