//! Google Analytics 4 aggregate exports: the JSON of the GA4 Data API's
//! `properties.batchRunReports` (`{"reports": [...]}`), or a list of `runReport`
//! responses, for the reports Plausible's GA4 importer asks for. Each report is
//! recognised by its dimension headers and becomes one imported table; its rows'
//! `dimensionValues` and `metricValues` are read by header name:
//!
//! | dimensions | table |
//! |---|---|
//! | date | visitors |
//! | date, sessionSource, sessionMedium, sessionCampaignName, sessionManualAdContent, sessionGoogleAdsKeyword, pageReferrer | sources |
//! | date, hostName, pagePath | pages |
//! | date, landingPage | entry_pages |
//! | date, countryId, region, city | locations |
//! | date, deviceCategory | devices |
//! | date, browser | browsers |
//! | date, operatingSystem, operatingSystemVersion | operating_systems |
//!
//! Metrics: `totalUsers` (visitors), `sessions` (visits), `screenPageViews`
//! (pageviews), `userEngagementDuration` (visit_duration, seconds) and `bounces` (an
//! expression metric, `sessions - engagedSessions`, as Plausible defines it; not needed
//! for pages). GA4's placeholders (`(not set)`, `(direct)`, `(none)`) are empty.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::aggregate::{self, cell, Import, Kind, Rows};
use super::FileError;

/// A report's dimensions (after `date`) and, per column of its table, where the value
/// comes from: its dimension columns, then its metric columns.
struct Report {
    table: &'static str,
    dimensions: &'static [&'static str],
    columns: &'static [(&'static str, Origin)],
    metrics: &'static [(&'static str, Origin)],
}

/// Where a table column's value comes from.
#[derive(Clone, Copy)]
enum Origin {
    Dimension(&'static str),
    Metric(&'static str),
    /// GA4 has no such figure: empty text or 0.
    Nothing,
}

use Origin::{Dimension as D, Metric as M, Nothing};

const VISIT_METRICS: [(&str, Origin); 5] = [
    ("visitors", M("totalUsers")),
    ("visits", M("sessions")),
    ("visit_duration", M("userEngagementDuration")),
    ("bounces", M("bounces")),
    ("pageviews", M("screenPageViews")),
];

const REPORTS: [Report; 8] = [
    Report { table: "visitors", dimensions: &[], columns: &[], metrics: &VISIT_METRICS },
    Report {
        table: "sources",
        dimensions: &[
            "sessionSource",
            "sessionMedium",
            "sessionCampaignName",
            "sessionManualAdContent",
            "sessionGoogleAdsKeyword",
            "pageReferrer",
        ],
        columns: &[
            ("source", D("sessionSource")),
            ("referrer", D("pageReferrer")),
            ("utm_source", Nothing),
            ("utm_medium", D("sessionMedium")),
            ("utm_campaign", D("sessionCampaignName")),
            ("utm_content", D("sessionManualAdContent")),
            ("utm_term", D("sessionGoogleAdsKeyword")),
        ],
        metrics: &VISIT_METRICS,
    },
    Report {
        table: "pages",
        dimensions: &["hostName", "pagePath"],
        columns: &[("hostname", D("hostName")), ("page", D("pagePath"))],
        metrics: &[
            ("visits", M("sessions")),
            ("visitors", M("totalUsers")),
            ("pageviews", M("screenPageViews")),
            ("pageleave_visitors", Nothing),
        ],
    },
    Report {
        table: "entry_pages",
        dimensions: &["landingPage"],
        columns: &[("entry_page", D("landingPage"))],
        metrics: &[
            ("visitors", M("totalUsers")),
            ("entrances", M("sessions")),
            ("visit_duration", M("userEngagementDuration")),
            ("bounces", M("bounces")),
            ("pageviews", M("screenPageViews")),
        ],
    },
    Report {
        table: "locations",
        dimensions: &["countryId", "region", "city"],
        // GA4 names regions and cities; Tally's imported locations hold ISO 3166-2 codes
        // and GeoNames ids, which a name does not give: the country alone is kept.
        columns: &[("country", D("countryId")), ("region", Nothing), ("city", Nothing)],
        metrics: &VISIT_METRICS,
    },
    Report { table: "devices", dimensions: &["deviceCategory"], columns: &[("device", D("deviceCategory"))], metrics: &VISIT_METRICS },
    Report {
        table: "browsers",
        dimensions: &["browser"],
        columns: &[("browser", D("browser")), ("browser_version", Nothing)],
        metrics: &VISIT_METRICS,
    },
    Report {
        table: "operating_systems",
        dimensions: &["operatingSystem", "operatingSystemVersion"],
        columns: &[("operating_system", D("operatingSystem")), ("operating_system_version", D("operatingSystemVersion"))],
        metrics: &VISIT_METRICS,
    },
];

/// Whether `name` is a GA4 export (`.json`).
pub fn is_export(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// Reads the GA4 export `bytes`, named `file`.
pub fn read(file: &str, bytes: &[u8]) -> Result<Import, FileError> {
    let json: Value = serde_json::from_slice(bytes).map_err(|e| FileError::file(file, format!("not JSON: {e}")))?;
    let reports = match &json {
        Value::Object(o) => o.get("reports").and_then(Value::as_array),
        Value::Array(list) => Some(list),
        _ => None,
    }
    .ok_or_else(|| FileError::file(file, "expected batchRunReports' {\"reports\": [...]} or a list of runReport responses"))?;
    let mut tables: Vec<Rows> = Vec::new();
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    for (i, report) in reports.iter().enumerate() {
        let name = format!("{file}, report {}", i + 1);
        let rows = read_report(&name, report)?;
        if tables.iter().any(|t| t.table.name == rows.table.name) {
            return Err(FileError::file(&name, format!("a second report of table {}", rows.table.name)));
        }
        for row in &rows.rows {
            let day = aggregate::date(row["date"].as_str().unwrap_or_default()).expect("checked");
            range = Some(range.map_or((day, day), |(f, l)| (f.min(day), l.max(day))));
        }
        tables.push(rows);
    }
    let (first, last) = range.ok_or_else(|| FileError::file(file, "no rows in its reports"))?;
    Ok(Import { source: "ga4", file: file.to_owned(), first, last, tables })
}

fn headers<'a>(report: &'a Value, key: &str) -> Vec<&'a str> {
    report[key].as_array().into_iter().flatten().map(|h| h["name"].as_str().unwrap_or_default()).collect()
}

fn read_report(file: &str, report: &Value) -> Result<Rows, FileError> {
    let dimensions = headers(report, "dimensionHeaders");
    let metrics = headers(report, "metricHeaders");
    if dimensions.first() != Some(&"date") {
        return Err(FileError::column(file, "dimensionHeaders", "the first dimension must be date"));
    }
    let spec = REPORTS.iter().find(|r| r.dimensions == &dimensions[1..]).ok_or_else(|| {
        FileError::column(file, "dimensionHeaders", format!("{dimensions:?} is not one of the reports Plausible's GA4 import asks for"))
    })?;
    let table = aggregate::table(spec.table).expect("every report has a table");
    for (_, from) in spec.metrics {
        if let Origin::Metric(m) = from {
            if !metrics.contains(m) {
                return Err(FileError::column(file, m, format!("the {} report needs metric {m}", spec.table)));
            }
        }
    }
    let mut rows = Vec::new();
    for (i, row) in report["rows"].as_array().into_iter().flatten().enumerate() {
        let n = i as u64 + 1;
        let value = |list: &str, names: &[&str], name: &str| -> Result<String, FileError> {
            let at = names.iter().position(|h| *h == name).expect("header checked");
            row[list][at]["value"].as_str().map(str::to_owned).ok_or_else(|| FileError::at(file, n, name, format!("no {list}[{at}].value")))
        };
        let day_text = value("dimensionValues", &dimensions, "date")?;
        let day =
            aggregate::date(&day_text).ok_or_else(|| FileError::at(file, n, "date", format!("{day_text:?} is not a date (YYYYMMDD)")))?;
        let mut object = Map::new();
        object.insert("date".into(), Value::String(day.to_string()));
        for &(column, from) in spec.columns.iter().chain(spec.metrics) {
            let kind = table.columns.iter().find(|c| c.0 == column).expect("a column of the table").1;
            let text = match from {
                Origin::Dimension(d) => placeholder(value("dimensionValues", &dimensions, d)?),
                Origin::Metric(m) => value("metricValues", &metrics, m)?,
                Origin::Nothing if kind == Kind::Text => String::new(),
                Origin::Nothing => "0".into(),
            };
            let field = match from {
                Origin::Metric(m) => m,
                _ => column,
            };
            object.insert(column.into(), cell(file, n, field, kind, &text)?);
        }
        rows.push(object);
    }
    Ok(Rows { table, rows })
}

/// GA4's placeholders for "none" are empty, as in Plausible's tables.
fn placeholder(value: String) -> String {
    if matches!(value.as_str(), "(not set)" | "(direct)" | "(none)" | "(other)") {
        String::new()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(dimensions: &[&str], metrics: &[&str], rows: Value) -> Value {
        json!({
            "dimensionHeaders": dimensions.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
            "metricHeaders": metrics.iter().map(|m| json!({"name": m, "type": "TYPE_INTEGER"})).collect::<Vec<_>>(),
            "rows": rows,
        })
    }

    #[test]
    fn reports_become_imported_tables() {
        let metrics = ["totalUsers", "screenPageViews", "bounces", "sessions", "userEngagementDuration"];
        let devices = report(
            &["date", "deviceCategory"],
            &metrics,
            json!([{"dimensionValues": [{"value": "20240105"}, {"value": "tablet"}], "metricValues": [{"value": "3"}, {"value": "7"}, {"value": "1"}, {"value": "4"}, {"value": "95"}]}]),
        );
        let import = read("ga4.json", json!({"reports": [devices]}).to_string().as_bytes()).unwrap();
        assert_eq!((import.first.to_string(), import.last.to_string()), ("2024-01-05".into(), "2024-01-05".into()));
        assert_eq!(
            Value::Object(import.tables[0].rows[0].clone()),
            json!({"date": "2024-01-05", "device": "tablet", "visitors": 3, "visits": 4, "visit_duration": 95, "bounces": 1, "pageviews": 7})
        );
    }

    #[test]
    fn a_bad_report_names_report_row_and_field() {
        let bad = report(
            &["date"],
            &["totalUsers", "screenPageViews", "bounces", "sessions", "userEngagementDuration"],
            json!([{"dimensionValues": [{"value": "20240105"}], "metricValues": [{"value": "3"}, {"value": "7"}, {"value": "1"}, {"value": "x"}, {"value": "95"}]}]),
        );
        let e = read("ga4.json", json!([bad]).to_string().as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "ga4.json, report 1, row 1, field sessions: \"x\" is not a count (a whole number, 0 or more)");
        let unknown = report(&["date", "city"], &["totalUsers"], json!([]));
        assert_eq!(read("ga4.json", json!([unknown]).to_string().as_bytes()).unwrap_err().field.as_deref(), Some("dimensionHeaders"));
        let no_bounces = report(&["date", "browser"], &["totalUsers", "sessions", "screenPageViews", "userEngagementDuration"], json!([]));
        assert_eq!(read("ga4.json", json!([no_bounces]).to_string().as_bytes()).unwrap_err().field.as_deref(), Some("bounces"));
    }
}
