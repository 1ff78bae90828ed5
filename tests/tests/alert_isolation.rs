//! Alert evaluation runs as the superuser that owns the pg_cron job, but no rule is
//! measured with its privileges: each rule reads its site's events as that site's
//! reader role (row-level security, no superuser, no other site), in a subtransaction
//! of its own; the role goes with its site, and the scheduled run commits rule by rule.

use serde_json::json;
use tally_tests::TestDb;

/// 2024-03-31 00:00 UTC.
const END_US: i64 = 1_711_843_200_000_000;

/// Two sites with events (some compacted into segments, some still hot) and a rule on
/// each; returns the database.
async fn two_sites_with_rules() -> TestDb {
    let db = TestDb::create().await;
    db.load(20_000, 3, 2, END_US).await;
    db.query("SELECT tally.compact()").await;
    db.load(2_000, 1, 2, END_US).await;
    for site in [1, 2] {
        let rule = json!({"name": "Any traffic", "metric": "visitors", "window_minutes": 1440, "condition": "above", "threshold": 0});
        db.query(&format!("SELECT tally.create_alert_rule({site}, '{rule}')")).await;
    }
    db
}

/// Code that runs whenever a rule's measurement reads segments or hot rows (a
/// restrictive policy calling a function, as a crafted rule or a hostile function
/// would run): it writes down who it runs as, whether that role is a superuser, how
/// many other sites it can see, and whether it could become the session's superuser.
const SPY: &str = "
    CREATE TABLE public.seen (who name, superuser boolean, site int, other_sites bigint, escaped boolean);
    GRANT INSERT ON public.seen TO PUBLIC;
    CREATE FUNCTION public.spy(site int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        escaped boolean := true;
    BEGIN
        BEGIN
            PERFORM set_config('role', session_user, true);
        EXCEPTION WHEN OTHERS THEN
            escaped := false;
        END;
        INSERT INTO public.seen
        SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), site,
               (SELECT count(*) FROM tally.sites s WHERE s.site_id <> site), escaped;
        RETURN true;
    END $$;
    CREATE POLICY spy ON tally.segments AS RESTRICTIVE FOR SELECT USING (public.spy(site_id));
    CREATE POLICY spy ON tally.events_hot AS RESTRICTIVE FOR SELECT USING (public.spy(site_id));";

#[tokio::test]
async fn each_rule_reads_its_site_as_the_sites_reader_never_as_superuser() {
    let db = two_sites_with_rules().await;
    db.client.batch_execute(SPY).await.unwrap();
    let changes: i32 = db.value(&format!("SELECT tally.evaluate_alerts(to_timestamp({}))", END_US / 1_000_000)).await;
    assert_eq!(changes, 2, "both rules fire");

    let seen: Vec<(String, bool, i32, i64, bool, Option<String>)> = db
        .query(
            "SELECT DISTINCT s.who::text, s.superuser, s.site, s.other_sites, s.escaped, r.pg_role::text \
             FROM public.seen s LEFT JOIN tally.site_readers r ON r.site_id = s.site ORDER BY 3",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    // A superuser bypasses row-level security, so the spy sees nothing at all when the
    // rules are measured as one.
    assert_eq!(seen.iter().map(|s| s.2).collect::<Vec<_>>(), [1, 2], "both sites' rows read: {seen:?}");
    for (who, superuser, site, other_sites, escaped, reader) in &seen {
        assert_eq!(Some(who), reader.as_ref(), "site {site} read as its reader");
        assert!(!superuser, "site {site} read by a superuser");
        assert_eq!(*other_sites, 0, "site {site}'s reader sees another site");
        assert!(!escaped, "site {site}'s reader became the superuser");
    }
    // The bookkeeping after each measurement is the evaluator's own.
    let firing: i64 = db.value("SELECT count(*) FROM tally.alert_state WHERE status = 'firing' AND error IS NULL").await;
    assert_eq!(firing, 2);
}

#[tokio::test]
async fn a_sites_reader_reads_that_site_only_and_may_do_nothing_else() {
    let db = two_sites_with_rules().await;
    db.query(&format!("SELECT tally.evaluate_alerts(to_timestamp({}))", END_US / 1_000_000)).await;
    let reader: String = db.value("SELECT pg_role::text FROM tally.site_readers WHERE site_id = 1").await;
    db.client.batch_execute(&format!("SET ROLE \"{reader}\"")).await.unwrap();
    for (sql, expected) in [
        ("SELECT count(*) FROM tally.events WHERE site_id = 2", 0),
        ("SELECT count(*) FROM tally.events_hot WHERE site_id = 2", 0),
        ("SELECT count(*) FROM tally.segments WHERE site_id = 2", 0),
        ("SELECT count(*) FROM tally.sites WHERE site_id <> 1", 0),
    ] {
        assert_eq!(db.value::<i64>(sql).await, expected, "{sql}");
    }
    assert!(db.value::<i64>("SELECT count(*) FROM tally.events WHERE site_id = 1").await > 0);
    for sql in ["SELECT tally.site_reader(2)", "SELECT tally.evaluate_alerts(now())", "UPDATE tally.alert_rules SET site_id = 2"] {
        let e = db.client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{sql}: {e}");
    }
}

/// How many of the site readers' roles `roles` (names) exist in the cluster.
async fn existing(db: &TestDb, roles: &[String]) -> i64 {
    db.client.query_one("SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)", &[&roles]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_sites_reader_and_shared_link_roles_are_dropped_with_it() {
    let db = two_sites_with_rules().await;
    let evaluate = format!("SELECT tally.evaluate_alerts(to_timestamp({}))", END_US / 1_000_000);
    db.query(&evaluate).await;
    let readers: Vec<String> =
        db.query("SELECT pg_role::text FROM tally.site_readers ORDER BY site_id").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(existing(&db, &readers).await, 2, "{readers:?}");

    // An administrator deletes a site the way the gateway runs their statements: under
    // their own role, which may not drop roles.
    let admin: i32 = db.value("SELECT tally.create_user('owner@test.example', 'Owner', '$argon2id$x', true)").await;
    let admin: String = db.value(&format!("SELECT pg_role::text FROM tally.users WHERE user_id = {admin}")).await;
    let may_drop_roles: bool = db.value(&format!("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = '{admin}'")).await;
    assert!(!may_drop_roles);
    // Each site has a shared link, whose role is made by the insert as for the gateway.
    db.client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE \"{admin}\";
             INSERT INTO tally.share_links (site_id, token_hash) VALUES (1, sha256('one')), (2, sha256('two')); COMMIT"
        ))
        .await
        .expect("an administrator shares both sites");
    let links: Vec<String> =
        db.query("SELECT pg_role::text FROM tally.share_links ORDER BY site_id").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(existing(&db, &links).await, 2, "{links:?}");
    db.client
        .batch_execute(&format!("BEGIN; SET LOCAL ROLE \"{admin}\"; DELETE FROM tally.sites WHERE site_id = 1; COMMIT"))
        .await
        .expect("an administrator deletes a site");
    assert_eq!(existing(&db, &readers[..1]).await, 0, "site 1's reader outlived it");
    assert_eq!(existing(&db, &readers[1..]).await, 1, "site 2's reader went too");
    assert_eq!(existing(&db, &links[..1]).await, 0, "site 1's shared link role outlived it");
    assert_eq!(existing(&db, &links[1..]).await, 1, "site 2's shared link role went too");

    // The other site's rule is still measured as its reader.
    db.query(&evaluate).await;
    let measured: i64 = db.value("SELECT count(*) FROM tally.alert_state WHERE site_id = 2 AND error IS NULL").await;
    assert_eq!(measured, 1);

    // Emptying the sites table (its owner's TRUNCATE) takes the remaining roles too.
    db.query("TRUNCATE tally.sites CASCADE").await;
    assert_eq!(existing(&db, &readers).await, 0);
    assert_eq!(existing(&db, &links).await, 0);
}

#[tokio::test]
async fn a_scheduled_run_commits_rule_by_rule_and_skips_a_rule_another_run_holds() {
    let db = two_sites_with_rules().await;
    let at = END_US / 1_000_000;
    let run = format!("CALL tally.run_alerts(to_timestamp({at}))");
    // Another run is evaluating rule 2 (its row is locked until that run commits).
    let other = tally_tests::cluster::connect(&db.url).await;
    other.batch_execute("BEGIN; SELECT FROM tally.alert_rules WHERE rule_id = 2 FOR NO KEY UPDATE").await.unwrap();
    db.client.batch_execute(&run).await.expect("a run while rule 2 is held");
    let evaluated: Vec<i64> = db.query("SELECT rule_id FROM tally.alert_state ORDER BY 1").await.iter().map(|r| r.get(0)).collect();
    assert_eq!(evaluated, [1], "rule 2 skipped, not waited for");
    other.batch_execute("COMMIT").await.unwrap();

    db.client.batch_execute(&run).await.expect("a run");
    let firings: i64 = db.value("SELECT count(*) FROM tally.alert_history WHERE status = 'firing'").await;
    assert_eq!(firings, 2, "each rule fired once");
    // Each rule's state was written by a transaction of its own; tally.evaluate_alerts
    // writes them all in the caller's one.
    let transactions = "SELECT count(DISTINCT xmin::text) FROM tally.alert_state";
    assert_eq!(db.value::<i64>(transactions).await, 2);
    db.query(&format!("SELECT tally.evaluate_alerts(to_timestamp({at}))")).await;
    assert_eq!(db.value::<i64>(transactions).await, 1);
}
