-- Alerts: rules over any stats metric, evaluated inside Postgres every minute
-- (tally.run_alerts, scheduled with pg_cron), a history of firings and
-- resolutions, and the deliveries the gateway makes of them. Rule JSON, conditions
-- and scheduling are described in sql/ALERTS.md.

-- A rule: a metric of tally.query (with its filters) over the last `window_minutes`,
-- and the condition that makes it fire. Written through tally.create_alert_rule /
-- tally.update_alert_rule, or directly: the trigger below checks every write with the
-- same code (tally.alert_rule_normalize) and fills the defaults of NULL columns.
CREATE TABLE tally.alert_rules (
    rule_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id          int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    name             text NOT NULL,
    metric           text NOT NULL,
    -- tally.query's filter list, e.g. [["is", "event:page", ["/checkout"]]].
    filters          jsonb NOT NULL,
    window_minutes   int NOT NULL CHECK (window_minutes BETWEEN 1 AND 1440),
    condition        text NOT NULL CHECK (condition IN ('above', 'below', 'change_pct', 'anomaly')),
    -- above/below: the metric's value; change_pct: percent.
    threshold        float8,
    -- change_pct, anomaly: up, down or both.
    direction        text CHECK (direction IN ('up', 'down', 'both')),
    -- anomaly: past weeks compared with, and the robust score that counts.
    weeks            int,
    sensitivity      float8,
    cooldown_minutes int NOT NULL CHECK (cooldown_minutes >= 0),
    -- [{"type": "webhook", "url": ..., "secret": ...}, {"type": "email", "to": ...}]
    channels         jsonb NOT NULL,
    enabled          boolean NOT NULL,
    -- No evaluation (so no notification) until then.
    muted_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_site ON tally.alert_rules (site_id);
SELECT pg_catalog.pg_extension_config_dump('tally.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_rules_rule_id_seq', '');

-- The rule as JSON (the API's shape): its rule-defining columns, NULLs left out.
CREATE FUNCTION tally.alert_rule_json(r tally.alert_rules) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'name', r.name, 'metric', r.metric, 'filters', r.filters, 'window_minutes', r.window_minutes,
        'condition', r.condition, 'threshold', r.threshold, 'direction', r.direction, 'weeks', r.weeks,
        'sensitivity', r.sensitivity, 'cooldown_minutes', r.cooldown_minutes, 'channels', r.channels,
        'enabled', r.enabled))
$$;

-- Every write of a rule goes through the checks of tally.alert_rule_normalize: a bad
-- metric, window or channel is an error naming the field, never a stored rule.
CREATE FUNCTION tally.alert_rules_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW := jsonb_populate_record(NEW, tally.alert_rule_normalize(tally.alert_rule_json(NEW)));
    RETURN NEW;
END $$;
CREATE TRIGGER alert_rules_check BEFORE INSERT OR UPDATE ON tally.alert_rules
    FOR EACH ROW EXECUTE FUNCTION tally.alert_rules_check();

-- Creates a rule of a site from its JSON; returns its id. Unknown keys are errors.
CREATE FUNCTION tally.create_alert_rule(site_id int, rule jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n jsonb := tally.alert_rule_normalize(rule);
    id bigint;
BEGIN
    INSERT INTO tally.alert_rules (site_id, name, metric, filters, window_minutes, condition, threshold, direction,
                                   weeks, sensitivity, cooldown_minutes, channels, enabled)
    SELECT create_alert_rule.site_id, r.name, r.metric, r.filters, r.window_minutes, r.condition, r.threshold,
           r.direction, r.weeks, r.sensitivity, r.cooldown_minutes, r.channels, r.enabled
    FROM jsonb_populate_record(NULL::tally.alert_rules, n) r
    RETURNING alert_rules.rule_id INTO id;
    RETURN id;
END $$;

-- Replaces a rule's definition (keys left out take their defaults; mute and alert
-- state are kept). Returns false when there is no such rule.
CREATE FUNCTION tally.update_alert_rule(rule_id bigint, rule jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n jsonb := tally.alert_rule_normalize(rule);
BEGIN
    UPDATE tally.alert_rules a
    SET (name, metric, filters, window_minutes, condition, threshold, direction, weeks, sensitivity,
         cooldown_minutes, channels, enabled) =
        (SELECT r.name, r.metric, r.filters, r.window_minutes, r.condition, r.threshold, r.direction, r.weeks,
                r.sensitivity, r.cooldown_minutes, r.channels, r.enabled
         FROM jsonb_populate_record(NULL::tally.alert_rules, n) r)
    WHERE a.rule_id = update_alert_rule.rule_id;
    RETURN FOUND;
END $$;

-- Mutes a rule until `until` (NULL unmutes). Returns false when there is no such rule.
CREATE FUNCTION tally.mute_alert_rule(rule_id bigint, until timestamptz) RETURNS boolean
LANGUAGE sql AS $$
    WITH m AS (UPDATE tally.alert_rules a SET muted_until = until WHERE a.rule_id = mute_alert_rule.rule_id RETURNING 1)
    SELECT count(*) > 0 FROM m
$$;

-- What each rule's last evaluation found. `status` is what the next evaluation
-- compares with (firing → resolved); `changed_at` (its last firing or resolution)
-- starts the cooldown.
CREATE TABLE tally.alert_state (
    rule_id       bigint PRIMARY KEY REFERENCES tally.alert_rules ON DELETE CASCADE,
    site_id       int NOT NULL,
    status        text NOT NULL CHECK (status IN ('ok', 'firing')),
    changed_at timestamptz,
    evaluated_at  timestamptz NOT NULL,
    value         float8,
    baseline      float8,
    score         float8,
    -- Why the rule could not be evaluated (e.g. a goal in its filters was deleted).
    error         text
);
SELECT pg_catalog.pg_extension_config_dump('tally.alert_state', '');

-- Every firing and resolution, with what was measured. `payload` is the JSON that
-- webhooks receive and emails describe.
CREATE TABLE tally.alert_history (
    history_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id    bigint NOT NULL REFERENCES tally.alert_rules ON DELETE CASCADE,
    site_id    int NOT NULL,
    status     text NOT NULL CHECK (status IN ('firing', 'resolved')),
    -- The evaluation instant: the end of the window measured.
    at         timestamptz NOT NULL,
    value      float8,
    baseline   float8,
    score      float8,
    payload    jsonb NOT NULL
);
CREATE INDEX alert_history_site_at ON tally.alert_history (site_id, at DESC);
CREATE INDEX alert_history_rule_at ON tally.alert_history (rule_id, at DESC);
SELECT pg_catalog.pg_extension_config_dump('tally.alert_history', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_history_history_id_seq', '');

-- One delivery of one history row to one channel of its rule. Created with the
-- history row, in the same transaction, so a firing is never without its
-- deliveries; the gateway claims pending ones whose next_attempt_at has come (that
-- claim pushes next_attempt_at out as a lease, so a gateway that dies mid-delivery
-- leaves it to be retried) and records each attempt. `delivery_id` is sent as
-- X-Tally-Delivery: receivers de-duplicate on it, since delivery is at-least-once.
CREATE TABLE tally.alert_deliveries (
    delivery_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    history_id      bigint NOT NULL REFERENCES tally.alert_history ON DELETE CASCADE,
    rule_id         bigint NOT NULL,
    site_id         int NOT NULL,
    -- The channel as it was when the alert fired (index in the rule's channels, and
    -- its JSON with the secret), so editing a rule does not redirect old alerts.
    channel_index   int NOT NULL,
    channel         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX alert_deliveries_due ON tally.alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_rule ON tally.alert_deliveries (rule_id, created_at DESC);
SELECT pg_catalog.pg_extension_config_dump('tally.alert_deliveries', '');

-- Every attempt of a delivery: when, whether it worked, and the error if not.
CREATE TABLE tally.alert_delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES tally.alert_deliveries ON DELETE CASCADE,
    site_id     int NOT NULL,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    ok          boolean NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);
SELECT pg_catalog.pg_extension_config_dump('tally.alert_delivery_attempts', '');

-- Records a firing or resolution of a rule found by tally.evaluate_alert(s): the
-- history row, one pending delivery per channel and a NOTIFY tally_alerts with
-- {history_id, rule_id, site_id, status}, all in the caller's transaction (NOTIFY is
-- sent at COMMIT, so listeners never hear of a row they cannot read yet).
CREATE FUNCTION tally.alert_record(rule_id bigint, status text, at timestamptz, value float8, baseline float8, score float8)
RETURNS bigint LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    r tally.alert_rules;
    h bigint;
BEGIN
    SELECT * INTO STRICT r FROM tally.alert_rules a WHERE a.rule_id = alert_record.rule_id;
    INSERT INTO tally.alert_history AS x (rule_id, site_id, status, at, value, baseline, score, payload)
    VALUES (r.rule_id, r.site_id, status, at, value, baseline, score, '{}')
    RETURNING x.history_id INTO h;
    UPDATE tally.alert_history x SET payload = jsonb_build_object(
        'event', 'alert.' || status, 'history_id', h, 'status', status, 'at', at,
        'rule_id', r.rule_id, 'rule', r.name, 'site_id', r.site_id,
        'site', (SELECT s.domain FROM tally.sites s WHERE s.site_id = r.site_id),
        'metric', r.metric, 'filters', r.filters, 'window_minutes', r.window_minutes,
        'condition', r.condition, 'threshold', r.threshold, 'direction', r.direction, 'weeks', r.weeks,
        'sensitivity', r.sensitivity, 'value', value, 'baseline', baseline, 'score', score)
    WHERE x.history_id = h;
    INSERT INTO tally.alert_deliveries (history_id, rule_id, site_id, channel_index, channel)
    SELECT h, r.rule_id, r.site_id, c.i - 1, c.channel
    FROM jsonb_array_elements(r.channels) WITH ORDINALITY AS c(channel, i);
    PERFORM pg_notify('tally_alerts', jsonb_build_object('history_id', h, 'rule_id', r.rule_id,
                                                         'site_id', r.site_id, 'status', status)::text);
    RETURN h;
END $$;

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

-- Schedules CALL tally.run_alerts() every minute with pg_cron. pg_cron lives in one
-- database per cluster (cron.database_name): when that is this database the job is
-- created here; otherwise the error's HINT gives the one statement to run there
-- (cron.schedule_in_database, pg_cron >= 1.4). scripts/pgcluster.sh does that for
-- the database `tally` of Tally's own clusters.
CREATE FUNCTION tally.schedule_alerts() RETURNS bigint LANGUAGE plpgsql AS $$
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

-- Who may do what (the pattern of sql/auth.sql). Alerts are an analyst's tool: analysts
-- and admins of a site read and manage its rules and read its history and deliveries
-- (webhook secrets included, which is why viewers do not); row-level security holds
-- each role to its sites. Evaluation (pg_cron, as the job's owner) and delivery (the
-- gateway's login role, which bypasses RLS as ingest needs) are not done by users.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_rules', 'alert_state', 'alert_history', 'alert_deliveries', 'alert_delivery_attempts'] LOOP
        EXECUTE format('ALTER TABLE tally.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY site_analysts ON tally.%I FOR ALL '
                       'USING (site_id = ANY ((SELECT tally.visible_site_ids(''analyst''))::int[])) '
                       'WITH CHECK (site_id = ANY ((SELECT tally.visible_site_ids(''analyst''))::int[]))', t);
        EXECUTE format('GRANT SELECT ON tally.%I TO tally_analyst', t);
    END LOOP;
END $$;
GRANT INSERT, UPDATE, DELETE ON tally.alert_rules TO tally_analyst;
GRANT SELECT, UPDATE (attempts, next_attempt_at, status, last_error, delivered_at) ON tally.alert_deliveries TO tally_gateway;
GRANT SELECT ON tally.alert_history TO tally_gateway;
GRANT INSERT ON tally.alert_delivery_attempts TO tally_gateway;
REVOKE EXECUTE ON FUNCTION tally.evaluate_alerts(timestamptz), tally.evaluate_alert(bigint, timestamptz),
    tally.alert_record(bigint, text, timestamptz, float8, float8, float8) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE tally.run_alerts(timestamptz) FROM PUBLIC;
