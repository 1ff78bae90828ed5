-- Users, roles, row-level security and the audit log. Loaded after every per-site table
-- exists (see extension/src/lib.rs), because it puts policies on all of them.
--
-- The model (README, "Users, roles and access"):
-- - every Tally user is a NOLOGIN Postgres role (tally.users.pg_role); the gateway logs in
--   as a role that is a member of all of them and runs each request inside
--   `SET LOCAL ROLE <the user's role>`; an analyst's psql login is a LOGIN role granted
--   the user's role and set to it on connect (tally.grant_psql_login). Both end up with
--   the user's role as current_user, so the same rules apply.
-- - row-level security on every per-site table lets current_user see the sites it is a
--   member of (tally.my_sites). Who you are never comes from a GUC or anything else a
--   session can set; the one GUC read, tally.site_scope, can only narrow what is seen.
-- - group roles carry the table privileges: tally_viewer (read), tally_analyst (also
--   writes goals), tally_admin (every site, users, memberships, the audit log).
--   tally_gateway is the group of the gateway's login role.
--
-- Tables are owned by the superuser that ran CREATE EXTENSION, so the background worker
-- (compaction, rollups, retention) and maintenance functions run by a superuser see
-- every row. RLS is ENABLEd but not FORCEd: FORCE only binds a non-superuser owner, and
-- Tally has none.

-- Group roles are cluster-wide, shared by every database with the extension: created
-- once. Two databases creating the extension at once race for the name; the loser
-- finds the role there.
DO $$
DECLARE
    groups constant text[][] := ARRAY[
        ['tally_viewer', NULL], ['tally_analyst', 'tally_viewer'], ['tally_admin', 'tally_analyst'], ['tally_gateway', NULL]];
    i int;
BEGIN
    FOR i IN 1 .. array_length(groups, 1) LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = groups[i][1]);
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', groups[i][1]);
            IF groups[i][2] IS NOT NULL THEN
                EXECUTE format('GRANT %I TO %I', groups[i][2], groups[i][1]);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
END $$;

-- Users. The password hash is an argon2id PHC string computed by the gateway (the
-- `argon2` crate); SQL never sees a password.
CREATE TABLE tally.users (
    user_id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND email LIKE '_%@_%'),
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- Administrators see every site and manage users, sites and memberships.
    is_admin      boolean NOT NULL DEFAULT false,
    -- The user's NOLOGIN role: tally_u<user_id>_<random>, unique in the cluster, so
    -- two databases (or a database recreated) never share a role by accident.
    pg_role       name NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('tally.users', '');
SELECT pg_catalog.pg_extension_config_dump('tally.users_user_id_seq', '');

-- Who may see which site, and as what.
CREATE TABLE tally.memberships (
    user_id int NOT NULL REFERENCES tally.users ON DELETE CASCADE,
    site_id int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    role    text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    PRIMARY KEY (user_id, site_id)
);
CREATE INDEX memberships_site ON tally.memberships (site_id);
SELECT pg_catalog.pg_extension_config_dump('tally.memberships', '');

-- A NOLOGIN role per site that may read only that site (as a viewer), for work done on
-- a site's behalf without a user: alert evaluation measures each rule as its site's
-- reader (tally.site_reader), never as the superuser that runs the job; the role is
-- dropped with its site (tally.drop_row_role). Not dumped: roles are the cluster's,
-- so a restored database creates its readers again.
CREATE TABLE tally.site_readers (
    site_id int PRIMARY KEY REFERENCES tally.sites ON DELETE CASCADE,
    pg_role name NOT NULL UNIQUE
);

-- Wrong passwords per sign-in name and client address, for the lockout: keyed by the
-- email typed, whether or not such a user exists, so a locked name says nothing about
-- the account; and by the address, so whoever guesses a known name locks it only for
-- their own address, never its owner out. Kept in Postgres so every gateway enforces
-- the same lock.
CREATE TABLE tally.login_failures (
    email        text NOT NULL,
    address      inet NOT NULL,
    failures     int NOT NULL,
    last_at      timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    PRIMARY KEY (email, address)
);
CREATE INDEX login_failures_last ON tally.login_failures (last_at);

-- Dashboard sessions: only the SHA-256 of the cookie's token (256 random bits) is kept,
-- so a copy of this table logs nobody in.
CREATE TABLE tally.sessions (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    int NOT NULL REFERENCES tally.users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Sliding: each use pushes it forward (the gateway's session TTL).
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user ON tally.sessions (user_id);

-- API keys for programs (`Authorization: Bearer ta_...`): act as their user, optionally
-- on one site only. Stored as SHA-256 like ingest keys; shown once.
CREATE TABLE tally.api_keys (
    key_id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      int NOT NULL REFERENCES tally.users ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- NULL: every site the user can see.
    site_id      int REFERENCES tally.sites ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user ON tally.api_keys (user_id);
SELECT pg_catalog.pg_extension_config_dump('tally.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('tally.api_keys_key_id_seq', '');

-- Public shared links: a secret URL that shows one site's dashboard read-only without
-- signing in. Each link is a NOLOGIN role of its own (member of tally_viewer only) that
-- tally.my_sites maps to its one site as a viewer while the link is not revoked: the
-- gateway runs a link's queries under `SET LOCAL ROLE` to it, so row-level security
-- holds a link to its site as it holds a user to theirs. Only the SHA-256 of the URL's
-- token is kept (256 random bits, shown once). Created and revoked by the site's
-- admins (sql/sharing.sql).
CREATE TABLE tally.share_links (
    link_id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id       int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    -- argon2id PHC string (the gateway hashes); NULL: no password.
    password_hash text CHECK (password_hash LIKE '$argon2id$%'),
    protected     boolean GENERATED ALWAYS AS (password_hash IS NOT NULL) STORED,
    -- The dashboard panels the link shows (and whose dimensions its queries may use);
    -- NULL: all of them.
    panels        text[] CHECK (cardinality(panels) > 0),
    -- Origins that may frame the link (Content-Security-Policy frame-ancestors); NULL:
    -- no embedding, '{}': any site.
    embed_origins text[],
    -- Set by the trigger in sql/sharing.sql, never by the writer (no INSERT grant).
    pg_role       name NOT NULL UNIQUE,
    created_by    int REFERENCES tally.users ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX share_links_site ON tally.share_links (site_id);
SELECT pg_catalog.pg_extension_config_dump('tally.share_links', '');

-- The audit log: logins (success and failure), admin actions, exports, API queries.
-- Append-only: roles may INSERT rows naming themselves, nobody but the owner may UPDATE
-- or DELETE, and only administrators read it.
CREATE TABLE tally.audit_log (
    audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    -- The role that wrote the row (forced to current_user by a trigger) and its user.
    actor    name NOT NULL DEFAULT current_user,
    user_id  int,
    action   text NOT NULL CHECK (action ~ '^[a-z_.]+$'),
    site_id  int,
    detail   jsonb NOT NULL DEFAULT '{}',
    ip       inet
);
CREATE INDEX audit_log_at ON tally.audit_log (at);
SELECT pg_catalog.pg_extension_config_dump('tally.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('tally.audit_log_audit_id_seq', '');

-- The calling role's user. A security_barrier view owned by the extension's owner: it
-- reads tally.users with the owner's rights but only the row of current_user, and no
-- function in a caller's WHERE clause runs before that filter.
CREATE VIEW tally.me WITH (security_barrier) AS
    SELECT u.user_id, u.email, u.name, u.is_admin
    FROM tally.users u
    WHERE u.pg_role = current_user;

-- The sites the calling role may see, with its role on each: administrators see every
-- site as admin, a site's reader role (alert evaluation) its one site as viewer, a
-- shared link's role its one site as viewer until it is revoked. Every RLS policy
-- below is built on this.
CREATE VIEW tally.my_sites WITH (security_barrier) AS
    SELECT m.site_id, m.role
    FROM tally.users u JOIN tally.memberships m USING (user_id)
    WHERE u.pg_role = current_user AND NOT u.is_admin
    UNION ALL
    SELECT s.site_id, 'admin'
    FROM tally.users u, tally.sites s
    WHERE u.pg_role = current_user AND u.is_admin
    UNION ALL
    SELECT r.site_id, 'viewer'
    FROM tally.site_readers r
    WHERE r.pg_role = current_user
    UNION ALL
    SELECT l.site_id, 'viewer'
    FROM tally.share_links l
    WHERE l.pg_role = current_user AND l.revoked_at IS NULL;

-- The ids of the sites the calling role has at least `min_role` on (viewer < analyst <
-- admin). Policies call it as `(SELECT tally.visible_site_ids())`: an InitPlan, run
-- once per statement and usable as an index condition, not once per row.
-- `tally.site_scope` (a site id; the gateway sets it for an API key limited to one
-- site) narrows the answer to that site. Anyone may set it: it never adds a site.
CREATE FUNCTION tally.visible_site_ids(min_role text DEFAULT 'viewer')
RETURNS int[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(site_id), '{}')
    FROM tally.my_sites
    WHERE array_position(ARRAY['viewer', 'analyst', 'admin'], role)
          >= array_position(ARRAY['viewer', 'analyst', 'admin'], min_role)
      AND site_id = coalesce(nullif(current_setting('tally.site_scope', true), '')::int, site_id)
$$;

-- Row-level security on every per-site table. Partitions of events_hot get the policy
-- too: RLS is checked on the table a query names, and a query may name a partition.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'events_hot', 'events_hot_0', 'events_hot_1', 'events_hot_2', 'events_hot_3',
                             'segments', 'rollups', 'rollup_blocks', 'rollups_daily', 'rollups_weekly', 'rollups_settled', 'goals', 'funnels', 'ingest_keys', 'ingest_event_ids'] LOOP
        EXECUTE format('ALTER TABLE tally.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY site_members ON tally.%I FOR SELECT USING (site_id = ANY ((SELECT tally.visible_site_ids())::int[]))', t);
    END LOOP;
END $$;
-- Analysts and admins of a site define its goals.
CREATE POLICY site_analysts ON tally.goals FOR ALL
    USING (site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[]))
    WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[]));
-- ... and its funnels.
CREATE POLICY site_analysts ON tally.funnels FOR ALL
    USING (site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[]))
    WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids('analyst'))::int[]));
-- Admins of a site manage its ingest keys (tally.create_ingest_key, revoke_ingest_key).
CREATE POLICY site_admins ON tally.ingest_keys FOR ALL
    USING (site_id = ANY ((SELECT tally.visible_site_ids('admin'))::int[]))
    WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids('admin'))::int[]));
-- Administrators create and change sites (tally.create_site); membership in
-- tally_admin is what makes one.
CREATE POLICY administrators ON tally.sites FOR ALL TO tally_admin USING (true) WITH CHECK (true);

ALTER TABLE tally.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY append_own ON tally.audit_log FOR INSERT WITH CHECK (actor = current_user);
CREATE POLICY administrators ON tally.audit_log FOR SELECT TO tally_admin USING (true);

-- Stamps an audit row with its writer: the actor is always current_user (a role cannot
-- write rows in another's name) and the user is the one of that role, if any.
CREATE FUNCTION tally.audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.actor := current_user;
    NEW.at := now();
    NEW.user_id := (SELECT me.user_id FROM tally.me);
    RETURN NEW;
END $$;
CREATE TRIGGER stamp BEFORE INSERT ON tally.audit_log FOR EACH ROW EXECUTE FUNCTION tally.audit_stamp();

-- Appends to the audit log as the calling role.
CREATE FUNCTION tally.audit(action text, site_id int DEFAULT NULL, detail jsonb DEFAULT '{}', ip inet DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO tally.audit_log (action, site_id, detail, ip) VALUES (action, site_id, coalesce(detail, '{}'), ip)
$$;

-- The analyst-facing relation reads hot rows and segments as the querying role, so
-- their policies apply (a plain view would read them as its owner, past RLS).
ALTER VIEW tally.events SET (security_invoker = true);

-- Privileges. Everything not granted here is refused: user roles never touch
-- users, sessions, api_keys or memberships except through tally.me and tally.my_sites.
GRANT USAGE ON SCHEMA tally TO tally_viewer, tally_gateway;
GRANT SELECT ON tally.sites, tally.events_hot, tally.segments, tally.rollups, tally.rollups_daily, tally.rollups_weekly,
                tally.rollups_settled, tally.rollup_blocks, tally.rollup_rows,
                tally.goals, tally.funnels, tally.events, tally.events_scan,
                tally.me, tally.my_sites TO tally_viewer;
GRANT SELECT ON tally.me TO tally_gateway;
GRANT SELECT (key_id, site_id, created_at, revoked_at), INSERT (site_id, key_hash), UPDATE (revoked_at)
    ON tally.ingest_keys TO tally_viewer;
GRANT INSERT (action, site_id, detail, ip) ON tally.audit_log TO tally_viewer, tally_gateway;
GRANT INSERT, UPDATE, DELETE ON tally.goals, tally.funnels TO tally_analyst;
GRANT INSERT, UPDATE (timezone, retention), DELETE ON tally.sites TO tally_admin;
GRANT SELECT ON tally.audit_log TO tally_admin;

-- The gateway's own work outside requests (ingest, sign-in, sessions, API keys). Its
-- login role also needs BYPASSRLS for ingest (tally.ingest_batch COPYs, and COPY cannot
-- write through RLS); see README.
GRANT SELECT ON tally.sites, tally.ingest_keys TO tally_gateway;
GRANT INSERT ON tally.events_hot TO tally_gateway;
GRANT SELECT, INSERT, DELETE ON tally.ingest_batches, tally.ingest_event_ids, tally.salts TO tally_gateway;
GRANT SELECT, UPDATE (password_hash, name) ON tally.users TO tally_gateway;
GRANT SELECT, INSERT, UPDATE, DELETE ON tally.login_failures TO tally_gateway;
GRANT SELECT, INSERT, UPDATE, DELETE ON tally.sessions TO tally_gateway;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON tally.api_keys TO tally_gateway;

-- Maintenance and ingest functions are not for users.
REVOKE EXECUTE ON FUNCTION tally.compact(boolean), tally.apply_retention(), tally.erase_visitor(int, bigint),
    tally.rebuild_rollups(int, timestamptz, timestamptz), tally.rollups_recompute(int[], timestamptz, timestamptz),
    tally.build_daily_rollups(), tally.rollup_rows_to_blocks(), tally.import_events(regclass),
    tally.prune_ingest_ids(interval), tally.daily_salt(date), tally.ingest_batch(uuid, bytea, text[]) FROM PUBLIC;
-- ingest_batch runs as its caller (no SECURITY DEFINER): it checks INSERT on
-- tally.events_hot and refuses a caller under row-level security, as COPY does.
GRANT EXECUTE ON FUNCTION tally.prune_ingest_ids(interval), tally.daily_salt(date), tally.ingest_batch(uuid, bytea, text[])
    TO tally_gateway;

-- Makes role `who` a direct member of `grp`, or not (quietly: no notice when it already is).
CREATE FUNCTION tally.set_group(who name, grp name, wanted boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    present boolean := EXISTS (
        SELECT FROM pg_auth_members a
        WHERE a.roleid = (SELECT r.oid FROM pg_roles r WHERE r.rolname = grp)
          AND a.member = (SELECT r.oid FROM pg_roles r WHERE r.rolname = who));
BEGIN
    IF wanted AND NOT present THEN
        EXECUTE format('GRANT %I TO %I', grp, who);
    ELSIF present AND NOT wanted THEN
        EXECUTE format('REVOKE %I FROM %I', grp, who);
    END IF;
END $$;

-- Keeps a user's role in step with the user: member of tally_viewer always, of
-- tally_analyst when analyst or admin of any site, of tally_admin when an administrator.
CREATE FUNCTION tally.sync_user_role(p_user int) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    u tally.users;
    analyst boolean;
BEGIN
    SELECT * INTO STRICT u FROM tally.users WHERE user_id = p_user;
    analyst := u.is_admin OR EXISTS (SELECT FROM tally.memberships WHERE user_id = p_user AND role IN ('admin', 'analyst'));
    PERFORM tally.set_group(u.pg_role, 'tally_viewer', true);
    PERFORM tally.set_group(u.pg_role, 'tally_analyst', analyst);
    PERFORM tally.set_group(u.pg_role, 'tally_admin', u.is_admin);
END $$;

-- Creates a user and its role; returns the user's id. `password_hash` is an argon2id
-- PHC string (the gateway computes it). Administrators only.
CREATE FUNCTION tally.create_user(email text, name text, password_hash text, is_admin boolean DEFAULT false)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id int;
    role_name name;
BEGIN
    -- gen_random_uuid: a suffix nobody can predict or reuse across databases.
    INSERT INTO tally.users (email, name, password_hash, is_admin, pg_role)
    VALUES (lower(btrim(create_user.email)), coalesce(create_user.name, ''), create_user.password_hash,
            create_user.is_admin, 'pending_' || gen_random_uuid())
    RETURNING user_id INTO id;
    role_name := format('tally_u%s_%s', id, left(replace(gen_random_uuid()::text, '-', ''), 10));
    UPDATE tally.users SET pg_role = role_name WHERE user_id = id;
    EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    -- The gateway's group may SET ROLE to it.
    EXECUTE format('GRANT %I TO tally_gateway', role_name);
    PERFORM tally.sync_user_role(id);
    RETURN id;
END $$;

-- The reader role of a site (see tally.site_readers), created the first time it is
-- asked for, or again when the row outlived its role (a database restored into
-- another cluster). Not for users: creating roles is the superuser's.
CREATE FUNCTION tally.site_reader(site_id int) RETURNS name
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role_name name;
BEGIN
    SELECT r.pg_role INTO role_name FROM tally.site_readers r WHERE r.site_id = site_reader.site_id;
    IF role_name IS NOT NULL AND EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        RETURN role_name;
    END IF;
    role_name := format('tally_r%s_%s', site_reader.site_id, left(replace(gen_random_uuid()::text, '-', ''), 10));
    EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE tally_viewer', role_name);
    INSERT INTO tally.site_readers AS r VALUES (site_reader.site_id, role_name)
    ON CONFLICT ON CONSTRAINT site_readers_pkey DO UPDATE SET pg_role = excluded.pg_role;
    RETURN role_name;
END $$;
REVOKE EXECUTE ON FUNCTION tally.site_reader(int) FROM PUBLIC;

-- Drops the role a row names when the row goes: a site's reader (tally.site_readers)
-- or a shared link's role (tally.share_links), when the site is deleted (the row goes
-- with it, by cascade) or the table is truncated. A trigger, so the role goes in the
-- same transaction as the row whoever removes it: an administrator, who may not drop
-- roles, deletes a site and this runs as the extension's owner. Only the roles the
-- rows name are dropped, never a sweep by name: roles are the cluster's, and another
-- database's readers look the same.
CREATE FUNCTION tally.drop_row_role() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    role_name name;
BEGIN
    IF TG_OP = 'DELETE' THEN
        role_name := OLD.pg_role;
        -- A restored database's row may name a role of another cluster.
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('DROP ROLE %I', role_name);
        END IF;
        RETURN NULL;
    END IF;
    FOR role_name IN EXECUTE format('SELECT r.pg_role FROM %I.%I r JOIN pg_roles p ON p.rolname = r.pg_role', TG_TABLE_SCHEMA, TG_TABLE_NAME) LOOP
        EXECUTE format('DROP ROLE %I', role_name);
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER drop_role AFTER DELETE ON tally.site_readers FOR EACH ROW EXECUTE FUNCTION tally.drop_row_role();
CREATE TRIGGER drop_roles BEFORE TRUNCATE ON tally.site_readers FOR EACH STATEMENT EXECUTE FUNCTION tally.drop_row_role();

-- Makes a user an administrator or not. Administrators only.
CREATE FUNCTION tally.set_admin(user_id int, is_admin boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE tally.users u SET is_admin = set_admin.is_admin WHERE u.user_id = set_admin.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such user' USING ERRCODE = 'no_data_found', HINT = 'List users with GET /api/v1/users.';
    END IF;
    PERFORM tally.sync_user_role(set_admin.user_id);
END $$;

-- Gives a user a role on a site (or changes it). Administrators only.
CREATE FUNCTION tally.set_membership(user_id int, site_id int, role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role IS NULL OR role NOT IN ('admin', 'analyst', 'viewer') THEN
        RAISE EXCEPTION 'role must be admin, analyst or viewer' USING ERRCODE = 'invalid_parameter_value', DETAIL = 'field: role',
            HINT = 'Use one of admin, analyst, viewer.';
    END IF;
    INSERT INTO tally.memberships AS m VALUES (set_membership.user_id, set_membership.site_id, set_membership.role)
    ON CONFLICT ON CONSTRAINT memberships_pkey DO UPDATE SET role = excluded.role;
    PERFORM tally.sync_user_role(set_membership.user_id);
END $$;

-- Takes a user's role on a site away. Returns whether there was one. Administrators only.
CREATE FUNCTION tally.remove_membership(user_id int, site_id int) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM tally.memberships m WHERE m.user_id = remove_membership.user_id AND m.site_id = remove_membership.site_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM tally.sync_user_role(remove_membership.user_id);
    RETURN true;
END $$;

-- Lets LOGIN role `login_role` act as the user in psql: it sees exactly the user's
-- sites through the same policies and functions. The login role must already exist
-- (CREATE ROLE alice LOGIN PASSWORD '...') and must not be a superuser or bypass RLS.
-- Only for analysts and administrators (viewers read dashboards). Run it as the
-- superuser who creates login roles (it sets the login's default role, which Postgres
-- does not allow from a SECURITY DEFINER function).
CREATE FUNCTION tally.grant_psql_login(user_id int, login_role name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target name;
BEGIN
    SELECT u.pg_role INTO target FROM tally.users u WHERE u.user_id = grant_psql_login.user_id;
    IF target IS NULL THEN
        RAISE EXCEPTION 'no such user' USING ERRCODE = 'no_data_found', HINT = 'List users with GET /api/v1/users.';
    END IF;
    IF NOT pg_has_role(target, 'tally_analyst', 'MEMBER') THEN
        RAISE EXCEPTION 'only analysts and administrators get psql logins' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Make the user an analyst of a site first: SELECT tally.set_membership(user_id, site_id, ''analyst'').';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = login_role AND r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls)
       OR login_role LIKE 'tally\_%' THEN
        RAISE EXCEPTION 'login role "%" must exist, be able to log in, and be neither superuser nor BYPASSRLS', login_role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'CREATE ROLE alice LOGIN PASSWORD ''...''; then call this again.';
    END IF;
    EXECUTE format('GRANT %I TO %I', target, login_role);
    -- Every session of the login starts as the user's role (RESET ROLE leaves the login
    -- with no user, which sees no site).
    EXECUTE format('ALTER ROLE %I SET role = %L', login_role, target);
END $$;

-- Takes a psql login away from a user's role. Superusers only, like grant_psql_login.
CREATE FUNCTION tally.revoke_psql_login(user_id int, login_role name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('REVOKE %I FROM %I', (SELECT u.pg_role FROM tally.users u WHERE u.user_id = revoke_psql_login.user_id), login_role);
    EXECUTE format('ALTER ROLE %I RESET role', login_role);
END $$;

REVOKE EXECUTE ON FUNCTION tally.set_group(name, name, boolean), tally.sync_user_role(int), tally.create_user(text, text, text, boolean), tally.set_admin(int, boolean),
    tally.set_membership(int, int, text), tally.remove_membership(int, int), tally.grant_psql_login(int, name),
    tally.revoke_psql_login(int, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tally.create_user(text, text, text, boolean), tally.set_admin(int, boolean),
    tally.set_membership(int, int, text), tally.remove_membership(int, int) TO tally_admin;

-- Every user with their memberships (`[{"site_id", "role"}]`). Administrators only.
CREATE FUNCTION tally.list_users()
RETURNS TABLE (user_id int, email text, name text, is_admin boolean, memberships jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.user_id, u.email, u.name, u.is_admin,
           coalesce((SELECT jsonb_agg(jsonb_build_object('site_id', m.site_id, 'role', m.role) ORDER BY m.site_id)
                     FROM tally.memberships m WHERE m.user_id = u.user_id), '[]')
    FROM tally.users u ORDER BY u.user_id
$$;

-- The members of one site. Administrators only.
CREATE FUNCTION tally.site_members(site_id int)
RETURNS TABLE (user_id int, email text, name text, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.user_id, u.email, u.name, m.role
    FROM tally.memberships m JOIN tally.users u USING (user_id)
    WHERE m.site_id = site_members.site_id ORDER BY u.email
$$;

REVOKE EXECUTE ON FUNCTION tally.list_users(), tally.site_members(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tally.list_users(), tally.site_members(int) TO tally_admin;
