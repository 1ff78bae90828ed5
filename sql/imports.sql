-- Imported data (docs/import.md): aggregates another analytics tool exported (Plausible's
-- CSV export, Google Analytics 4 reports), kept beside Tally's own events and added to
-- them when a query asks (`include.imports`), as Plausible does with its imports. One
-- table per breakdown, with Plausible's columns, so an export loads column by column;
-- every row belongs to one import, and deleting the import deletes its rows.

-- One loaded export. Imports never overlap in dates on a site (the loader refuses one
-- that would), so no day is counted twice by two imports.
CREATE TABLE tally.site_imports (
    import_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    -- Where the data came from: plausible_csv or ga4.
    source      text NOT NULL CHECK (source IN ('plausible_csv', 'ga4')),
    -- The file's name, as given to the loader.
    file        text NOT NULL,
    start_date  date NOT NULL,
    end_date    date NOT NULL CHECK (end_date >= start_date),
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX site_imports_site ON tally.site_imports (site_id, start_date);
SELECT pg_catalog.pg_extension_config_dump('tally.site_imports', '');
SELECT pg_catalog.pg_extension_config_dump('tally.site_imports_import_id_seq', '');

-- Counts are of the day: visitors of a day, visits (sessions) that began that day, their
-- pageviews, bounces (visits of one pageview) and visit_duration (the sum over the visits,
-- in seconds, so averages over several days stay exact).
CREATE TABLE tally.imported_visitors (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    visitors bigint NOT NULL, pageviews bigint NOT NULL, bounces bigint NOT NULL, visits bigint NOT NULL,
    visit_duration bigint NOT NULL
);
-- An empty source is a direct visit ("Direct / None"). channel is the acquisition
-- channel the gateway gives the row's source and tags when it loads them (exports carry
-- none; gateway/src/ingest/channel.rs), empty for rows loaded before it existed.
CREATE TABLE tally.imported_sources (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    source text NOT NULL, referrer text NOT NULL, utm_source text NOT NULL, utm_medium text NOT NULL,
    utm_campaign text NOT NULL, utm_content text NOT NULL, utm_term text NOT NULL,
    pageviews bigint NOT NULL, visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL,
    bounces bigint NOT NULL, channel text NOT NULL DEFAULT ''
);
-- scroll_depth is the sum of the visitors' deepest scroll (percent), NULL when the
-- export has none; pageleave_visitors the visitors it was measured for.
CREATE TABLE tally.imported_pages (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    hostname text NOT NULL, page text NOT NULL,
    visits bigint NOT NULL, visitors bigint NOT NULL, pageviews bigint NOT NULL, scroll_depth bigint,
    pageleave_visitors bigint NOT NULL
);
CREATE TABLE tally.imported_entry_pages (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    entry_page text NOT NULL,
    visitors bigint NOT NULL, entrances bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);
CREATE TABLE tally.imported_exit_pages (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    exit_page text NOT NULL,
    visitors bigint NOT NULL, visit_duration bigint NOT NULL, exits bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);
CREATE TABLE tally.imported_custom_events (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    name text NOT NULL, link_url text NOT NULL, path text NOT NULL,
    visitors bigint NOT NULL, events bigint NOT NULL
);
-- country is ISO 3166-1 alpha-2, region ISO 3166-2, city a GeoNames id (0: unknown),
-- as Plausible exports them.
CREATE TABLE tally.imported_locations (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    country text NOT NULL, region text NOT NULL, city bigint NOT NULL,
    visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);
CREATE TABLE tally.imported_devices (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    device text NOT NULL,
    visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);
CREATE TABLE tally.imported_browsers (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    browser text NOT NULL, browser_version text NOT NULL,
    visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);
CREATE TABLE tally.imported_operating_systems (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    operating_system text NOT NULL, operating_system_version text NOT NULL,
    visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
    pageviews bigint NOT NULL
);

-- Members of a site read its imports; its admins load and delete them. pg_dump carries
-- them like the events.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['site_imports', 'imported_visitors', 'imported_sources', 'imported_pages', 'imported_entry_pages',
                             'imported_exit_pages', 'imported_custom_events', 'imported_locations', 'imported_devices',
                             'imported_browsers', 'imported_operating_systems'] LOOP
        IF t <> 'site_imports' THEN
            EXECUTE format('CREATE INDEX %I ON tally.%I (site_id, date)', t || '_site_date', t);
            PERFORM pg_catalog.pg_extension_config_dump(format('tally.%I', t), '');
        END IF;
        EXECUTE format('ALTER TABLE tally.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY site_members ON tally.%I FOR SELECT USING (site_id = ANY ((SELECT tally.visible_site_ids())::int[]))', t);
        EXECUTE format('CREATE POLICY site_admins ON tally.%I FOR ALL USING (site_id = ANY ((SELECT tally.visible_site_ids(''admin''))::int[])) '
                       'WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids(''admin''))::int[]))', t);
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON tally.%I TO tally_viewer', t);
    END LOOP;
END $$;

-- Raw-event imports run by the gateway in the background (POST /api/v1/imports): what
-- GET /api/v1/imports/{id} reports. The gateway's own table, like tally.sessions.
CREATE TABLE tally.import_jobs (
    job_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    file        text NOT NULL,
    -- running, done or failed.
    state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    rows_done   bigint NOT NULL DEFAULT 0,
    -- Rows in the file, when known before the end (Parquet says; CSV and NDJSON are
    -- counted as they are read).
    rows_total  bigint,
    error       text,
    created_by  int,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
GRANT SELECT, INSERT, UPDATE ON tally.import_jobs TO tally_gateway;
-- The gateway loads history through the bulk path for an administrator's request.
GRANT EXECUTE ON FUNCTION tally.import_events(regclass) TO tally_gateway;
