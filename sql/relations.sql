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
                a.engagement_ms, a.revenue_micros, a.revenue_currency, a.props) AS u
$$;

-- Every event of one site in [from_ts, to_ts): only the segments whose zone map
-- overlaps the range are read, so a one-day query decodes one day of segments.
CREATE FUNCTION tally.events(site_id int, from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF tally.event LANGUAGE sql STABLE AS $$
    SELECT h.site_id, h.ts, h.name, h.visitor_id, h.session_id, h.hostname, h.pathname, h.referrer, h.referrer_source, h.utm_source, h.utm_medium, h.utm_campaign, h.utm_term, h.utm_content, h.country, h.region, h.city, h.browser, h.browser_version, h.os, h.os_version, h.device, h.screen_width, h.engagement_ms, h.revenue_micros, h.revenue_currency, h.props FROM tally.events_hot h
    WHERE h.site_id = events.site_id AND h.ts >= from_ts AND h.ts < to_ts
    UNION ALL
    SELECT r.*
    FROM tally.segments s, tally.segment_rows(s.segment_id, s.data) r
    WHERE s.site_id = events.site_id AND s.max_ts >= from_ts AND s.min_ts < to_ts
      AND r.ts >= from_ts AND r.ts < to_ts
$$;

-- Every event of every site. The segment branch takes site_id from the segment row,
-- so `WHERE site_id = ...` reaches the segments' index; for time bounds that skip
-- segments too, call tally.events(site_id, from_ts, to_ts).
CREATE VIEW tally.events AS
    SELECT h.site_id, h.ts, h.name, h.visitor_id, h.session_id, h.hostname, h.pathname, h.referrer, h.referrer_source, h.utm_source, h.utm_medium, h.utm_campaign, h.utm_term, h.utm_content, h.country, h.region, h.city, h.browser, h.browser_version, h.os, h.os_version, h.device, h.screen_width, h.engagement_ms, h.revenue_micros, h.revenue_currency, h.props FROM tally.events_hot h
    UNION ALL
    SELECT s.site_id, r.ts, r.name, r.visitor_id, r.session_id, r.hostname, r.pathname, r.referrer, r.referrer_source, r.utm_source, r.utm_medium, r.utm_campaign, r.utm_term, r.utm_content, r.country, r.region, r.city, r.browser, r.browser_version, r.os, r.os_version, r.device, r.screen_width, r.engagement_ms, r.revenue_micros, r.revenue_currency, r.props
    FROM tally.segments s, tally.segment_rows(s.segment_id, s.data) r;
