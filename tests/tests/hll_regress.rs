//! postgresql-hll's regression suite, as cases of our own: `tests/hll_regress/*.sql`,
//! one file per file of its `sql/` folder, testing the same behaviour (see
//! `tests/hll_regress/README.md`). Every case runs through psql twice in the test
//! cluster: in a database with only the real postgresql-hll (extension `hll`), which
//! gives the expected output, and in one with only `tally` and
//! `search_path = public, tally`, as a user switching over would run it. The two
//! outputs must be identical, except that errors are compared by their SQLSTATE class
//! (Tally's messages are its own and come with hints).

use std::path::{Path, PathBuf};
use std::process::Command;

use tally_tests::cluster::{connect, pg_program, repo_root, url_of};
use tally_tests::TestDb;

/// psql's output of `case` in database `url`, run from `dir` (where `\copy` writes),
/// errors and warnings reduced to the class of their SQLSTATE.
fn run(case: &Path, url: &str, dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("case directory");
    let out_path = dir.join("out.txt");
    let out = std::fs::File::create(&out_path).expect("output file");
    // As pg_regress runs psql: statements from stdin (messages then carry no file
    // name), echoed, with errors in the same file in order.
    // `cases` locates the files the cases include (`\i :cases/...`).
    let cases = format!("cases={}", case.parent().expect("case directory").display());
    let status = Command::new(pg_program("psql"))
        .args(["-X", "-a", "-q", "-v", "VERBOSITY=sqlstate", "-v", &cases, "-d", url])
        .current_dir(dir)
        .stdin(std::fs::File::open(case).expect("open case"))
        .stdout(out.try_clone().expect("output file"))
        .stderr(out)
        .status()
        .expect("run psql");
    assert!(status.success(), "psql failed on {}", case.display());
    let text = std::fs::read_to_string(&out_path).expect("psql output");
    text.lines().map(|line| sqlstate_class(line).unwrap_or(line)).collect::<Vec<_>>().join("\n")
}

/// `ERROR:  22023` (psql's sqlstate verbosity) as `ERROR:  22`.
fn sqlstate_class(line: &str) -> Option<&str> {
    let (severity, code) = line.split_once(":  ")?;
    let is_code = code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    (matches!(severity, "ERROR" | "WARNING") && is_code).then(|| &line[..severity.len() + 5])
}

/// The cases, in name order.
fn cases() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/hll_regress");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/hll_regress")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    cases.sort();
    cases
}

/// The first lines where `a` and `b` differ, for the failure message.
fn first_differences(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or("<end>"), b.get(i).copied().unwrap_or("<end>"));
        if x != y {
            out.push_str(&format!("  line {}:\n    hll:   {x}\n    tally: {y}\n", i + 1));
            if out.lines().count() > 24 {
                break;
            }
        }
    }
    out
}

#[tokio::test]
async fn postgresql_hll_regression_cases_give_the_same_output() {
    // A database with only postgresql-hll, made next to a tally one in the same cluster.
    let tally = TestDb::create().await;
    let hll_db = format!("{}_hll", tally.name);
    let admin = connect(&url_of("postgres")).await;
    admin.batch_execute(&format!("CREATE DATABASE {hll_db}")).await.expect("create hll database");
    connect(&url_of(&hll_db)).await.batch_execute("CREATE EXTENSION hll").await.expect("CREATE EXTENSION hll");
    tally.query(&format!("ALTER DATABASE {} SET search_path = public, tally", tally.name)).await;

    let work = std::env::temp_dir().join(format!("hll_regress_{}", tally.name));
    let cases = cases();
    assert!(cases.len() >= 32, "{} cases", cases.len());
    let mut failed = Vec::new();
    for case in &cases {
        let name = case.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let expected = run(case, &url_of(&hll_db), &work.join("hll"));
        let actual = run(case, &tally.url, &work.join("tally"));
        if expected != actual {
            failed.push(format!("{name}:\n{}", first_differences(&expected, &actual)));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(failed.is_empty(), "{} of {} cases differ from postgresql-hll:\n{}", failed.len(), cases.len(), failed.join("\n"));
}
