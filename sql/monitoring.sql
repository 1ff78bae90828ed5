-- What the gateway's /metrics reports about the database (docs/monitoring.md): one row
-- per gauge, named as its Prometheus metric after the `tally_` prefix, with the standby's
-- application_name on the replication rows. SECURITY DEFINER: the gateway's role may
-- read neither the hot rows nor rollup and delivery state nor pg_stat_replication's
-- lag columns by itself.
--   hot_events, hot_oldest_event_age_seconds: rows waiting for compaction, and how old
--     the oldest one's event time is (compaction drains them every few seconds; a
--     replayed spool or a backfill shows as a short spike);
--   rollups_unsettled_seconds: how far the earliest site's settled rollups trail now
--     (3 h 5 min to 4 h 5 min while compaction keeps up, see rollups.sql);
--   rollups_daily_pending_days: days whose daily rollups wait to be rebuilt;
--   alert_deliveries_pending, alert_deliveries_oldest_pending_seconds,
--   alert_deliveries_failed: the delivery backlog, its age, deliveries given up on;
--   replication_standbys, replication_lag_seconds{standby}: streaming standbys and
--     their replay lag.
CREATE FUNCTION tally.monitoring(OUT metric text, OUT standby text, OUT value float8)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'hot_events', NULL, count(*)::float8 FROM tally.events_hot
    UNION ALL
    SELECT 'hot_oldest_event_age_seconds', NULL, coalesce(extract(epoch FROM now() - min(ts)), 0)::float8 FROM tally.events_hot
    UNION ALL
    SELECT 'rollups_unsettled_seconds', NULL, coalesce(extract(epoch FROM now() - min(settled_until)), 0)::float8
    FROM tally.rollups_settled
    UNION ALL
    SELECT 'rollups_daily_pending_days', NULL, count(*)::float8 FROM tally.rollups_daily_pending
    UNION ALL
    SELECT 'alert_deliveries_pending', NULL, count(*)::float8 FROM tally.alert_deliveries WHERE status = 'pending'
    UNION ALL
    SELECT 'alert_deliveries_oldest_pending_seconds', NULL, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
    FROM tally.alert_deliveries WHERE status = 'pending'
    UNION ALL
    SELECT 'alert_deliveries_failed', NULL, count(*)::float8 FROM tally.alert_deliveries WHERE status = 'failed'
    UNION ALL
    SELECT 'replication_standbys', NULL, count(*)::float8 FROM pg_stat_replication
    UNION ALL
    SELECT 'replication_lag_seconds', application_name, coalesce(extract(epoch FROM replay_lag), 0)::float8
    FROM pg_stat_replication
$$;
REVOKE ALL ON FUNCTION tally.monitoring() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tally.monitoring() TO tally_gateway;
