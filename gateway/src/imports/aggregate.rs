//! Plausible's imported tables (sql/imports.sql) as the loaders see them: each table's
//! columns and their kinds, rows checked against them, and [`store`], which loads the
//! rows of one file as one import in the caller's transaction.

use chrono::NaiveDate;
use deadpool_postgres::Transaction;
use serde_json::{Map, Value};

use super::FileError;
use crate::error::ApiError;
use crate::ingest::channel::{channel, Acquisition};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Text; empty is "none" (a direct visit's source, an unknown region).
    Text,
    /// A count: a non-negative integer.
    Count,
    /// A count that may be missing (empty).
    OptionalCount,
}

/// One imported table: `tally.imported_<name>`, its columns after `date`.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::{Count, OptionalCount, Text};

/// Plausible's imported tables, with the columns of its CSV export
/// (`Plausible.Imported.CSVImporter`), in the export's order.
pub const TABLES: [Table; 10] = [
    Table {
        name: "visitors",
        columns: &[("visitors", Count), ("pageviews", Count), ("bounces", Count), ("visits", Count), ("visit_duration", Count)],
    },
    Table {
        name: "sources",
        columns: &[
            ("source", Text),
            ("referrer", Text),
            ("utm_source", Text),
            ("utm_medium", Text),
            ("utm_campaign", Text),
            ("utm_content", Text),
            ("utm_term", Text),
            ("pageviews", Count),
            ("visitors", Count),
            ("visits", Count),
            ("visit_duration", Count),
            ("bounces", Count),
        ],
    },
    Table {
        name: "pages",
        columns: &[
            ("hostname", Text),
            ("page", Text),
            ("visits", Count),
            ("visitors", Count),
            ("pageviews", Count),
            ("scroll_depth", OptionalCount),
            ("pageleave_visitors", Count),
        ],
    },
    Table {
        name: "entry_pages",
        columns: &[
            ("entry_page", Text),
            ("visitors", Count),
            ("entrances", Count),
            ("visit_duration", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
    Table {
        name: "exit_pages",
        columns: &[
            ("exit_page", Text),
            ("visitors", Count),
            ("visit_duration", Count),
            ("exits", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
    Table { name: "custom_events", columns: &[("name", Text), ("link_url", Text), ("path", Text), ("visitors", Count), ("events", Count)] },
    Table {
        name: "locations",
        columns: &[
            ("country", Text),
            ("region", Text),
            ("city", Count),
            ("visitors", Count),
            ("visits", Count),
            ("visit_duration", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
    Table {
        name: "devices",
        columns: &[
            ("device", Text),
            ("visitors", Count),
            ("visits", Count),
            ("visit_duration", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
    Table {
        name: "browsers",
        columns: &[
            ("browser", Text),
            ("browser_version", Text),
            ("visitors", Count),
            ("visits", Count),
            ("visit_duration", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
    Table {
        name: "operating_systems",
        columns: &[
            ("operating_system", Text),
            ("operating_system_version", Text),
            ("visitors", Count),
            ("visits", Count),
            ("visit_duration", Count),
            ("bounces", Count),
            ("pageviews", Count),
        ],
    },
];

/// The table of this name (`pages`), if it is one.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Checked rows of one table, each a JSON object of its columns (`date` included).
#[derive(Debug)]
pub struct Rows {
    pub table: &'static Table,
    pub rows: Vec<Map<String, Value>>,
}

/// One file's rows, and the days it covers.
#[derive(Debug)]
pub struct Import {
    pub source: &'static str,
    pub file: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub tables: Vec<Rows>,
}

/// A `date` value: `YYYY-MM-DD`, or `YYYYMMDD` as GA4 writes it.
pub fn date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(value, "%Y%m%d")).ok()
}

/// The value of `column` (of `kind`) from its text in row `row` of `file`.
pub fn cell(file: &str, row: u64, column: &str, kind: Kind, text: &str) -> Result<Value, FileError> {
    let text = text.trim();
    match kind {
        Kind::Text => Ok(Value::String(text.to_owned())),
        Kind::OptionalCount if text.is_empty() => Ok(Value::Null),
        Kind::Count | Kind::OptionalCount => text
            .parse::<u64>()
            .ok()
            .filter(|n| i64::try_from(*n).is_ok())
            .map(Value::from)
            .ok_or_else(|| FileError::at(file, row, column, format!("{text:?} is not a count (a whole number, 0 or more)"))),
    }
}

/// The acquisition channel of a visit with an imported sources row's source and tags,
/// as ingest gives it ([`crate::ingest::channel`]): exports name no channel, and this
/// is what `visit:channel` finds in the imported rows.
fn channel_of(row: &Map<String, Value>) -> &'static str {
    let text = |column: &str| row.get(column).and_then(Value::as_str).filter(|v| !v.is_empty());
    channel(&Acquisition {
        source: text("source"),
        utm_source: text("utm_source"),
        utm_medium: text("utm_medium"),
        utm_campaign: text("utm_campaign"),
        click_id: None,
    })
    .name()
}

/// A device class as the tracker stores it (`desktop`, `mobile`, `tablet`): exports
/// spell them capitalized (`Desktop`), and one class must stay one group when imported
/// and live rows are merged.
pub fn device_class(name: &str) -> String {
    name.to_lowercase()
}

/// How many rows go into one INSERT: a few megabytes of JSON.
const CHUNK_ROWS: usize = 5_000;

/// Stores `import` for site `site_id` in `tx`: a row of `tally.site_imports` and its
/// rows in the imported tables, nothing else (data already stored is never changed).
/// Refused (409) when its days overlap an earlier import of the site: a day counted
/// twice would double its figures. Returns the new import's id. Row-level security
/// applies: only admins of the site may load its imports.
pub async fn store(tx: &Transaction<'_>, site_id: i32, import: &Import) -> Result<i64, ApiError> {
    if let Some(row) = tx
        .query_opt(
            "SELECT import_id, file, start_date::text, end_date::text FROM tally.site_imports
             WHERE site_id = $1 AND daterange(start_date, end_date, '[]') && daterange($2, $3, '[]') ORDER BY import_id LIMIT 1",
            &[&site_id, &import.first, &import.last],
        )
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "{}: its days {} to {} overlap import {} ({}, {} to {}); delete that import first or import other days",
            import.file,
            import.first,
            import.last,
            row.get::<_, i64>(0),
            row.get::<_, String>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3)
        )));
    }
    let import_id: i64 = tx
        .query_one(
            "INSERT INTO tally.site_imports (site_id, source, file, start_date, end_date) VALUES ($1, $2, $3, $4, $5) RETURNING import_id",
            &[&site_id, &import.source, &import.file, &import.first, &import.last],
        )
        .await?
        .get(0);
    for rows in &import.tables {
        let sql =
            format!("INSERT INTO tally.imported_{0} SELECT * FROM jsonb_populate_recordset(NULL::tally.imported_{0}, $1)", rows.table.name);
        for chunk in rows.rows.chunks(CHUNK_ROWS) {
            let list: Vec<Value> = chunk
                .iter()
                .map(|row| {
                    let mut row = row.clone();
                    if rows.table.name == "sources" {
                        row.insert("channel".into(), channel_of(&row).into());
                    }
                    if let Some(Value::String(device)) = row.get_mut("device") {
                        *device = device_class(device);
                    }
                    row.insert("site_id".into(), site_id.into());
                    row.insert("import_id".into(), import_id.into());
                    Value::Object(row)
                })
                .collect();
            tx.execute(&sql, &[&Value::Array(list)]).await?;
        }
    }
    Ok(import_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_checked_by_kind() {
        assert_eq!(cell("f", 1, "visitors", Count, " 12 ").unwrap(), Value::from(12));
        assert_eq!(cell("f", 1, "scroll_depth", OptionalCount, "").unwrap(), Value::Null);
        let e = cell("f.csv", 3, "visitors", Count, "-1").unwrap_err();
        assert_eq!(e.to_string(), "f.csv, row 3, field visitors: \"-1\" is not a count (a whole number, 0 or more)");
        assert!(cell("f", 1, "visitors", Count, "").is_err());
        assert!(cell("f", 1, "visitors", Count, "18446744073709551615").is_err(), "beyond bigint");
    }

    #[test]
    fn dates_in_both_spellings() {
        assert_eq!(date("2024-01-31"), date("20240131"));
        assert!(date("2024-02-30").is_none());
    }
}
