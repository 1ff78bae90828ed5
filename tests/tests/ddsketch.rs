//! `tally.ddsketch` through real Postgres, compared for accuracy with the t-digest
//! extension (Debian's postgresql-15-tdigest) on the same data, in parallel plans,
//! and with malformed input.

use tally_tests::TestDb;

/// Durations shaped like visit lengths: log-normal-ish, 1 ms to hours.
const DURATIONS: &str = "CREATE TABLE d AS
    SELECT round(exp(8 + 2.5 * (random() + random() + random() - 1.5)))::float8 AS ms
    FROM generate_series(1, 200000)";

#[tokio::test]
async fn quantiles_are_within_one_percent_and_compared_with_tdigest() {
    let db = TestDb::create().await;
    db.query("CREATE EXTENSION tdigest").await;
    db.query("SELECT setseed(0.42)").await;
    db.query(DURATIONS).await;
    let rows = db
        .query(
            "SELECT q, percentile_disc(q) WITHIN GROUP (ORDER BY ms),
                    tally.ddsketch_quantile(tally.ddsketch_agg(ms), q),
                    tdigest_percentile(ms, 100, q)
             FROM d, unnest('{0.5,0.9,0.99}'::float8[]) q GROUP BY q ORDER BY q",
        )
        .await;
    for row in rows {
        let (q, exact, ours, tdigest): (f64, f64, f64, f64) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let ours_err = (ours - exact).abs() / exact;
        let tdigest_err = (tdigest - exact).abs() / exact;
        println!("q={q} exact={exact} ddsketch={ours} ({:.3}%) tdigest={tdigest} ({:.3}%)", 100.0 * ours_err, 100.0 * tdigest_err);
        assert!(ours_err <= 0.0101, "q={q}: ddsketch {ours} vs exact {exact}");
    }
}

#[tokio::test]
async fn parallel_aggregation_and_union_give_the_serial_sketch() {
    let db = TestDb::create().await;
    db.query(DURATIONS).await;
    db.query("ANALYZE d").await;
    let serial: String = db.value("SELECT tally.ddsketch_agg(ms)::text FROM d").await;
    db.client
        .batch_execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")
        .await
        .unwrap();
    let plan: Vec<String> = db.query("EXPLAIN SELECT tally.ddsketch_agg(ms) FROM d").await.iter().map(|r| r.get(0)).collect();
    assert!(plan.iter().any(|l| l.contains("Partial Aggregate")), "{plan:#?}");
    assert_eq!(db.value::<String>("SELECT tally.ddsketch_agg(ms)::text FROM d").await, serial);
    let unioned: String =
        db.value("SELECT tally.ddsketch_union_agg(s)::text FROM (SELECT tally.ddsketch_agg(ms) s FROM d GROUP BY ms::int8 % 13) x").await;
    assert_eq!(unioned, serial);
    let round_trip: bool =
        db.value("SELECT tally.ddsketch_agg(ms)::text::tally.ddsketch::text = tally.ddsketch_agg(ms)::text FROM d").await;
    assert!(round_trip);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_named_error() {
    let db = TestDb::create().await;
    let cases = [
        ("SELECT '\\x03'::tally.ddsketch", "version 3"),
        ("SELECT '\\x01'::tally.ddsketch", "truncated"),
        ("SELECT tally.ddsketch_agg(x) FROM (VALUES (1.0), ('NaN'::float8)) v(x)", "cannot take NaN"),
        ("SELECT tally.ddsketch_quantile(tally.ddsketch_agg(x), 1.5) FROM (VALUES (1.0)) v(x)", "outside [0, 1]"),
    ];
    for (sql, expected) in cases {
        db.assert_error_with_hint(sql, expected).await;
    }
    assert_eq!(db.value::<Option<String>>("SELECT tally.ddsketch_agg(x)::text FROM (VALUES (NULL::float8)) v(x)").await, None);
}
