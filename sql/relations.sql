-- The relations analysts query: every event, hot and compacted, as rows of type
-- tally.event. Loaded after the Rust functions they call.

-- The rows of one segment.
CREATE FUNCTION tally.segment_rows(segment_id bigint, data bytea)
RETURNS SETOF tally.event LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT u.*
    FROM tally.segment_arrays(segment_id, data) a,
         unnest(a.site_id, a.ts, a.name, a.visitor_id, a.session_id, a.hostname, a.pathname,
                a.referrer, a.referrer_source, a.utm_source, a.utm_medium, a.utm_campaign,
                a.utm_term, a.utm_content, a.country, a.region, a.city, a.browser,
                a.browser_version, a.os, a.os_version, a.device, a.screen_width,
                a.engagement_ms, a.revenue_micros, a.revenue_currency, a.props, a.scroll_depth,
                a.interactive, a.channel) AS u
$$;

-- The relation behind tally.events. It never holds a row: the planner hook of
-- extension/src/scan gives it a custom scan node, TallyScan, that reads the segments
-- and hot rows the query's site_id and ts predicates leave, as the querying role,
-- decoding only the columns the query references. Writes are refused.
CREATE TABLE tally.events_scan (LIKE tally.event);
CREATE FUNCTION tally.events_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tally.events is read-only'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Send events through the gateway, or INSERT INTO tally.events_hot.';
END $$;
CREATE TRIGGER read_only BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tally.events_scan
    FOR EACH STATEMENT EXECUTE FUNCTION tally.events_read_only();

-- Every event of every site. tally.scan_ready() is folded away when a query is
-- planned, loading the extension's library (and its planner hook) first if needed.
CREATE VIEW tally.events AS SELECT * FROM tally.events_scan WHERE tally.scan_ready();

-- Every event of one site in [from_ts, to_ts): the same scan, inlined into the
-- calling query, so only the segments of that site and range are read.
CREATE FUNCTION tally.events(site_id int, from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF tally.event LANGUAGE sql STABLE AS $$
    SELECT * FROM tally.events e WHERE e.site_id = $1 AND e.ts >= $2 AND e.ts < $3
$$;
