-- Tally's tables and plain-SQL functions, loaded first by CREATE EXTENSION tally.
-- Everything lives in schema `tally` (created from tally.control).
-- Data tables are registered with pg_extension_config_dump so pg_dump includes their rows.

-- Sites: one per tracked domain (a "data source"). Everything else is keyed by site_id.
CREATE TABLE tally.sites (
    site_id    int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain     text NOT NULL UNIQUE CHECK (domain = lower(domain) AND domain <> ''),
    -- IANA zone for "today", day boundaries and hourly charts of this site.
    timezone   text NOT NULL DEFAULT 'UTC',
    -- Events older than this are dropped by tally.apply_retention(); NULL keeps them forever.
    retention  interval CHECK (retention > interval '0'),
    created_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('tally.sites', '');
SELECT pg_catalog.pg_extension_config_dump('tally.sites_site_id_seq', '');

-- Creates a site, or returns the existing one with that domain.
CREATE FUNCTION tally.create_site(domain text, timezone text DEFAULT 'UTC')
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    id int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = timezone) THEN
        RAISE EXCEPTION 'unknown time zone "%"', timezone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA zone name from pg_timezone_names, e.g. Europe/Berlin.';
    END IF;
    INSERT INTO tally.sites AS s (domain, timezone)
    VALUES (lower(btrim(create_site.domain)), create_site.timezone)
    ON CONFLICT ON CONSTRAINT sites_domain_key DO UPDATE SET timezone = s.timezone
    RETURNING s.site_id INTO id;
    RETURN id;
END $$;

-- One event: the columns of every row analysts read (tally.events) and, with `gen`, of
-- the hot table. Column order is tally_core::event::COLUMNS; the gateway writes it with
-- binary COPY.
CREATE TYPE tally.event AS (
    site_id          int,
    ts               timestamptz,
    name             text,
    visitor_id       bigint,
    session_id       bigint,
    hostname         text,
    pathname         text,
    referrer         text,
    referrer_source  text,
    utm_source       text,
    utm_medium       text,
    utm_campaign     text,
    utm_term         text,
    utm_content      text,
    country          text,
    region           text,
    city             text,
    browser          text,
    browser_version  text,
    os               text,
    os_version       text,
    device           text,
    screen_width     int,
    engagement_ms    int,
    -- Millionths of revenue_currency, so sums are exact integers.
    revenue_micros   bigint,
    revenue_currency text,
    -- Custom properties: a JSON object of string keys to string values.
    props            jsonb
);

-- Hot rows: every event lands here first and is visible to queries at COMMIT.
--
-- The table is a ring of partitions by `gen`, the time slot of the writing transaction
-- (tally.hot_generation()). Compaction drains a partition nobody writes any more and
-- TRUNCATEs it in the same transaction: no per-row DELETE, no dead tuples, no vacuum.
CREATE TABLE tally.events_hot (
    LIKE tally.event,
    gen smallint NOT NULL
) PARTITION BY LIST (gen);
ALTER TABLE tally.events_hot
    ALTER COLUMN site_id SET NOT NULL,
    ALTER COLUMN ts SET NOT NULL,
    ALTER COLUMN name SET NOT NULL,
    ALTER COLUMN visitor_id SET NOT NULL,
    ALTER COLUMN session_id SET NOT NULL,
    ALTER COLUMN hostname SET NOT NULL,
    ALTER COLUMN pathname SET NOT NULL,
    ALTER COLUMN props SET NOT NULL,
    ALTER COLUMN props SET DEFAULT '{}';
CREATE INDEX events_hot_site_ts ON tally.events_hot (site_id, ts);

-- Columns added after 0.1.0. They come after `gen` in the hot table, where ALTER TABLE
-- puts them in an upgraded database, so fresh and upgraded installs have one layout
-- (compaction finds the hot table's columns by name).
ALTER TYPE tally.event
    -- How far down the page the visitor scrolled, 0-100 %, on `engagement` events.
    ADD ATTRIBUTE scroll_depth int,
    -- false for events the tracker marked non-interactive: they never end a bounce.
    -- NULL (rows older than the column) counts as interactive.
    ADD ATTRIBUTE interactive boolean,
    -- Acquisition channel (`Organic Search`, `Paid Social`, `Direct`, ...) the gateway
    -- gave the event from its source, UTM tags and ad click id
    -- (gateway/src/ingest/channel.rs); a visit's is its first event's. NULL for rows
    -- stored before the column existed.
    ADD ATTRIBUTE channel text;
ALTER TABLE tally.events_hot
    ADD COLUMN scroll_depth int,
    ADD COLUMN interactive boolean,
    ADD COLUMN channel text;

-- Daily salts for cookieless visitor ids (see gateway/src/ingest/visitor.rs). Not dumped:
-- a restored database starts new salts, which is the point of destroying old ones.
CREATE TABLE tally.salts (
    day  date PRIMARY KEY,
    salt bytea NOT NULL CHECK (length(salt) = 16)
);

-- The salt of `day`, created on first use; salts older than yesterday are destroyed so
-- nobody can recompute a visitor id from an IP address after the fact.
CREATE FUNCTION tally.daily_salt(day date) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    s bytea;
BEGIN
    DELETE FROM tally.salts WHERE salts.day < daily_salt.day - 1;
    -- gen_random_uuid() is core PostgreSQL and cryptographically random (122 bits).
    INSERT INTO tally.salts VALUES (daily_salt.day, uuid_send(gen_random_uuid()))
    ON CONFLICT DO NOTHING;
    SELECT salts.salt INTO s FROM tally.salts WHERE salts.day = daily_salt.day;
    RETURN s;
END $$;
