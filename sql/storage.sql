-- Columnar storage: the hot partitions and compressed segments. Loaded after the Rust
-- function tally.hot_generation().

-- The hot ring: HOT_PARTITIONS (extension/src/storage/hot.rs) partitions, one per
-- generation. A writer's rows go to the partition of its transaction's time slot.
ALTER TABLE tally.events_hot ALTER COLUMN gen SET DEFAULT tally.hot_generation();
CREATE TABLE tally.events_hot_0 PARTITION OF tally.events_hot FOR VALUES IN (0);
CREATE TABLE tally.events_hot_1 PARTITION OF tally.events_hot FOR VALUES IN (1);
CREATE TABLE tally.events_hot_2 PARTITION OF tally.events_hot FOR VALUES IN (2);
CREATE TABLE tally.events_hot_3 PARTITION OF tally.events_hot FOR VALUES IN (3);
-- pg_dump dumps a partitioned table's rows through its partitions.
SELECT pg_catalog.pg_extension_config_dump('tally.events_hot_0', '');
SELECT pg_catalog.pg_extension_config_dump('tally.events_hot_1', '');
SELECT pg_catalog.pg_extension_config_dump('tally.events_hot_2', '');
SELECT pg_catalog.pg_extension_config_dump('tally.events_hot_3', '');

-- One row per segment: every event of one site and UTC day (or a part of one) in
-- tally-core's columnar format, with the zone map in plain columns so scans skip
-- segments without detoasting them. An ordinary heap table: WAL, replication,
-- pg_dump and RLS apply unchanged.
CREATE TABLE tally.segments (
    segment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL,
    -- The UTC day the events fall in: the unit compaction slices and merges by.
    day        date NOT NULL,
    min_ts     timestamptz NOT NULL,
    max_ts     timestamptz NOT NULL,
    row_count  int NOT NULL CHECK (row_count > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    data       bytea NOT NULL,
    -- The smallest and largest value of each string column (tally_core's
    -- segment::StringRanges), so a filter on one skips the segment unread; NULL for a
    -- segment written before Tally recorded them.
    string_ranges bytea
);
-- The segment bytes are already compressed: TOAST should store them out of line
-- without trying pglz again.
ALTER TABLE tally.segments ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX segments_site_time ON tally.segments (site_id, min_ts, max_ts);
CREATE INDEX segments_site_day ON tally.segments (site_id, day);
SELECT pg_catalog.pg_extension_config_dump('tally.segments', '');
SELECT pg_catalog.pg_extension_config_dump('tally.segments_segment_id_seq', '');

-- A decoded segment as one value: an array per column, in tally_core COLUMNS order.
-- tally.segment_arrays() builds it; unnest() turns it back into rows.
CREATE TYPE tally.event_arrays AS (
    site_id int[], ts timestamptz[], name text[], visitor_id bigint[], session_id bigint[],
    hostname text[], pathname text[], referrer text[], referrer_source text[],
    utm_source text[], utm_medium text[], utm_campaign text[], utm_term text[], utm_content text[],
    country text[], region text[], city text[], browser text[], browser_version text[],
    os text[], os_version text[], device text[], screen_width int[], engagement_ms int[],
    revenue_micros bigint[], revenue_currency text[], props jsonb[], scroll_depth int[], interactive boolean[],
    channel text[]
);
