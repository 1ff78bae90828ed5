//! `tally.hll` side by side with the real postgresql-hll (extension `hll`, Debian's
//! postgresql-15-hll) in the same database: the same hashes, the same bytes and the
//! same estimates for 0 to 10^7 distinct values under several parameter sets, values
//! read across, parallel aggregation, and malformed input refused with a named error.

use tally_tests::TestDb;

/// A database with both extensions.
async fn both() -> TestDb {
    let db = TestDb::create().await;
    db.query("CREATE EXTENSION hll").await;
    db
}

#[tokio::test]
async fn hashes_match_postgresql_hll() {
    let db = both().await;
    let mismatches: i64 = db
        .value(
            "SELECT count(*) FROM generate_series(-2000, 2000) g, (VALUES (0), (1), (-7), (123456)) s(seed)
             WHERE hll_hash_bigint(g, seed)::text <> tally.hll_hash_bigint(g, seed)::text
                OR hll_hash_integer(g::int, seed)::text <> tally.hll_hash_integer(g::int, seed)::text
                OR hll_hash_smallint(g::smallint, seed)::text <> tally.hll_hash_smallint(g::smallint, seed)::text
                OR hll_hash_text('/page/' || g, seed)::text <> tally.hll_hash_text('/page/' || g, seed)::text
                OR hll_hash_text(repeat('é', g % 40), seed)::text <> tally.hll_hash_text(repeat('é', g % 40), seed)::text
                OR hll_hash_bytea(int8send(g), seed)::text <> tally.hll_hash_bytea(int8send(g), seed)::text
                OR hll_hash_boolean(g % 2 = 0, seed)::text <> tally.hll_hash_boolean(g % 2 = 0, seed)::text",
        )
        .await;
    assert_eq!(mismatches, 0);
}

/// Parameter sets: defaults, small registers with a fixed threshold, wide registers
/// never explicit, sparse off, the smallest register count, the largest one.
const PARAMS: &[(i32, i32, i64, i32)] = &[(11, 5, -1, 1), (10, 4, 128, 1), (12, 6, 0, 1), (14, 5, -1, 0), (4, 5, 256, 1), (17, 5, -1, 1)];

#[tokio::test]
async fn aggregates_match_byte_for_byte_from_0_to_10_6_values() {
    let db = both().await;
    for &(log2m, regwidth, expthresh, sparseon) in PARAMS {
        let rows = db
            .client
            .query(
                "SELECT n, a::text, b::text, hll_cardinality(a), tally.hll_cardinality(b)
                 FROM unnest('{0,1,2,10,100,128,129,160,161,1000,3000,10000,100000,1000000}'::int[]) n,
                 LATERAL (SELECT hll_add_agg(hll_hash_bigint(g), $1, $2, $3, $4) a,
                                 tally.hll_add_agg(tally.hll_hash_bigint(g), $1, $2, $3, $4) b
                          FROM generate_series(1, n) g) x",
                &[&log2m, &regwidth, &expthresh, &sparseon],
            )
            .await
            .unwrap();
        for row in rows {
            let n: i32 = row.get(0);
            let (theirs, ours): (Option<String>, Option<String>) = (row.get(1), row.get(2));
            assert_eq!(ours, theirs, "bytes for {n} values with ({log2m},{regwidth},{expthresh},{sparseon})");
            let (theirs, ours): (Option<f64>, Option<f64>) = (row.get(3), row.get(4));
            assert_eq!(ours.map(f64::to_bits), theirs.map(f64::to_bits), "estimate for {n} values: {ours:?} vs {theirs:?}");
        }
    }
}

#[tokio::test]
async fn ten_million_values_match_in_one_statement() {
    let db = both().await;
    let row = db
        .client
        .query_one(
            "SELECT a::text = b::text, hll_cardinality(a), tally.hll_cardinality(b)
             FROM (SELECT hll_add_agg(hll_hash_bigint(g)) a, tally.hll_add_agg(tally.hll_hash_bigint(g)) b
                   FROM generate_series(1, 10000000) g) x",
            &[],
        )
        .await
        .unwrap();
    let (same, theirs, ours): (bool, f64, f64) = (row.get(0), row.get(1), row.get(2));
    assert!(same, "bytes differ at 10^7 values");
    assert_eq!(ours.to_bits(), theirs.to_bits());
    assert!((ours - 1e7).abs() / 1e7 < 4.0 * 1.04 / 2048f64.sqrt(), "estimate {ours}");
}

#[tokio::test]
async fn text_hashes_unions_and_operators_match() {
    let db = both().await;
    // Operators resolve through the search path; each side's types pick its own.
    db.query("SET search_path = public, tally").await;
    let row = db
        .client
        .query_one(
            "WITH parts AS (
                SELECT g % 7 AS k,
                       hll_add_agg(hll_hash_text('visitor-' || g)) a,
                       tally.hll_add_agg(tally.hll_hash_text('visitor-' || g)) b
                FROM generate_series(1, 50000) g GROUP BY 1)
             SELECT hll_union_agg(a)::text = tally.hll_union_agg(b)::text,
                    (SELECT string_agg((a || a)::text, ',' ORDER BY k) FROM parts)
                      = (SELECT string_agg((b || b)::text, ',' ORDER BY k) FROM parts),
                    (SELECT (hll_empty() || hll_hash_bigint(42))::text) = (SELECT (tally.hll_empty() || tally.hll_hash_bigint(42))::text),
                    (SELECT (hll_hash_bigint(42) || hll_empty(10, 4))::text) = (SELECT (tally.hll_hash_bigint(42) || tally.hll_empty(10, 4))::text),
                    (SELECT #hll_union_agg(a) FROM parts) = (SELECT # tally.hll_union_agg(b) FROM parts)
             FROM parts",
            &[],
        )
        .await
        .unwrap();
    for i in 0..5 {
        assert!(row.get::<_, bool>(i), "comparison {i} differs");
    }
}

#[tokio::test]
async fn values_read_across_the_two_extensions() {
    let db = both().await;
    db.query(
        "CREATE TABLE t AS SELECT g % 3 AS k, hll_add_agg(hll_hash_bigint(g), 12, 5) theirs,
                tally.hll_add_agg(tally.hll_hash_bigint(g), 12, 5) ours
         FROM generate_series(1, 30000) g GROUP BY 1",
    )
    .await;
    let ok: bool = db
        .value(
            "SELECT bool_and(hll_cardinality(ours::text::hll) = tally.hll_cardinality(ours)
                         AND tally.hll_cardinality(theirs::text::tally.hll) = hll_cardinality(theirs)
                         AND (theirs || ours::bytea::hll)::text = tally.hll_union(ours, theirs::text::tally.hll)::text)
             FROM t",
        )
        .await;
    assert!(ok);
}

#[tokio::test]
async fn wide_registers_estimate_as_postgresql_hll_does() {
    // With 6- and 7-bit registers postgresql-hll's 2^L correction shifts past 64 bits;
    // Tally reproduces the result rather than "fixing" it, so both agree.
    let db = both().await;
    let rows = db
        .query(
            "SELECT hll_cardinality(hll_add_agg(hll_hash_bigint(g), 11, r, 0, 1)),
                    tally.hll_cardinality(tally.hll_add_agg(tally.hll_hash_bigint(g), 11, r, 0, 1))
             FROM generate_series(1, 200000) g, generate_series(6, 7) r GROUP BY r",
        )
        .await;
    for row in rows {
        let (theirs, ours): (f64, f64) = (row.get(0), row.get(1));
        assert!(theirs.to_bits() == ours.to_bits() || (theirs.is_nan() && ours.is_nan()), "{ours} vs {theirs}");
    }
}

#[tokio::test]
async fn aggregates_run_in_parallel_plans_with_the_same_result() {
    let db = TestDb::create().await;
    db.query("CREATE TABLE v AS SELECT g AS visitor FROM generate_series(1, 300000) g").await;
    db.query("ANALYZE v").await;
    let serial: String = db.value("SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor))::text FROM v").await;
    db.client
        .batch_execute(
            "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
             SET max_parallel_workers_per_gather = 2",
        )
        .await
        .unwrap();
    let plan: Vec<String> =
        db.query("EXPLAIN SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor)) FROM v").await.iter().map(|r| r.get(0)).collect();
    assert!(plan.iter().any(|l| l.contains("Partial Aggregate")), "{plan:#?}");
    let parallel: String = db.value("SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor))::text FROM v").await;
    assert_eq!(parallel, serial);
    let unioned: String = db
        .value("SELECT tally.hll_union_agg(h)::text FROM (SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor)) h FROM v GROUP BY visitor % 100) x")
        .await;
    assert_eq!(unioned, serial);
}

/// postgresql-hll's session values are backend globals its parallel workers never see
/// (after `hll_set_defaults(10, ...)` a parallel `hll_add_agg` fails to combine the
/// workers' 2^11-register states with the leader's); Tally's workers get the leader's
/// values, so the parallel plan gives the serial plan's bytes, also after a ROLLBACK.
#[tokio::test]
async fn session_defaults_reach_parallel_workers_and_outlive_rollbacks() {
    let db = TestDb::create().await;
    db.query("CREATE TABLE v AS SELECT g AS visitor FROM generate_series(1, 300000) g").await;
    db.query("ANALYZE v").await;
    let explicit = |params: &str| format!("SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor), {params})::text FROM v");
    let defaults = "SELECT tally.hll_add_agg(tally.hll_hash_bigint(visitor))::text FROM v";
    db.client
        .batch_execute(
            "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
             SET max_parallel_workers_per_gather = 2",
        )
        .await
        .unwrap();
    let plan: Vec<String> = db.query(&format!("EXPLAIN {defaults}")).await.iter().map(|r| r.get(0)).collect();
    assert!(plan.iter().any(|l| l.contains("Partial Aggregate")), "{plan:#?}");

    db.query("SELECT tally.hll_set_defaults(10, 4, 0, 0)").await;
    let expected: String = db.value(&explicit("10, 4, 0, 0")).await;
    assert_eq!(db.value::<String>(defaults).await, expected);

    db.client.batch_execute("BEGIN; SELECT tally.hll_set_defaults(12, 5, 0, 1); ROLLBACK").await.unwrap();
    let expected: String = db.value(&explicit("12, 5, 0, 1")).await;
    assert_eq!(db.value::<String>(defaults).await, expected);

    // Only hll_set_defaults changes them: a SET could be rolled back under it.
    let err = db.client.batch_execute("SET tally.hll_default_log2m = 13").await.unwrap_err();
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::CANT_CHANGE_RUNTIME_PARAM), "{err}");
    assert_eq!(db.value::<String>("SHOW tally.hll_default_log2m").await, "12");
}

#[tokio::test]
async fn legacy_thresholds_and_pass_by_reference_hashes() {
    let db = both().await;
    // postgresql-hll wrote explicit thresholds of 2^14 (and reads any power of 2).
    let row = db
        .client
        .query_one(
            "SELECT tally.hll_cardinality(v::text::tally.hll), hll_cardinality(v), (tally.hll_add(v::text::tally.hll, tally.hll_hash_integer(1)))::text
                    = hll_add(v, hll_hash_integer(1))::text
             FROM (VALUES ('\\x128b4f0000000000000005'::hll)) t(v)",
            &[],
        )
        .await
        .unwrap();
    let (ours, theirs, same): (f64, f64, bool) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((ours, same), (theirs, true));
    // An 8-byte type passed by reference hashes as its send form, the same every time.
    let same: bool = db
        .value(
            "SELECT tally.hll_hash_any(m)::text = tally.hll_hash_bytea(macaddr8_send(m))::text
                    AND tally.hll_hash_any(m)::text = tally.hll_hash_any('01:02:03:04:05:06:07:08'::macaddr8)::text
             FROM (VALUES ('01:02:03:04:05:06:07:08'::macaddr8)) t(m)",
        )
        .await;
    assert!(same);
}

#[tokio::test]
async fn malformed_values_are_refused_with_a_named_error() {
    let db = TestDb::create().await;
    let cases = [
        ("SELECT '\\x11'::tally.hll", "1 bytes long"),
        ("SELECT '\\x218b7f'::tally.hll", "schema version 2"),
        ("SELECT '\\x198b7f'::tally.hll", "hll type 9"),
        ("SELECT '\\x128b7f0102'::tally.hll", "explicit hll of 5 bytes"),
        ("SELECT '\\x148b7f00'::tally.hll", "full hll of 4 bytes"),
        ("SELECT '\\x128b7f00000000000000050000000000000003'::tally.hll", "strictly ascending"),
        ("SELECT 'not hex'::tally.hll", "schema version 6"),
        ("SELECT '\\x128b7f'::bytea::tally.hll OPERATOR(tally.||) '\\x118c7f'::bytea::tally.hll", "log2m is 11 on one side and 12"),
        ("SELECT tally.hll_empty(20)", "log2m must be between 0 and 17"),
        ("SELECT tally.hll_empty(11, 5, 100)", "expthresh must be"),
        ("SELECT tally.hll_cardinality(tally.hll_add(tally.hll_empty(3, 5, 0), tally.hll_hash_bigint(1)))", "more than 8 registers"),
        // Type modifiers, values that do not fit them, and the session functions.
        ("CREATE TABLE bad (v tally.hll(11, 8))", "regwidth modifier must be between 0 and 7, got 8"),
        ("CREATE TABLE bad (v tally.hll(11, 5, -1, 1, 0))", "at most 4 type modifiers"),
        ("CREATE TABLE bad (v tally.hll(eleven))", "modifiers must be integers"),
        ("CREATE TABLE bad (v tally.hll(11, 5, 100))", "expthresh must be"),
        ("SELECT '\\x118b7f'::tally.hll(10)", "hll value has log2m 11, but its column type declares 10"),
        ("SELECT tally.hll_empty(11, 4)::tally.hll(11)", "regwidth 4"),
        ("SELECT tally.hll_set_max_sparse(-2)", "max sparse must be -1 or more"),
        ("SELECT tally.hll_set_output_version(2)", "output version must be 1"),
        ("SELECT tally.hll_set_defaults(11, 5, 3, 1)", "expthresh must be"),
    ];
    for (sql, expected) in cases {
        db.assert_error_with_hint(sql, expected).await;
    }
    // Binary COPY into a column declaring other parameters (server-side files: the test
    // connects as a superuser on this machine).
    let file = format!("/tmp/{}_hll.bin", db.name);
    db.query(&format!("COPY (SELECT tally.hll_empty(11)) TO '{file}' (FORMAT binary)")).await;
    db.query("CREATE TABLE narrow (v tally.hll(10))").await;
    db.assert_error_with_hint(&format!("COPY narrow FROM '{file}' (FORMAT binary)"), "column type declares 10").await;
    db.query("CREATE TABLE wide (v tally.hll(11))").await;
    db.query(&format!("COPY wide FROM '{file}' (FORMAT binary)")).await;
    let _ = std::fs::remove_file(&file);
    // The connection survived every one of them.
    assert_eq!(db.value::<i32>("SELECT 1").await, 1);
}
