-- The stats query (tally.query): goals, and the calendar arithmetic done where the
-- time zones are (Postgres), so the Rust engine only sees UTC instants.

-- Goals: a visitor converts by sending an event of a name, or by viewing a page that
-- matches a pattern (`*` = any characters). Queries refer to them by name
-- (`["is", "event:goal", ["Signup"]]`, dimension `event:goal`).
CREATE TABLE tally.goals (
    site_id      int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> ''),
    event_name   text,
    page_pattern text,
    -- A revenue goal: an event goal whose events carry revenue in this currency
    -- (ISO 4217, e.g. EUR), the currency its revenue is shown in.
    currency     text CONSTRAINT goals_currency CHECK (currency IS NULL OR (currency ~ '^[A-Z]{3}$' AND event_name IS NOT NULL)),
    PRIMARY KEY (site_id, name),
    CHECK ((event_name IS NULL) <> (page_pattern IS NULL))
);
SELECT pg_catalog.pg_extension_config_dump('tally.goals', '');

-- Adds (or redefines) a goal of a site; give either an event name or a page pattern.
CREATE FUNCTION tally.create_goal(site_id int, name text, event_name text DEFAULT NULL, page_pattern text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO tally.goals AS g VALUES (site_id, name, event_name, page_pattern)
    ON CONFLICT (site_id, name) DO UPDATE SET event_name = excluded.event_name, page_pattern = excluded.page_pattern
$$;

-- Funnels: ordered goals a visit goes through (checkout: Cart, then Address, then
-- Paid). Queries name them (`"funnel": "Checkout"`) or give the steps inline.
CREATE TABLE tally.funnels (
    site_id int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    name    text NOT NULL CHECK (name <> ''),
    steps   text[] NOT NULL CHECK (cardinality(steps) BETWEEN 2 AND 8 AND array_position(steps, NULL) IS NULL),
    PRIMARY KEY (site_id, name)
);
SELECT pg_catalog.pg_extension_config_dump('tally.funnels', '');

-- Adds (or redefines) a funnel of a site; every step must be a goal of the site.
CREATE FUNCTION tally.create_funnel(site_id int, name text, steps text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT s INTO missing FROM unnest(steps) s
    WHERE NOT EXISTS (SELECT 1 FROM tally.goals g WHERE g.site_id = create_funnel.site_id AND g.name = s)
    LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'funnel step "%" is not a goal of site %', missing, create_funnel.site_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Create the goal first: SELECT tally.create_goal(site_id, name, event_name => ...) or page_pattern => ...';
    END IF;
    INSERT INTO tally.funnels AS f VALUES (create_funnel.site_id, create_funnel.name, create_funnel.steps)
    ON CONFLICT ON CONSTRAINT funnels_pkey DO UPDATE SET steps = excluded.steps;
END $$;

-- The instants [from_ts, to_ts) of a date range in time zone `tz`, and their labels.
-- kind: day, days (the last `days` days including today), month, year, custom
-- (first_day..last_day), realtime (the last 5 minutes), 24h (the last 24 hours). shift:
-- none, previous_period, year_over_year.
CREATE FUNCTION tally.query_period(tz text, kind text, days int, first_day date, last_day date, shift text)
RETURNS TABLE (from_ts timestamptz, to_ts timestamptz, from_label text, to_label text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    today date := (now() AT TIME ZONE tz)::date;
    f date;
    l date;
    n int;
    span interval := CASE kind WHEN 'realtime' THEN interval '5 minutes' ELSE interval '24 hours' END;
BEGIN
    IF kind IN ('realtime', '24h') THEN
        -- A minute of slack past now for clocks of gateways slightly ahead.
        from_ts := now() - span;
        to_ts := now() + interval '1 minute';
        IF shift <> 'none' THEN
            to_ts := from_ts;
            from_ts := from_ts - span;
        END IF;
        from_label := to_char(from_ts AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS');
        to_label := to_char(to_ts AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS');
        RETURN NEXT;
        RETURN;
    END IF;
    CASE kind
        WHEN 'day' THEN f := today; l := today;
        WHEN 'days' THEN f := today - (days - 1); l := today;
        WHEN 'month' THEN f := date_trunc('month', today)::date; l := (f + interval '1 month' - interval '1 day')::date;
        WHEN 'year' THEN f := date_trunc('year', today)::date; l := (f + interval '1 year' - interval '1 day')::date;
        ELSE f := first_day; l := last_day;
    END CASE;
    IF shift = 'previous_period' THEN
        -- The same number of days, ending the day before.
        n := l - f + 1;
        l := f - 1;
        f := f - n;
    ELSIF shift = 'year_over_year' THEN
        f := (f - interval '1 year')::date;
        l := (l - interval '1 year')::date;
    END IF;
    from_ts := f::timestamp AT TIME ZONE tz;
    to_ts := (l + 1)::timestamp AT TIME ZONE tz;
    from_label := to_char(f, 'YYYY-MM-DD');
    to_label := to_char(l, 'YYYY-MM-DD');
    RETURN NEXT;
END $$;

-- `t` as an ISO 8601 date-time in time zone `tz` with that zone's offset at `t`
-- (`2024-01-01T10:00:00+01:00`): how a range of instants is labelled.
CREATE FUNCTION tally.local_iso(t timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN o < interval '0' THEN '-' ELSE '+' END || to_char(abs(extract(epoch FROM o)) * interval '1 second', 'HH24:MI')
    FROM (SELECT (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC') AS o) z
$$;

-- The instants [first, stop) of a range of date-times, shifted as in query_period (the
-- previous period is as long and ends where the range begins), and its labels in time
-- zone `tz`: the first instant and the last second of the range.
CREATE FUNCTION tally.query_instants(tz text, first timestamptz, stop timestamptz, shift text)
RETURNS TABLE (from_ts timestamptz, to_ts timestamptz, from_label text, to_label text)
LANGUAGE sql STABLE AS $$
    SELECT f, t, tally.local_iso(f, tz), tally.local_iso(t - interval '1 second', tz)
    FROM (SELECT CASE shift WHEN 'previous_period' THEN first - (stop - first)
                            WHEN 'year_over_year' THEN ((first AT TIME ZONE tz) - interval '1 year') AT TIME ZONE tz
                            ELSE first END AS f,
                 CASE shift WHEN 'previous_period' THEN first
                            WHEN 'year_over_year' THEN ((stop AT TIME ZONE tz) - interval '1 year') AT TIME ZONE tz
                            ELSE stop END AS t) s
$$;

-- The time buckets of `unit` (hour, day, week, month) in time zone `tz` that overlap
-- [from_ts, to_ts): each bucket's first instant and its label in local time.
CREATE FUNCTION tally.query_buckets(tz text, unit text, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (start timestamptz, label text)
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT ON (g AT TIME ZONE tz) g AT TIME ZONE tz,
           to_char(g, CASE unit WHEN 'hour' THEN 'YYYY-MM-DD HH24:00:00' ELSE 'YYYY-MM-DD' END)
    FROM generate_series(date_trunc(unit, from_ts AT TIME ZONE tz),
                         (to_ts AT TIME ZONE tz) - interval '1 microsecond',
                         ('1 ' || unit)::interval) AS g
    ORDER BY g AT TIME ZONE tz
$$;
