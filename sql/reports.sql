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
