//! Plausible's CSV export: a zip of `imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv` files
//! (`imported_` may be left out, as Plausible's importer allows), one per imported
//! table, each with a header naming its columns ([`super::aggregate::TABLES`]). The
//! dates in the name bound the rows' dates and make the import's range. A single such
//! CSV file is read the same way.

use std::io::{Cursor, Read};

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::aggregate::{self, cell, Import, Kind, Rows, Table};
use super::FileError;

/// The largest CSV inside a zip that is read, uncompressed: a bound on what a small zip
/// may expand to in memory.
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// Reads Plausible's export `bytes`, named `file` (a `.zip`, or one `.csv`).
pub fn read(file: &str, bytes: &[u8]) -> Result<Import, FileError> {
    let mut tables = Vec::new();
    let mut range: Option<(NaiveDate, NaiveDate)> = None;
    let mut add = |name: &str, text: &[u8]| -> Result<(), FileError> {
        let (table, first, last) = parse_name(name).ok_or_else(|| {
            FileError::file(name, "not a file of Plausible's export: expected imported_<table>_<YYYYMMDD>_<YYYYMMDD>.csv")
        })?;
        if tables.iter().any(|r: &Rows| r.table.name == table.name) {
            return Err(FileError::file(name, format!("a second file of table {}", table.name)));
        }
        tables.push(read_csv(name, table, (first, last), text)?);
        range = Some(range.map_or((first, last), |(f, l)| (f.min(first), l.max(last))));
        Ok(())
    };
    if file.to_ascii_lowercase().ends_with(".csv") {
        add(base_name(file), bytes)?;
    } else {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| FileError::file(file, format!("not a zip file: {e}")))?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| FileError::file(file, format!("damaged zip file: {e}")))?;
            if entry.is_dir() {
                continue;
            }
            let name = base_name(entry.name()).to_owned();
            if entry.size() > MAX_ENTRY_BYTES {
                return Err(FileError::file(&name, format!("larger than {MAX_ENTRY_BYTES} bytes uncompressed")));
            }
            let mut text = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut text).map_err(|e| FileError::file(&name, format!("cannot be read from the zip file: {e}")))?;
            add(&name, &text)?;
        }
    }
    let (first, last) = range.ok_or_else(|| FileError::file(file, "no imported_*.csv file in it"))?;
    Ok(Import { source: "plausible_csv", file: base_name(file).to_owned(), first, last, tables })
}

/// Whether `name` is one file of Plausible's export (`imported_pages_<dates>.csv`).
pub fn is_table_file(name: &str) -> bool {
    parse_name(base_name(name)).is_some()
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `imported_pages_20240101_20240131.csv` → the pages table, 2024-01-01, 2024-01-31.
fn parse_name(name: &str) -> Option<(&'static Table, NaiveDate, NaiveDate)> {
    let stem = name.strip_suffix(".csv")?;
    let stem = stem.strip_prefix("imported_").unwrap_or(stem);
    let (rest, last) = stem.rsplit_once('_')?;
    let (table, first) = rest.rsplit_once('_')?;
    let day = |s: &str| if s.len() == 8 { NaiveDate::parse_from_str(s, "%Y%m%d").ok() } else { None };
    let (first, last) = (day(first)?, day(last)?);
    (first <= last).then_some(())?;
    Some((aggregate::table(table)?, first, last))
}

/// The rows of one table's CSV `text` (named `file`), each checked: a column of the
/// table missing from the header, a value that is not of its column's kind or a date
/// outside the file's `range` is an error naming the row and field.
fn read_csv(file: &str, table: &'static Table, range: (NaiveDate, NaiveDate), text: &[u8]) -> Result<Rows, FileError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text);
    let headers = reader.headers().map_err(|e| FileError::file(file, format!("no CSV header: {e}")))?.clone();
    let position = |name: &str| headers.iter().position(|h| h.trim() == name);
    let date_at = position("date").ok_or_else(|| FileError::column(file, "date", "the header has no date column"))?;
    let mut columns: Vec<(&str, Kind, Option<usize>)> = Vec::with_capacity(table.columns.len());
    for &(name, kind) in table.columns {
        let at = position(name);
        if at.is_none() && kind != Kind::OptionalCount {
            return Err(FileError::column(
                file,
                name,
                format!("the header has no {name} column (a {} export has {})", table.name, names(table)),
            ));
        }
        columns.push((name, kind, at));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i as u64 + 1;
        let record =
            record.map_err(|e| FileError { file: file.to_owned(), row: Some(row), field: None, message: format!("not CSV: {e}") })?;
        let day_text = record.get(date_at).unwrap_or_default();
        let day = aggregate::date(day_text.trim())
            .ok_or_else(|| FileError::at(file, row, "date", format!("{day_text:?} is not a date (YYYY-MM-DD)")))?;
        if day < range.0 || day > range.1 {
            return Err(FileError::at(file, row, "date", format!("{day} is outside the file's dates ({} to {})", range.0, range.1)));
        }
        let mut object = Map::new();
        object.insert("date".into(), Value::String(day.to_string()));
        for &(name, kind, at) in &columns {
            let value = match at {
                Some(at) => cell(file, row, name, kind, record.get(at).unwrap_or_default())?,
                None => Value::Null,
            };
            object.insert(name.into(), value);
        }
        rows.push(object);
    }
    Ok(Rows { table, rows })
}

fn names(table: &Table) -> String {
    std::iter::once("date").chain(table.columns.iter().map(|c| c.0)).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_the_table_and_the_days() {
        let (t, f, l) = parse_name("imported_entry_pages_20240101_20240131.csv").unwrap();
        assert_eq!((t.name, f.to_string(), l.to_string()), ("entry_pages", "2024-01-01".into(), "2024-01-31".into()));
        assert_eq!(parse_name("operating_systems_20240101_20240131.csv").unwrap().0.name, "operating_systems");
        assert!(parse_name("imported_widgets_20240101_20240131.csv").is_none());
        assert!(parse_name("imported_pages_20240131_20240101.csv").is_none());
        assert!(parse_name("imported_pages.csv").is_none());
    }

    #[test]
    fn a_bad_value_names_file_row_and_field() {
        let text =
            b"date,device,visitors,visits,visit_duration,bounces,pageviews\n2024-01-02,Desktop,3,4,50,1,9\n2024-01-03,Mobile,x,4,50,1,9\n";
        let e = read("imported_devices_20240101_20240131.csv", text).unwrap_err();
        assert_eq!((e.file.as_str(), e.row, e.field.as_deref()), ("imported_devices_20240101_20240131.csv", Some(2), Some("visitors")));
        let late = b"date,device,visitors,visits,visit_duration,bounces,pageviews\n2024-02-02,Desktop,3,4,50,1,9\n";
        assert_eq!(read("imported_devices_20240101_20240131.csv", late).unwrap_err().field.as_deref(), Some("date"));
        let short = b"date,device,visitors\n";
        assert_eq!(read("imported_devices_20240101_20240131.csv", short).unwrap_err().field.as_deref(), Some("visits"));
    }
}
