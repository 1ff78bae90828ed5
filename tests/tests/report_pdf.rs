//! PDF export of a dashboard view over real HTTP: the gateway prints the view's KPI
//! cards, chart and top tables with headless Chromium; here the PDF is read back with
//! poppler's pdftotext (its figures must be the API's for the same view) and pdftoppm
//! (its pages as PNG, kept in target/report-pdf/ to look at).

use std::path::PathBuf;

use serde_json::{json, Value};
use tally_tests::cluster::repo_root;
use tally_tests::{Session, Tally};

fn out_dir() -> PathBuf {
    let dir = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| repo_root().join("target"), Into::into).join("report-pdf");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `1234567.0` → `1,234,567` (whole numbers only: the counts this test reads).
fn thousands(n: f64) -> String {
    let digits = (n as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// POSTs `view` for a PDF; returns the text pdftotext reads from it, after saving the
/// PDF and its first page as PNG under `name`.
async fn pdf_text(s: &Session, view: &Value, name: &str) -> String {
    let resp = s.http.post(format!("{}/api/v1/reports/pdf", s.base)).json(view).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"tally-site1.example-"));
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let path = out_dir().join(format!("{name}.pdf"));
    std::fs::write(&path, &bytes).unwrap();
    let png = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "70", "-f", "1", "-l", "1"])
        .arg(&path)
        .arg(out_dir().join(name))
        .status()
        .unwrap();
    assert!(png.success(), "pdftoppm");
    let text = std::process::Command::new("pdftotext").args(["-layout"]).arg(&path).arg("-").output().unwrap();
    assert!(text.status.success(), "pdftotext");
    String::from_utf8(text.stdout).unwrap()
}

/// The API's answer to `query` with the view's site, range and filters.
async fn api(s: &Session, view: &Value, extra: Value) -> Value {
    let mut q = json!({"site_id": view["site_id"], "date_range": view["date_range"], "filters": view["filters"]});
    q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, answer) = s.post("/api/v1/query", q).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn a_views_pdf_shows_the_apis_kpis_changes_and_top_tables() {
    let t = Tally::start().await;
    t.db.load(8_000, 30, 2, chrono::Utc::now().timestamp_micros() - 3_600_000_000).await;
    t.sql("SELECT tally.compact()").await;
    let viewer = t.user_with_role("site1.example", "viewer").await;

    for (name, filters) in [("all", json!([])), ("filtered", json!([["is", "visit:device", ["desktop"]]]))] {
        let view = json!({"site_id": "site1.example", "date_range": "30d", "filters": filters, "comparison": "previous_period"});
        let text = pdf_text(&viewer, &view, name).await;
        let kpis = api(
            &viewer,
            &view,
            json!({"metrics": ["visitors", "visits", "pageviews"], "include": {"comparisons": {"mode": "previous_period"}}}),
        )
        .await;
        let row = &kpis["results"][0];
        let range = &kpis["query"]["date_range"];
        assert!(text.contains(&format!("site1.example · {} to {}", range[0].as_str().unwrap(), range[1].as_str().unwrap())), "{text}");
        for (i, label) in ["Unique visitors", "Total visits", "Total pageviews"].iter().enumerate() {
            let value = thousands(row["metrics"][i].as_f64().unwrap());
            assert!(text.contains(label) && text.contains(&value), "{name}: {label} {value} not in\n{text}");
            let previous = thousands(row["comparison"]["metrics"][i].as_f64().unwrap());
            assert!(text.contains(&format!("(was {previous})")), "{name}: {label} was {previous} not in\n{text}");
        }
        let pages = api(&viewer, &view, json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "order_by": [["visitors", "desc"]], "pagination": {"limit": 10}})).await;
        let top = pages["results"].as_array().unwrap();
        assert!(!top.is_empty());
        for r in top {
            let line = text.lines().find(|l| l.contains(&format!("{} ", r["dimensions"][0].as_str().unwrap()))).unwrap_or_default();
            assert!(line.contains(&thousands(r["metrics"][0].as_f64().unwrap())), "{name}: page {} row {line:?}", r["dimensions"][0]);
        }
        let sources = api(&viewer, &view, json!({"metrics": ["visitors"], "dimensions": ["visit:source"], "order_by": [["visitors", "desc"]], "pagination": {"limit": 10}})).await;
        let first = &sources["results"][0];
        let source = first["dimensions"][0].as_str().unwrap_or("(none)");
        assert!(text.contains(source), "{name}: source {source} not in\n{text}");
        if name == "filtered" {
            assert!(text.contains("Filtered by visit:device is desktop"), "{text}");
        }
    }
    for page in ["all-1.png", "filtered-1.png"] {
        assert!(std::fs::metadata(out_dir().join(page)).map(|m| m.len()).unwrap_or(0) > 10_000, "{page}");
    }
}

#[tokio::test]
async fn a_pdf_of_a_bad_view_or_another_site_is_refused_at_the_field() {
    let t = Tally::start().await;
    t.db.load(500, 3, 2, chrono::Utc::now().timestamp_micros()).await;
    let viewer = t.user_with_role("site1.example", "viewer").await;
    for (view, field) in [
        (json!({"site_id": "site2.example"}), "site_id"),
        (json!({"site_id": "site1.example", "comparison": "weekly"}), "comparison"),
        (json!({"site_id": "site1.example", "date_range": "fortnight"}), "date_range"),
        (json!({"site_id": "site1.example", "filters": [["is", "visit:nope", ["x"]]]}), "filters[0]"),
    ] {
        let (status, body) = viewer.post("/api/v1/reports/pdf", view.clone()).await;
        assert_eq!(status, 400, "{view}: {body}");
        assert!(body["field"].as_str().unwrap_or_default().starts_with(field), "{view}: {body}");
    }
    let (status, _) = t.post("/api/v1/reports/pdf", json!({"site_id": "site1.example"})).await;
    assert_eq!(status, 401);
}
