-- Public shared links (the table and its place in tally.my_sites are in sql/auth.sql):
-- who may create and revoke them, the role each one gets, and the unlocks of
-- password-protected links.

-- Stamps a new link with its creator (the inserting role's user), and keeps revocation
-- final: a revoked link never comes back, so a leaked URL stays dead. Runs as the
-- writer. Users cannot name created_by or pg_role (no INSERT grant on them): a row
-- that has them comes from a restore (pg_restore COPYs with triggers), kept as it was.
CREATE FUNCTION tally.share_link_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.revoked_at IS NOT NULL THEN
            RAISE EXCEPTION 'shared link % is revoked', OLD.link_id
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Create a new link instead.';
        END IF;
        IF (NEW.link_id, NEW.site_id, NEW.token_hash, NEW.pg_role) IS DISTINCT FROM (OLD.link_id, OLD.site_id, OLD.token_hash, OLD.pg_role) THEN
            RAISE EXCEPTION 'a shared link''s site, token and role never change' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.pg_role IS NULL THEN
        NEW.created_by := (SELECT me.user_id FROM tally.me);
    END IF;
    RETURN NEW;
END $$;

-- Gives a new link its NOLOGIN role: tally_l<id>_<random>, unique in the cluster, a
-- member of tally_viewer (read grants, and nothing else), which the gateway's group
-- may SET ROLE to. Runs as the extension's owner (creating roles needs it); as a
-- trigger function nobody can call it directly, and the row it serves has passed the
-- row-level security check of the writer (admins of the site) by COMMIT or the role
-- is rolled back with it.
CREATE FUNCTION tally.share_link_role() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- A restored row keeps its role; a restore into another cluster creates it there.
    IF NEW.pg_role IS NOT NULL AND EXISTS (SELECT FROM pg_roles WHERE rolname = NEW.pg_role) THEN
        RETURN NEW;
    END IF;
    NEW.pg_role := coalesce(NEW.pg_role, format('tally_l%s_%s', NEW.link_id, left(replace(gen_random_uuid()::text, '-', ''), 10)));
    EXECUTE format('CREATE ROLE %I NOLOGIN', NEW.pg_role);
    EXECUTE format('GRANT tally_viewer TO %I', NEW.pg_role);
    EXECUTE format('GRANT %I TO tally_gateway', NEW.pg_role);
    RETURN NEW;
END $$;
-- Triggers fire by name: the stamp first, then the role.
CREATE TRIGGER a_stamp BEFORE INSERT OR UPDATE ON tally.share_links FOR EACH ROW EXECUTE FUNCTION tally.share_link_stamp();
CREATE TRIGGER b_role BEFORE INSERT ON tally.share_links FOR EACH ROW EXECUTE FUNCTION tally.share_link_role();
-- A link's role goes with its row (the link's site deleted, or the table truncated):
-- tally.drop_row_role in sql/auth.sql. A revoked link keeps its role until then (it
-- maps to no site once revoked).
CREATE TRIGGER drop_role AFTER DELETE ON tally.share_links FOR EACH ROW EXECUTE FUNCTION tally.drop_row_role();
CREATE TRIGGER drop_roles BEFORE TRUNCATE ON tally.share_links FOR EACH STATEMENT EXECUTE FUNCTION tally.drop_row_role();

-- Admins of a site list, create and revoke its links; nobody else sees them (a link's
-- own role is a viewer of its site, so it does not see itself either).
ALTER TABLE tally.share_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY site_admins ON tally.share_links FOR ALL
    USING (site_id = ANY ((SELECT tally.visible_site_ids('admin'))::int[]))
    WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids('admin'))::int[]));
GRANT SELECT (link_id, site_id, name, protected, panels, embed_origins, created_by, created_at, revoked_at),
      INSERT (site_id, token_hash, name, password_hash, panels, embed_origins),
      UPDATE (revoked_at)
    ON tally.share_links TO tally_viewer;
-- The gateway finds a link by its token before anyone is known.
GRANT SELECT ON tally.share_links TO tally_gateway;

-- Unlocks of password-protected links: whoever gave the right password holds a token
-- (sent as X-Tally-Share-Unlock) whose SHA-256 is kept here until it expires or the
-- link goes. The gateway's own table, like tally.sessions.
CREATE TABLE tally.share_unlocks (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    link_id    int NOT NULL REFERENCES tally.share_links ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX share_unlocks_expires ON tally.share_unlocks (expires_at);
GRANT SELECT, INSERT, DELETE ON tally.share_unlocks TO tally_gateway;
