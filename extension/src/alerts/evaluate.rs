//! `tally.evaluate_alerts(now)` and `tally.evaluate_alert(rule_id, now)`: a rule,
//! enabled and unmuted, measured over the window ending `now` with the same engine as
//! `tally.query`, judged, and its state advanced; a firing or resolution is recorded by
//! `tally.alert_record` (history row, pending deliveries, NOTIFY) in the caller's
//! transaction. Each rule is measured in a subtransaction of its own with the
//! privileges of its site's reader role, so a rule that fails or a corrupt segment
//! stops only that rule, and no rule reads as the superuser that runs the job or sees
//! another site's events.

use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;
use tally_core::alerts::{step, Condition, Rule, State, Status, Verdict};
use tally_core::query::{self, Period, Plan, TimeRange};

use crate::spi_value::SpiValue;
use crate::storage::arrays::{from_unix_us, to_unix_us};

const MINUTE_US: i64 = 60_000_000;

fn fail(what: &str, e: pgrx::spi::SpiError) -> ! {
    error!("tally.evaluate_alerts: {what}: {e}")
}

/// A rule with what evaluating it needs.
struct Due {
    rule_id: i64,
    site_id: i32,
    rule: serde_json::Value,
    timezone: String,
    state: State,
}

/// Evaluates every due rule at `now`, all in the caller's transaction; returns the
/// number of firings and resolutions.
pub fn evaluate_all(now: TimestampWithTimeZone) -> i32 {
    Spi::connect_mut(|client| {
        let rules: Vec<i64> = client
            .select("SELECT rule_id FROM tally.alert_rules ORDER BY rule_id", None, &[])
            .unwrap_or_else(|e| fail("reading rules", e))
            .filter_map(|row| row.value(1))
            .collect();
        rules.into_iter().filter(|&rule_id| evaluate_due(client, rule_id, now)).count() as i32
    })
}

/// Evaluates rule `rule_id` at `now` in the caller's transaction, when it is due;
/// true when it fired or resolved.
pub fn evaluate_one(rule_id: i64, now: TimestampWithTimeZone) -> bool {
    Spi::connect_mut(|client| evaluate_due(client, rule_id, now))
}

/// Evaluates the rule unless it is disabled, muted at `now`, gone, or being evaluated
/// by another run. Its row stays locked until the caller's transaction ends: an
/// overlapping run (a slow pg_cron run and a manual call) skips it rather than judge
/// the same state twice, and deleting the rule or its site waits for its state and
/// history to be written. Its state is read after the lock, so a run that comes after
/// another's commit judges what that one left.
fn evaluate_due(client: &mut SpiClient<'_>, rule_id: i64, now: TimestampWithTimeZone) -> bool {
    // `update`: a read-only statement may not lock rows.
    let due = client
        .update(
            "SELECT r.rule_id, r.site_id, tally.alert_rule_json(r), s.timezone, st.status, st.changed_at \
             FROM tally.alert_rules r JOIN tally.sites s USING (site_id) LEFT JOIN tally.alert_state st USING (rule_id) \
             WHERE r.rule_id = $1 AND r.enabled AND (r.muted_until IS NULL OR r.muted_until <= $2) \
             FOR NO KEY UPDATE OF r SKIP LOCKED",
            None,
            &[rule_id.into(), now.into()],
        )
        .unwrap_or_else(|e| fail("reading rules", e))
        .map(|row| {
            let status: Option<String> = row.value(5);
            let changed: Option<TimestampWithTimeZone> = row.value(6);
            Due {
                rule_id: row.value(1).unwrap_or_default(),
                site_id: row.value(2).unwrap_or_default(),
                rule: row.value::<JsonB>(3).map(|j| j.0).unwrap_or_default(),
                timezone: row.value(4).unwrap_or_default(),
                state: State {
                    status: status.as_deref().and_then(Status::from_name).unwrap_or(Status::Ok),
                    changed_us: changed.map(to_unix_us),
                },
            }
        })
        .next();
    due.is_some_and(|due| evaluate(client, &due, to_unix_us(now)))
}

/// Evaluates one rule and stores its state; true when it fired or resolved.
fn evaluate(client: &mut SpiClient<'_>, due: &Due, now_us: i64) -> bool {
    // Stored rules passed the same check when written; a failure here means the rule
    // refers to something since removed (a goal) and is reported in its state.
    let rule = Rule::parse(&due.rule, &mut String::new).map_err(|e| e.to_string());
    let judged = rule
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|rule| isolated(|| as_site_reader(client, due.site_id, || judge(client, due, rule, now_us))));
    let (verdict, value, error) = match judged {
        Ok((verdict, value)) => (verdict, Some(value), None),
        Err(message) => (None, None, Some(message)),
    };
    let cooldown_us = rule.as_ref().map_or(0, |r| i64::from(r.cooldown_minutes) * MINUTE_US);
    let (state, transition) = step(due.state, verdict.map(|v| v.breached), now_us, cooldown_us);
    client
        .update(
            "INSERT INTO tally.alert_state AS s (rule_id, site_id, status, changed_at, evaluated_at, value, baseline, score, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (rule_id) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at, \
                 evaluated_at = excluded.evaluated_at, value = excluded.value, baseline = excluded.baseline, \
                 score = excluded.score, error = excluded.error",
            None,
            &[
                due.rule_id.into(),
                due.site_id.into(),
                state.status.name().into(),
                state.changed_us.map(from_unix_us).into(),
                from_unix_us(now_us).into(),
                value.into(),
                verdict.map(|v| v.baseline).into(),
                verdict.and_then(|v| v.score).into(),
                error.into(),
            ],
        )
        .unwrap_or_else(|e| fail("storing alert state", e));
    let Some(transition) = transition else { return false };
    client
        .update(
            "SELECT tally.alert_record($1, $2, $3, $4, $5, $6)",
            None,
            &[
                due.rule_id.into(),
                transition.name().into(),
                from_unix_us(now_us).into(),
                value.into(),
                verdict.map(|v| v.baseline).into(),
                verdict.and_then(|v| v.score).into(),
            ],
        )
        .unwrap_or_else(|e| fail("recording an alert", e));
    true
}

/// `work` in a subtransaction of its own: an ERROR it raises (a corrupt segment, a
/// cancelled scan of one site, a statement that fails) rolls back what it did and
/// comes back as the rule's error message, and the other rules are still evaluated.
/// The caller's memory context and resource owner are restored either way, as
/// PL/pgSQL does around an EXCEPTION block.
fn isolated<T>(work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    // SAFETY: the subtransaction is begun and ended on the backend's thread, inside a
    // transaction (a function call); both exits restore what was current before.
    let (context, owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    unsafe {
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
    }
    let restore = || unsafe {
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
    };
    let work = std::panic::AssertUnwindSafe(work);
    PgTryBuilder::new(move || {
        let result = work();
        // SAFETY: the subtransaction begun above is the current one.
        unsafe { pg_sys::ReleaseCurrentSubTransaction() };
        restore();
        result
    })
    .catch_others(move |caught| {
        // SAFETY: as above; its ERROR was caught, so it is rolled back.
        unsafe { pg_sys::RollbackAndReleaseCurrentSubTransaction() };
        restore();
        Err(match caught {
            CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) | CaughtError::RustPanic { ereport: e, .. } => {
                e.message().to_owned()
            }
        })
    })
    .execute()
}

/// `work` with the privileges of the reader role of `site_id` (`tally.site_reader`):
/// not a superuser, under row-level security, member of no other site. What a rule
/// makes the engine read (its site's segments, hot rows, goals) is then limited to its
/// site by the same policies as a viewer's queries, whatever the rule holds. The switch
/// is the one a SECURITY DEFINER function makes (`SECURITY_LOCAL_USERID_CHANGE`: the
/// work cannot `SET ROLE` back); an ERROR inside is caught by [`isolated`], whose
/// subtransaction abort restores the user as it restores everything else.
fn as_site_reader<T>(client: &SpiClient<'_>, site_id: i32, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let role: pg_sys::Oid = client
        .select("SELECT tally.site_reader($1)::regrole::oid", None, &[site_id.into()])
        .and_then(|rows| rows.first().get_one::<pg_sys::Oid>())
        .map_err(|e| format!("finding the site's reader role: {e}"))?
        .ok_or("the site has no reader role")?;
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: reads and sets the backend's current user on its own thread, as
    // fmgr_security_definer does; restored below on success, by the subtransaction
    // abort of `isolated` on an ERROR.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(role, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let result = work();
    // SAFETY: as above.
    unsafe { pg_sys::SetUserIdAndSecContext(user, context) };
    result
}

/// The verdict on the rule's current window (`None`: nothing to compare with yet) and
/// the window's value; an error message when the rule cannot be evaluated.
fn judge(client: &SpiClient<'_>, due: &Due, rule: &Rule, now_us: i64) -> Result<(Option<Verdict>, f64), String> {
    let plan = Plan::new(rule.query(due.site_id), crate::query::goals(client, due.site_id)).map_err(|e| e.to_string())?;
    let window_us = i64::from(rule.window_minutes) * MINUTE_US;
    let window_ending = |end_us: i64| measure(&plan, due.site_id, end_us - window_us, end_us);
    let value = window_ending(now_us);
    let reference: Vec<f64> = match rule.condition {
        Condition::Above(_) | Condition::Below(_) => Vec::new(),
        Condition::ChangePct { .. } => vec![window_ending(now_us - window_us)],
        Condition::Anomaly { weeks, .. } => {
            let first = first_event_us(client, due.site_id);
            week_ends(client, now_us, &due.timezone, weeks)
                .into_iter()
                .filter(|end| first.is_some_and(|f| f <= end - window_us))
                .map(window_ending)
                .collect()
        }
    };
    Ok((rule.condition.judge(rule.metric, value, &reference), value))
}

/// The rule's metric over [from, to): the same scan and rendering as `tally.query`.
fn measure(plan: &Plan, site_id: i32, from_us: i64, to_us: i64) -> f64 {
    let answer = crate::query::scan(plan, site_id, TimeRange { from_us, to_us }, None);
    let period = Period { answer, from_label: String::new(), to_label: String::new(), bucket_labels: Vec::new(), from_rollups: false };
    query::render(plan, &period, None)["results"][0]["metrics"][0].as_f64().unwrap_or(0.0)
}

/// `now` in each of the last `weeks` weeks at the same local time of the site's zone
/// (168 hours back, or 167/169 across a daylight saving change).
fn week_ends(client: &SpiClient<'_>, now_us: i64, timezone: &str, weeks: u32) -> Vec<i64> {
    client
        .select(
            "SELECT (($1 AT TIME ZONE $2) - make_interval(weeks => k)) AT TIME ZONE $2 FROM generate_series(1, $3) AS k ORDER BY k",
            None,
            &[from_unix_us(now_us).into(), timezone.into(), (weeks as i32).into()],
        )
        .unwrap_or_else(|e| fail("computing past weeks", e))
        .filter_map(|row| row.value::<TimestampWithTimeZone>(1).map(to_unix_us))
        .collect()
}

/// The site's earliest event: weeks before it have no data, not zero traffic.
fn first_event_us(client: &SpiClient<'_>, site_id: i32) -> Option<i64> {
    client
        .select(
            "SELECT least((SELECT min(min_ts) FROM tally.segments WHERE site_id = $1), \
                          (SELECT min(ts) FROM tally.events_hot WHERE site_id = $1))",
            None,
            &[site_id.into()],
        )
        .and_then(|rows| rows.first().get_one::<TimestampWithTimeZone>())
        .unwrap_or_else(|e| fail("finding the site's first event", e))
        .map(to_unix_us)
}
