//! Raw events from a file, for `tally.import_events`: CSV (a header naming the
//! columns), NDJSON (one JSON object per line) or Parquet (columns by name), each
//! record checked and made into one CSV line of `tally.event`'s columns for COPY.
//!
//! The columns are `tally.event`'s (docs/sql.md) but `site_id`, which the import names
//! (`--site`): `ts` (RFC 3339, or a Parquet timestamp), `name`, `visitor_id`,
//! `session_id`, `hostname` and `pathname` are required; the others may be missing or
//! empty (a missing `channel` is the one the record's source and UTM tags give). A
//! column of another name is refused, so a misspelt one is never dropped silently.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::Value;

use tally_core::event::{SqlType, SCHEMA};

use super::aggregate::device_class;
use super::FileError;
use crate::ingest::channel::{channel, Acquisition};

/// `tally.event`'s columns after `site_id` (which the import names), in order.
const COLUMNS: &[(&str, SqlType)] = SCHEMA.split_at(1).1;

/// How many leading columns every event needs.
const REQUIRED: usize = 6;

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    /// The format a file's name says (`.csv`, `.ndjson`/`.jsonl`, `.parquet`).
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit('.').next()?;
        match ext {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// A file's events, record by record.
pub struct Events {
    file: String,
    row: u64,
    source: Source,
    /// Records in the file, when its format says before reading (Parquet).
    pub total: Option<u64>,
}

enum Source {
    Csv { reader: csv::Reader<BufReader<File>>, columns: Vec<usize> },
    Ndjson(std::io::Lines<BufReader<File>>),
    Parquet(parquet::record::reader::RowIter<'static>),
}

impl Events {
    /// Opens `path` as `format`; the header (CSV) or schema (Parquet) is checked here.
    pub fn open(path: &Path, format: Format) -> Result<Events, FileError> {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let opened = File::open(path).map_err(|e| FileError::file(&file, format!("cannot be opened: {e}")))?;
        let (source, total) = match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::with_capacity(1 << 20, opened));
                let headers = reader.headers().map_err(|e| FileError::file(&file, format!("no CSV header: {e}")))?.clone();
                let names: Vec<String> = headers.iter().map(|h| h.trim().to_owned()).collect();
                let columns = column_order(&file, &names)?;
                (Source::Csv { reader, columns }, None)
            }
            Format::Ndjson => (Source::Ndjson(BufReader::with_capacity(1 << 20, opened).lines()), None),
            Format::Parquet => {
                let reader = SerializedFileReader::new(opened).map_err(|e| FileError::file(&file, format!("not a Parquet file: {e}")))?;
                let total = u64::try_from(reader.metadata().file_metadata().num_rows()).ok();
                let names: Vec<String> =
                    reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.name().to_owned()).collect();
                column_order(&file, &names)?;
                let rows = parquet::record::reader::RowIter::from_file_into(Box::new(reader));
                (Source::Parquet(rows), total)
            }
        };
        Ok(Events { file, row: 0, source, total })
    }

    /// The file's name, as errors name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Appends the next record to `out` as a CSV line of [`COLUMNS`] (`site_id` first);
    /// false at the end of the file.
    pub fn next_into(&mut self, site_id: i32, out: &mut csv::Writer<Vec<u8>>) -> Result<bool, FileError> {
        let mut cells: Vec<Option<String>> = vec![None; COLUMNS.len()];
        loop {
            self.row += 1;
            let (file, row) = (self.file.as_str(), self.row);
            match &mut self.source {
                Source::Csv { reader, columns } => {
                    let mut record = csv::StringRecord::new();
                    match reader.read_record(&mut record) {
                        Ok(false) => return Ok(false),
                        Ok(true) => {}
                        Err(e) => {
                            return Err(FileError { file: file.into(), row: Some(row), field: None, message: format!("not CSV: {e}") })
                        }
                    }
                    for (at, &column) in columns.iter().enumerate() {
                        let text = record.get(at).unwrap_or_default();
                        cells[column] = text_cell(file, row, column, text)?;
                    }
                }
                Source::Ndjson(lines) => {
                    let Some(line) = lines.next() else { return Ok(false) };
                    let line = line.map_err(|e| FileError::file(file, format!("cannot be read: {e}")))?;
                    if line.trim().is_empty() {
                        // Blank lines are not records (a trailing newline, a gap).
                        self.row -= 1;
                        continue;
                    }
                    let object = match serde_json::from_str::<Value>(&line) {
                        Ok(Value::Object(object)) => object,
                        Ok(_) => {
                            return Err(FileError { file: file.into(), row: Some(row), field: None, message: "not a JSON object".into() })
                        }
                        Err(e) => {
                            return Err(FileError { file: file.into(), row: Some(row), field: None, message: format!("not JSON: {e}") })
                        }
                    };
                    for (key, value) in object {
                        let column = column_of(file, &key).map_err(|e| FileError { row: Some(row), ..e })?;
                        cells[column] = json_cell(file, row, column, value)?;
                    }
                }
                Source::Parquet(rows) => {
                    let Some(record) = rows.next() else { return Ok(false) };
                    let record = record.map_err(|e| FileError {
                        file: file.into(),
                        row: Some(row),
                        field: None,
                        message: format!("cannot be read: {e}"),
                    })?;
                    for (name, field) in record.get_column_iter() {
                        let column = column_of(file, name)?;
                        cells[column] = parquet_cell(file, row, column, field)?;
                    }
                }
            }
            for (column, (name, _)) in COLUMNS.iter().enumerate().take(REQUIRED) {
                if cells[column].is_none() {
                    return Err(FileError::at(
                        file,
                        row,
                        name,
                        "missing: every event needs ts, name, visitor_id, session_id, hostname and pathname",
                    ));
                }
            }
            with_channel(&mut cells);
            let device = COLUMNS.iter().position(|(c, _)| *c == "device").expect("an event column");
            if let Some(class) = cells[device].as_mut() {
                *class = device_class(class);
            }
            let site = site_id.to_string();
            let record = std::iter::once(site.as_str()).chain(cells.iter().map(|c| c.as_deref().unwrap_or("")));
            out.write_record(record).map_err(|e| FileError::file(file, format!("cannot be written for COPY: {e}")))?;
            return Ok(true);
        }
    }
}

/// A record without a `channel` gets the one ingest gives a visit with its source and
/// UTM tags ([`crate::ingest::channel`]), so imported history has channels too.
fn with_channel(cells: &mut [Option<String>]) {
    let at = |name: &str| COLUMNS.iter().position(|(c, _)| *c == name).expect("an event column");
    let channel_at = at("channel");
    if cells[channel_at].is_some() {
        return;
    }
    let text = |name: &str| cells[at(name)].as_deref();
    let acquisition = Acquisition {
        source: text("referrer_source"),
        utm_source: text("utm_source"),
        utm_medium: text("utm_medium"),
        utm_campaign: text("utm_campaign"),
        click_id: None,
    };
    cells[channel_at] = Some(channel(&acquisition).name().to_owned());
}

/// The column index of each header name; an unknown or repeated name is an error.
fn column_order(file: &str, names: &[String]) -> Result<Vec<usize>, FileError> {
    let mut order = Vec::with_capacity(names.len());
    for name in names {
        let column = column_of(file, name)?;
        if order.contains(&column) {
            return Err(FileError::column(file, name, "named twice in the header"));
        }
        order.push(column);
    }
    for (column, (name, _)) in COLUMNS.iter().enumerate().take(REQUIRED) {
        if !order.contains(&column) {
            return Err(FileError::column(file, name, "the file has no such column: every event needs it"));
        }
    }
    Ok(order)
}

fn column_of(file: &str, name: &str) -> Result<usize, FileError> {
    COLUMNS.iter().position(|(c, _)| *c == name).ok_or_else(|| {
        let message = if name == "site_id" {
            "the site is given to the import, not in the file".to_owned()
        } else {
            "not a column of tally.event".to_owned()
        };
        FileError::column(file, name, message)
    })
}

/// A cell from text (CSV, or a JSON string): empty is missing.
fn text_cell(file: &str, row: u64, column: usize, text: &str) -> Result<Option<String>, FileError> {
    if text.is_empty() {
        return Ok(None);
    }
    let (name, kind) = COLUMNS[column];
    let bad = |what: &str| FileError::at(file, row, name, format!("{text:?} is not {what}"));
    match kind {
        SqlType::Text => Ok(Some(text.to_owned())),
        SqlType::Timestamptz => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| Some(t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Micros, true)))
            .map_err(|_| bad("a time (RFC 3339: 2024-03-01T12:00:00Z)")),
        SqlType::Int4 => text.trim().parse::<i32>().map(|n| Some(n.to_string())).map_err(|_| bad("a whole number (32 bits)")),
        SqlType::Int8 => text.trim().parse::<i64>().map(|n| Some(n.to_string())).map_err(|_| bad("a whole number (64 bits)")),
        SqlType::Bool => text.trim().parse::<bool>().map(|b| Some(b.to_string())).map_err(|_| bad("true or false")),
        SqlType::Jsonb => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(Some(value.to_string())),
            _ => Err(bad("a JSON object")),
        },
    }
}

fn json_cell(file: &str, row: u64, column: usize, value: Value) -> Result<Option<String>, FileError> {
    let (name, kind) = COLUMNS[column];
    match (kind, value) {
        (_, Value::Null) => Ok(None),
        (SqlType::Jsonb, value @ Value::Object(_)) => Ok(Some(value.to_string())),
        (SqlType::Int4 | SqlType::Int8, Value::Number(n)) => text_cell(file, row, column, &n.to_string()),
        (SqlType::Bool, Value::Bool(b)) => Ok(Some(b.to_string())),
        (SqlType::Jsonb, other) => Err(FileError::at(file, row, name, format!("{other} is not {}", what(kind)))),
        (_, Value::String(s)) => text_cell(file, row, column, &s),
        (_, other) => Err(FileError::at(file, row, name, format!("{other} is not {}", what(kind)))),
    }
}

fn parquet_cell(file: &str, row: u64, column: usize, field: &Field) -> Result<Option<String>, FileError> {
    let (name, kind) = COLUMNS[column];
    let micros = |us: i64| DateTime::<Utc>::from_timestamp_micros(us).map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true));
    match (kind, field) {
        (_, Field::Null) => Ok(None),
        (SqlType::Timestamptz, Field::TimestampMicros(us)) => Ok(micros(*us)),
        (SqlType::Timestamptz, Field::TimestampMillis(ms)) => Ok(micros(ms.saturating_mul(1000))),
        (SqlType::Int4 | SqlType::Int8, Field::Int(n)) => text_cell(file, row, column, &n.to_string()),
        (SqlType::Int4 | SqlType::Int8, Field::Long(n)) => text_cell(file, row, column, &n.to_string()),
        (SqlType::Int4 | SqlType::Int8, Field::Short(n)) => text_cell(file, row, column, &n.to_string()),
        (SqlType::Bool, Field::Bool(b)) => Ok(Some(b.to_string())),
        (_, Field::Str(s)) => text_cell(file, row, column, s),
        (_, other) => Err(FileError::at(file, row, name, format!("{other} is not {}", what(kind)))),
    }
}

fn what(kind: SqlType) -> &'static str {
    match kind {
        SqlType::Timestamptz => "a time",
        SqlType::Text => "text",
        SqlType::Int4 | SqlType::Int8 => "a whole number",
        SqlType::Bool => "true or false",
        SqlType::Jsonb => "a JSON object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_checked_and_normalised() {
        assert_eq!(text_cell("f", 1, 0, "2024-03-01T12:00:00+02:00").unwrap().unwrap(), "2024-03-01T10:00:00.000000Z");
        assert_eq!(text_cell("f", 1, 0, "yesterday").unwrap_err().field.as_deref(), Some("ts"));
        assert_eq!(text_cell("f", 4, 2, "12x").unwrap_err().row, Some(4));
        assert_eq!(text_cell("f", 1, 25, "[1]").unwrap_err().field.as_deref(), Some("props"));
        assert_eq!(json_cell("f", 1, 2, serde_json::json!(7)).unwrap().unwrap(), "7");
        assert!(json_cell("f", 1, 1, serde_json::json!(7)).is_err(), "a name is text");
        assert!(json_cell("f", 1, 25, serde_json::json!("{}")).is_err(), "props are an object, not a string");
    }

    #[test]
    fn headers_must_name_columns_of_the_event() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let required = ["ts", "name", "visitor_id", "session_id", "hostname", "pathname"];
        assert!(column_order("f", &names(&required)).is_ok());
        assert_eq!(column_order("f", &names(&["ts", "name"])).unwrap_err().field.as_deref(), Some("visitor_id"));
        let mut typo = names(&required);
        typo.push("utm_sorce".into());
        assert_eq!(column_order("f", &typo).unwrap_err().field.as_deref(), Some("utm_sorce"));
        assert_eq!(Format::of("a/b.JSONL"), Some(Format::Ndjson));
    }

    #[test]
    fn a_record_without_a_channel_gets_its_sources() {
        let at = |name: &str| COLUMNS.iter().position(|(c, _)| *c == name).unwrap();
        let record = |pairs: &[(&str, &str)]| {
            let mut cells: Vec<Option<String>> = vec![None; COLUMNS.len()];
            for (name, value) in pairs {
                cells[at(name)] = Some(value.to_string());
            }
            with_channel(&mut cells);
            let device = COLUMNS.iter().position(|(c, _)| *c == "device").expect("an event column");
            if let Some(class) = cells[device].as_mut() {
                *class = device_class(class);
            }
            cells[at("channel")].clone()
        };
        assert_eq!(record(&[]).as_deref(), Some("Direct"));
        assert_eq!(record(&[("referrer_source", "Google")]).as_deref(), Some("Organic Search"));
        assert_eq!(record(&[("referrer_source", "fb-ads"), ("utm_source", "fb-ads")]).as_deref(), Some("Paid Social"));
        assert_eq!(record(&[("referrer_source", "Google"), ("channel", "Paid Search")]).as_deref(), Some("Paid Search"), "kept");
    }
}
