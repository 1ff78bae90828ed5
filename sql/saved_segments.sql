-- Saved segments: named filter sets of a site, used in a query as
-- `["is", "segment", [segment_id]]` (tally.query puts the saved filters in its place).
-- A personal segment is its owner's alone; a shared one every member of the site sees
-- and uses. (tally.segments is something else: the columnar storage of events.)
CREATE TABLE tally.saved_segments (
    segment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    name       text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 120),
    -- A list of filters as in a query's `filters`, all of which a visit must pass.
    filters    jsonb NOT NULL,
    shared     boolean NOT NULL DEFAULT false,
    -- Who saved it; a user's segments go with the user.
    owner_id   int REFERENCES tally.users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (shared OR owner_id IS NOT NULL)
);
CREATE INDEX ON tally.saved_segments (site_id);
SELECT pg_catalog.pg_extension_config_dump('tally.saved_segments', '');
SELECT pg_catalog.pg_extension_config_dump('tally.saved_segments_segment_id_seq', '');

-- Stamps a segment with its owner, the writing user (an owner never changes, and a
-- role cannot save segments in another's name), and checks its filters as a query's
-- are checked: a bad one is SQLSTATE 22023 naming the field (`filters[0][1]`).
CREATE FUNCTION tally.saved_segment_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally.check_segment_filters(NEW.filters);
    IF TG_OP = 'INSERT' THEN
        NEW.owner_id := coalesce((SELECT me.user_id FROM tally.me), NEW.owner_id);
        NEW.created_at := now();
    ELSE
        NEW.owner_id := OLD.owner_id;
        NEW.created_at := OLD.created_at;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON tally.saved_segments
    FOR EACH ROW EXECUTE FUNCTION tally.saved_segment_stamp();

-- Members of a site see its shared segments and their own personal ones.
ALTER TABLE tally.saved_segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON tally.saved_segments FOR SELECT
    USING (site_id = ANY ((SELECT tally.visible_site_ids())::int[])
           AND (shared OR owner_id = (SELECT me.user_id FROM tally.me)));
-- A member saves, changes and deletes their personal segments; analysts and admins of
-- the site the shared ones (sharing is publishing to every member).
CREATE POLICY writers ON tally.saved_segments FOR ALL
    USING (CASE WHEN shared THEN site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[])
                ELSE site_id = ANY ((SELECT tally.visible_site_ids())::int[]) AND owner_id = (SELECT me.user_id FROM tally.me) END)
    WITH CHECK (CASE WHEN shared THEN site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[])
                     ELSE site_id = ANY ((SELECT tally.visible_site_ids())::int[]) AND owner_id = (SELECT me.user_id FROM tally.me) END);

GRANT SELECT, INSERT (site_id, name, filters, shared), UPDATE (name, filters, shared), DELETE
    ON tally.saved_segments TO tally_viewer;
