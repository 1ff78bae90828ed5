-- Every hourly rollup row as one relation with the columns of tally.rollups: its
-- `total` rows and the entries of tally.rollup_blocks (no quantile sketches there). For
-- SQL users and tests; tally.query reads the blocks directly. Runs as the querying role,
-- so the tables' row-level security applies.
CREATE VIEW tally.rollup_rows WITH (security_invoker = true) AS
SELECT site_id, hour, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews,
       open_visits, mixed_visits, engagement_ms, visitors, visit_durations, engagement_times
FROM tally.rollups
UNION ALL
SELECT b.site_id, r.hour, r.dimension, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us,
       r.visit_pageviews, r.open_visits, r.mixed_visits, r.engagement_ms, r.visitors::tally.hll,
       NULL::tally.ddsketch, NULL::tally.ddsketch
FROM tally.rollup_blocks b CROSS JOIN LATERAL tally.rollup_block_rows(b.data) r;
