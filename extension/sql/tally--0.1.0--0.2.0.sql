-- tally 0.1.0 -> 0.2.0, run by ALTER EXTENSION tally UPDATE.
--
-- What changed (docs/upgrades.md says how to add to this file until 0.2.0 is released;
-- after that it is never edited again):
--
-- * pg_dump carries the rows a restore needs for idempotent ingest and alert delivery,
--   and the identity sequences of every table it carries, so a restored database
--   neither stores a retried batch twice nor hands out ids it already used.
-- * tally.monitoring(): the database's gauges for the gateway's /metrics.
-- * tally.import_events(regclass): history loaded straight into segments and rollups.
-- * Alert rules are measured as their site's reader role (tally.site_readers), which
--   is dropped with its site.
-- * Revenue goals carry a currency; saved segments; public shared links; scheduled
--   email reports.
-- * CALL tally.run_alerts(), what pg_cron schedules, evaluates alert rules one
--   transaction per rule (tally.evaluate_alert).
-- * Imported aggregates (tally.site_imports, tally.imported_*) and raw-import jobs
--   (tally.import_jobs), sql/imports.sql.
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_batches', '');
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_event_ids', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_state', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_delivery_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('tally.sites_site_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_rules_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_history_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.api_keys_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.audit_log_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_keys_key_id_seq', '');

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

-- History import (docs/import.md); maintenance only, like compaction.
CREATE FUNCTION tally.import_events(staging regclass) RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'import_events_wrapper';
REVOKE EXECUTE ON FUNCTION tally.import_events(regclass) FROM PUBLIC;

-- A NOLOGIN role per site that may read only that site (sql/auth.sql).
CREATE TABLE tally.site_readers (
    site_id int PRIMARY KEY REFERENCES tally.sites ON DELETE CASCADE,
    pg_role name NOT NULL UNIQUE
);
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

-- Public shared links (sql/auth.sql, sql/sharing.sql).
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

-- The sites a role may see gain the site readers' and the shared links' roles.
CREATE OR REPLACE VIEW tally.my_sites WITH (security_barrier) AS
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

-- A revenue goal's currency (sql/query.sql).
ALTER TABLE tally.goals ADD COLUMN currency text CONSTRAINT goals_currency CHECK (currency IS NULL OR (currency ~ '^[A-Z]{3}$' AND event_name IS NOT NULL));

-- Saved segments (sql/saved_segments.sql), their filters checked by a Rust function.
CREATE FUNCTION tally.check_segment_filters(filters jsonb) RETURNS void
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'check_segment_filters_wrapper';
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

-- Scheduled email reports: per user and site, weekly (Monday to Sunday) or monthly, in
-- the schedule's time zone (the site's unless chosen), sent the morning after the
-- period ends. The schedule holds its state: the next period to send and when it is
-- due; a gateway claims a due schedule with FOR UPDATE SKIP LOCKED and holds the row
-- while it sends, then advances it in the same transaction, so several gateways and
-- restarts send each period once (docs/reports.md says what remains at-least-once).

CREATE TABLE tally.report_schedules (
    schedule_id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           int NOT NULL REFERENCES tally.users ON DELETE CASCADE,
    site_id           int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    frequency         text NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    timezone          text NOT NULL,
    -- The local hour the email goes out, the day after the period.
    send_hour         int NOT NULL DEFAULT 8 CHECK (send_hour BETWEEN 0 AND 23),
    -- The first day of the next period to send, and when its email is due.
    period_start      date NOT NULL,
    due_at            timestamptz NOT NULL,
    -- Failed sends of that period; the next try waits until retry_at.
    attempts          int NOT NULL DEFAULT 0,
    retry_at          timestamptz,
    last_error        text,
    -- The one-click unsubscribe token in every email's links (244 random bits): kept as
    -- it is, since each email repeats it, and readable by the gateway alone.
    unsubscribe_token text NOT NULL UNIQUE
        DEFAULT replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, site_id, frequency)
);
CREATE INDEX report_schedules_due ON tally.report_schedules (due_at);
SELECT pg_catalog.pg_extension_config_dump('tally.report_schedules', '');

-- Every period sent: at most one row per schedule and period, written in the claim's
-- transaction.
CREATE TABLE tally.report_sends (
    schedule_id  int NOT NULL REFERENCES tally.report_schedules ON DELETE CASCADE,
    period_start date NOT NULL,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, period_start)
);

-- The period of `frequency` that contains `day`: its first and last day.
CREATE FUNCTION tally.report_period(frequency text, day date, OUT first_day date, OUT last_day date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p, (p + CASE frequency WHEN 'weekly' THEN interval '1 week' ELSE interval '1 month' END)::date - 1
    FROM (SELECT date_trunc(CASE frequency WHEN 'weekly' THEN 'week' ELSE 'month' END, day)::date AS p) x
$$;

-- When the email of the period starting `first_day` is due: `send_hour` on the day
-- after its last day, in time zone `tz`.
CREATE FUNCTION tally.report_due(frequency text, first_day date, tz text, send_hour int) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT ((p.last_day + 1)::timestamp + make_interval(hours => send_hour)) AT TIME ZONE tz
    FROM tally.report_period(frequency, first_day) p
$$;

-- Checks a new schedule's time zone and fills its state (the current period is the
-- first one sent). Users cannot name period_start (no INSERT grant on it): a row that
-- has one comes from a restore (pg_restore COPYs with triggers) and keeps its state.
CREATE FUNCTION tally.report_schedule_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'unknown time zone "%"', NEW.timezone
            USING ERRCODE = 'invalid_parameter_value', DETAIL = 'field: timezone',
                  HINT = 'Use an IANA zone name from pg_timezone_names, e.g. Europe/Berlin.';
    END IF;
    IF NEW.period_start IS NULL THEN
        NEW.period_start := (tally.report_period(NEW.frequency, (now() AT TIME ZONE NEW.timezone)::date)).first_day;
        NEW.due_at := tally.report_due(NEW.frequency, NEW.period_start, NEW.timezone, NEW.send_hour);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER check_schedule BEFORE INSERT ON tally.report_schedules
    FOR EACH ROW EXECUTE FUNCTION tally.report_schedule_check();

-- Each user sees and manages their own schedules, on sites they can see.
ALTER TABLE tally.report_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_schedules ON tally.report_schedules FOR ALL
    USING (user_id = (SELECT me.user_id FROM tally.me) AND site_id = ANY ((SELECT tally.visible_site_ids())::int[]))
    WITH CHECK (user_id = (SELECT me.user_id FROM tally.me) AND site_id = ANY ((SELECT tally.visible_site_ids())::int[]));
GRANT SELECT (schedule_id, user_id, site_id, frequency, timezone, send_hour, period_start, due_at, attempts, last_error, created_at),
      INSERT (user_id, site_id, frequency, timezone, send_hour), DELETE
    ON tally.report_schedules TO tally_viewer;
-- The gateway sends them and unsubscribes by token.
GRANT SELECT, UPDATE (period_start, due_at, attempts, retry_at, last_error), DELETE ON tally.report_schedules TO tally_gateway;
GRANT SELECT, INSERT ON tally.report_sends TO tally_gateway;

-- Alert rules are evaluated one transaction per rule (sql/alerts.sql): the rule's
-- evaluation, the procedure pg_cron calls, and its schedule.
CREATE FUNCTION tally.evaluate_alert(rule_id bigint, now timestamptz) RETURNS boolean
STRICT VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'evaluate_alert_wrapper';
-- Evaluates every rule at `at` as tally.evaluate_alerts does, committing after each
-- one (tally.evaluate_alert): a run over many sites never holds one transaction, its
-- snapshot and row locks, over all of them, and each firing is delivered as soon as it
-- is found. A rule whose evaluation raises an error is reported as a WARNING and the
-- run goes on. A procedure, since only a procedure CALLed outside a transaction block
-- may COMMIT; what pg_cron runs every minute (tally.schedule_alerts).
CREATE PROCEDURE tally.run_alerts(at timestamptz DEFAULT now()) LANGUAGE plpgsql AS $$
DECLARE
    rules bigint[] := ARRAY(SELECT r.rule_id FROM tally.alert_rules r ORDER BY r.rule_id);
    id bigint;
BEGIN
    FOREACH id IN ARRAY rules LOOP
        BEGIN
            PERFORM tally.evaluate_alert(id, at);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'tally.run_alerts: rule %: %', id, SQLERRM;
        END;
        COMMIT;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION tally.schedule_alerts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cron_db text := current_setting('cron.database_name', true);
    job text := 'tally-alerts-' || current_database();
    command text := 'CALL tally.run_alerts()';
BEGIN
    IF cron_db IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not loaded'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add pg_cron to shared_preload_libraries, or run CALL tally.run_alerts() every minute from another scheduler.';
    END IF;
    IF cron_db <> current_database() THEN
        RAISE EXCEPTION 'pg_cron runs jobs from database "%", not "%"', cron_db, current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Connected to database %I, run: SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                cron_db, job, '* * * * *', command, current_database());
    END IF;
    CREATE EXTENSION IF NOT EXISTS pg_cron;
    RETURN cron.schedule(job, '* * * * *', command);
END $$;
REVOKE EXECUTE ON FUNCTION tally.evaluate_alert(bigint, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE tally.run_alerts(timestamptz) FROM PUBLIC;

-- Events gain scroll_depth (Plausible's `sd` on engagement events) and interactive
-- (its `i`: false never ends a bounce), last in tally_core::event::COLUMNS. Segments
-- written before read them as NULL; in the hot table they follow `gen`, as in a fresh
-- install (sql/schema.sql).
ALTER TYPE tally.event ADD ATTRIBUTE scroll_depth int, ADD ATTRIBUTE interactive boolean;
ALTER TABLE tally.events_hot ADD COLUMN scroll_depth int, ADD COLUMN interactive boolean;
ALTER TABLE tally.events_scan ADD COLUMN scroll_depth int, ADD COLUMN interactive boolean;
ALTER TYPE tally.event_arrays ADD ATTRIBUTE scroll_depth int[], ADD ATTRIBUTE interactive boolean[];
CREATE OR REPLACE FUNCTION tally.segment_rows(segment_id bigint, data bytea)
RETURNS SETOF tally.event LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT u.*
    FROM tally.segment_arrays(segment_id, data) a,
         unnest(a.site_id, a.ts, a.name, a.visitor_id, a.session_id, a.hostname, a.pathname,
                a.referrer, a.referrer_source, a.utm_source, a.utm_medium, a.utm_campaign,
                a.utm_term, a.utm_content, a.country, a.region, a.city, a.browser,
                a.browser_version, a.os, a.os_version, a.device, a.screen_width,
                a.engagement_ms, a.revenue_micros, a.revenue_currency, a.props, a.scroll_depth,
                a.interactive) AS u
$$;
CREATE OR REPLACE VIEW tally.events WITH (security_invoker = true) AS SELECT * FROM tally.events_scan WHERE tally.scan_ready();

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
-- An empty source is a direct visit ("Direct / None").
CREATE TABLE tally.imported_sources (
    site_id int NOT NULL, import_id bigint NOT NULL REFERENCES tally.site_imports ON DELETE CASCADE,
    date date NOT NULL,
    source text NOT NULL, referrer text NOT NULL, utm_source text NOT NULL, utm_medium text NOT NULL,
    utm_campaign text NOT NULL, utm_content text NOT NULL, utm_term text NOT NULL,
    pageviews bigint NOT NULL, visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL,
    bounces bigint NOT NULL
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
-- date_range "24h": the last 24 hours.
-- The instants [from_ts, to_ts) of a date range in time zone `tz`, and their labels.
-- kind: day, days (the last `days` days including today), month, year, custom
-- (first_day..last_day), realtime (the last 5 minutes), 24h (the last 24 hours). shift:
-- none, previous_period, year_over_year.
CREATE OR REPLACE FUNCTION tally.query_period(tz text, kind text, days int, first_day date, last_day date, shift text)
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
-- Rollup indexes without the value (sql/rollups.sql): a sixteenth of the bytes.
DROP INDEX tally.rollups_key;
CREATE INDEX rollups_hours ON tally.rollups (site_id, dimension, hour);
CREATE INDEX rollups_values ON tally.rollups (site_id, dimension, value, hour)
    WHERE dimension IN ('country', 'device', 'browser', 'os');
DROP INDEX tally.rollups_daily_key;
CREATE INDEX rollups_daily_days ON tally.rollups_daily (site_id, day, dimension);
DROP INDEX tally.rollups_weekly_key;
CREATE INDEX rollups_weekly_weeks ON tally.rollups_weekly (site_id, week, dimension);

-- Events gain channel (Plausible's acquisition channel, `visit:channel`), last in
-- tally_core::event::COLUMNS. Segments and hot rows stored before read it as NULL; in
-- the hot table it follows `gen`, as in a fresh install (sql/schema.sql).
ALTER TYPE tally.event ADD ATTRIBUTE channel text;
ALTER TABLE tally.events_hot ADD COLUMN channel text;
ALTER TABLE tally.events_scan ADD COLUMN channel text;
ALTER TYPE tally.event_arrays ADD ATTRIBUTE channel text[];
CREATE OR REPLACE FUNCTION tally.segment_rows(segment_id bigint, data bytea)
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
CREATE OR REPLACE VIEW tally.events WITH (security_invoker = true) AS SELECT * FROM tally.events_scan WHERE tally.scan_ready();
-- Imported sources gain the acquisition channel of their source and tags, for
-- visit:channel with include.imports; rows loaded before have none ('').
ALTER TABLE tally.imported_sources ADD COLUMN channel text NOT NULL DEFAULT '';

-- Date ranges as a pair of date-times (Plausible's Stats API v2): their instants and labels.
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

-- Rollup rows of every dimension but `total` move into one compressed block per site
-- and day (sql/rollups.sql, extension/core/src/rollup/FOOTPRINT.md): the stored rows are
-- encoded unchanged, then deleted with their daily and weekly sums.
CREATE TABLE tally.rollup_blocks (
    site_id int NOT NULL,
    day     timestamptz NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (site_id, day)
);
ALTER TABLE tally.rollup_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
SELECT pg_catalog.pg_extension_config_dump('tally.rollup_blocks', '');
ALTER TABLE tally.rollup_blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY site_members ON tally.rollup_blocks FOR SELECT USING (site_id = ANY ((SELECT tally.visible_site_ids())::int[]));
GRANT SELECT ON tally.rollup_blocks TO tally_viewer;
DROP INDEX tally.rollups_values;

CREATE FUNCTION tally."rollup_block_rows"(
	"data" bytea
) RETURNS TABLE (
	"hour" timestamp with time zone,
	"dimension" TEXT,
	"value" TEXT,
	"events" bigint,
	"pageviews" bigint,
	"visits" bigint,
	"bounces" bigint,
	"visit_duration_us" bigint,
	"visit_pageviews" bigint,
	"open_visits" bigint,
	"mixed_visits" bigint,
	"engagement_ms" bigint,
	"visitors" bytea
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'rollup_block_rows_wrapper';
CREATE VIEW tally.rollup_rows WITH (security_invoker = true) AS
SELECT site_id, hour, dimension, value, events, pageviews, visits, bounces, visit_duration_us, visit_pageviews,
       open_visits, mixed_visits, engagement_ms, visitors, visit_durations, engagement_times
FROM tally.rollups
UNION ALL
SELECT b.site_id, r.hour, r.dimension, r.value, r.events, r.pageviews, r.visits, r.bounces, r.visit_duration_us,
       r.visit_pageviews, r.open_visits, r.mixed_visits, r.engagement_ms, r.visitors::tally.hll,
       NULL::tally.ddsketch, NULL::tally.ddsketch
FROM tally.rollup_blocks b CROSS JOIN LATERAL tally.rollup_block_rows(b.data) r;
GRANT SELECT ON tally.rollup_rows TO tally_viewer;

CREATE FUNCTION tally."rollup_rows_to_blocks"() RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'rollup_rows_to_blocks_wrapper';
REVOKE EXECUTE ON FUNCTION tally.rollup_rows_to_blocks() FROM PUBLIC;
SELECT tally.rollup_rows_to_blocks();

-- Each segment's string columns' value ranges, so the SQL scan skips a segment that a
-- filter on a string column rules out without reading it (segments written before
-- have none and are read as before).
ALTER TABLE tally.segments ADD COLUMN string_ranges bytea;
