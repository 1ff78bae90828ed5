//! Reads a hot partition straight from its heap: each tuple is deformed once and its
//! fields appended to a column [`Batch`] (strings interned, no `Event` per row), with
//! no SQL aggregation or intermediate arrays in between. This is compaction's hot
//! loop, so it stays close to the storage layer. Hot rows of one site and time range
//! are read through SPI instead ([`hot_events`]).

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{varlena, JsonB, PgRelation};
use tally_core::copy_frames::FIRST_RELEASE_FIELDS;
use tally_core::event::{self, Event, SqlType, COLUMNS};
use tally_core::segment::{Batch, Kind};

use super::arrays::{props_from_json, to_unix_us};
use crate::spi_value::SpiValue;

/// Every row of `table` (a `tally.events_hot_N` partition), column by column.
///
/// The caller holds a lock that excludes writers, so a fresh snapshot taken here sees
/// every row the partition holds, and the TRUNCATE that follows removes nothing unseen.
pub fn scan(table: &str) -> Batch {
    // SAFETY: the caller locked the relation (EXCLUSIVE) earlier in this transaction.
    let rel = unsafe { PgRelation::open_with_name(table) }.unwrap_or_else(|e| error!("opening {table}: {e}"));
    let mut out = Batch::default();
    let check = |_: usize, _: &[bool], fault: Option<&str>| {
        if let Some(fault) = fault {
            error!("a row of {table} cannot be compacted: {fault}");
        }
    };
    read(&rel, table, usize::MAX, check, |batch, _| {
        out = batch;
        Batch::default()
    });
    out
}

/// Where a chunked scan is: the share of the table's pages read, and whether the
/// chunk is the last.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub read: f64,
    pub last: bool,
}

/// Every row of the table `oid` (named `name` in errors), whose attributes are the
/// event columns of `tally.event` in order (the caller checked their types), column by
/// column: every `rows` rows read, the batch holding them goes to `chunk`, which
/// returns the batch to push the next rows onto (empty, or rows it keeps for the next
/// chunk); the last call, with `Progress::last`, may hold fewer rows or none.
/// `check` sees each row's position (from 0), its null flags and what is wrong with a
/// value of it if anything (see [`push_row`]) once it is taken in.
/// Rows are read under an MVCC snapshot, so rows written meanwhile are not seen.
pub fn scan_chunks(
    oid: pg_sys::Oid,
    name: &str,
    rows: usize,
    check: impl FnMut(usize, &[bool], Option<&str>),
    chunk: impl FnMut(Batch, Progress) -> Batch,
) {
    // SAFETY: the relation is opened with a lock that keeps its definition in place
    // until the transaction ends.
    let rel = unsafe { PgRelation::with_lock(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    read(&rel, name, rows, check, chunk)
}

fn read(
    rel: &PgRelation,
    name: &str,
    rows: usize,
    mut check: impl FnMut(usize, &[bool], Option<&str>),
    mut chunk: impl FnMut(Batch, Progress) -> Batch,
) {
    let desc = rel.tuple_desc();
    let attrs = desc.len();
    // Attributes are found by name: in a hot table created before a column was added
    // it follows `gen`, where ALTER TABLE put it; one of an older release lacks it
    // (NULL, see `layout`).
    let positions: Vec<Option<usize>> =
        COLUMNS.iter().map(|&column| desc.iter().position(|a| !a.is_dropped() && a.name() == column)).collect();
    let present = positions.iter().take_while(|p| p.is_some()).count();
    if present < FIRST_RELEASE_FIELDS || positions[present..].iter().any(Option::is_some) {
        error!("{name} does not have the event columns: the extension's SQL and library differ");
    }
    let (mut values, mut nulls) = (vec![pg_sys::Datum::from(0usize); attrs], vec![false; attrs]);
    let (mut ordered, mut ordered_nulls) = (vec![pg_sys::Datum::from(0usize); COLUMNS.len()], vec![false; COLUMNS.len()]);
    let (mut batch, mut seen, mut held) = (Batch::default(), 0usize, 0usize);
    // SAFETY: reads the encoding the backend fixed when it connected.
    let utf8 = unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32;
    // SAFETY: the relation is open and locked; the scan and snapshot are released
    // before returning, and each tuple is copied into the batch before the next read.
    unsafe {
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
        // Not synchronized with other scans of the table: rows are numbered (in errors)
        // and progress measured from its first page.
        let scan = pg_sys::table_beginscan_strat(rel.as_ptr(), snapshot, 0, std::ptr::null_mut(), true, false);
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            pg_sys::heap_deform_tuple(tuple, desc.as_ptr(), values.as_mut_ptr(), nulls.as_mut_ptr());
            for (column, at) in positions.iter().enumerate() {
                (ordered[column], ordered_nulls[column]) = match *at {
                    Some(at) => (values[at], nulls[at]),
                    None => (pg_sys::Datum::from(0usize), true),
                };
            }
            let fault = push_row(&mut batch, &Deformed { values: &ordered, nulls: &ordered_nulls, utf8 }).err();
            check(seen, &ordered_nulls, fault.as_deref());
            (seen, held) = (seen + 1, held + 1);
            if held == rows {
                let heap = scan as pg_sys::HeapScanDesc;
                let read = f64::from((*heap).rs_cblock + 1) / f64::from((*heap).rs_nblocks.max(1));
                batch = chunk(std::mem::take(&mut batch), Progress { read: read.min(1.0), last: false });
                held = 0;
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
    }
    chunk(batch, Progress { read: 1.0, last: true });
}

/// Appends one row to `batch`, column by column. `Err` says which value its column's
/// type allows but an event cannot hold (an infinite `ts`, `props` that are not a JSON
/// object); the row is appended anyway, with a default in its place.
fn push_row(batch: &mut Batch, row: &impl EventColumns) -> Result<(), String> {
    let mut fault = None;
    for column in 0..COLUMNS.len() {
        match batch.kind(column) {
            Kind::Int | Kind::NullableInt => {
                let value = int_at(row, column).unwrap_or_else(|e| {
                    fault = Some(e);
                    Some(0)
                });
                batch.push_int(column, value)
            }
            // Borrowed from the tuple, copied only the first time the pass sees it.
            Kind::Str => batch.push_str(column, row.text(column)),
            Kind::Props => {
                let props = match row.is_empty_object(column) {
                    true => Ok(Vec::new()),
                    false => row.get::<JsonB>(column).map_or(Ok(Vec::new()), |JsonB(json)| props_of(json)),
                };
                batch.push_props(
                    column,
                    props.unwrap_or_else(|e| {
                        fault = Some(e);
                        Vec::new()
                    }),
                )
            }
        }
    }
    fault.map_or(Ok(()), Err)
}

/// An integer column's value, read by its SQL type (int4, timestamptz or int8).
fn int_at(row: &impl EventColumns, column: usize) -> Result<Option<i64>, String> {
    Ok(match event::sql_type(column) {
        SqlType::Int4 => row.get::<i32>(column).map(i64::from),
        SqlType::Bool => row.get::<bool>(column).map(i64::from),
        SqlType::Timestamptz => match row.get::<TimestampWithTimeZone>(column) {
            Some(ts) if ts.is_infinity() => return Err(format!("{} is infinity", COLUMNS[column])),
            Some(ts) if ts.is_neg_infinity() => return Err(format!("{} is -infinity", COLUMNS[column])),
            ts => ts.map(to_unix_us),
        },
        SqlType::Int8 => row.get::<i64>(column),
        SqlType::Text | SqlType::Jsonb => unreachable!("{} is not an integer column", COLUMNS[column]),
    })
}

/// Custom properties from their JSON object; `Err` names what else they are.
fn props_of(json: serde_json::Value) -> Result<Vec<(String, String)>, String> {
    match json {
        serde_json::Value::Object(_) => Ok(props_from_json(json)),
        other => {
            let found: String = other.to_string().chars().take(40).collect();
            Err(format!("props is not a JSON object (found {found})"))
        }
    }
}

/// One row's event columns, read by their index in `tally_core::event::COLUMNS`: a
/// deformed heap tuple here, an SPI row in `tally.query`. [`event_of`] is the one place
/// that maps columns to `Event` fields.
pub trait EventColumns {
    fn get<T: FromDatum + IntoDatum>(&self, column: usize) -> Option<T>;

    /// A text column's value, borrowed.
    fn text(&self, column: usize) -> Option<&str> {
        self.get::<&str>(column)
    }

    /// Whether a jsonb column holds `{}` (known without converting it; `false` when
    /// unsure).
    fn is_empty_object(&self, _column: usize) -> bool {
        false
    }
}

/// A deformed tuple's event columns, in COLUMNS order.
struct Deformed<'a> {
    values: &'a [pg_sys::Datum],
    nulls: &'a [bool],
    /// The database encoding is UTF-8: Postgres checked every text value on input.
    utf8: bool,
}

impl Deformed<'_> {
    /// The bytes of a varlena column stored inline and uncompressed (as short text
    /// is), read in place: `None` for NULL or a value that needs detoasting. pgrx's
    /// `FromDatum` calls `pg_detoast_datum_packed` for every value, and each call into
    /// Postgres goes through a `sigsetjmp` guard: a sixth of the reading thread's time
    /// with 20 text columns a row.
    fn inline_bytes(&self, column: usize) -> Option<&[u8]> {
        if self.nulls[column] {
            return None;
        }
        let ptr = self.values[column].cast_mut_ptr::<pg_sys::varlena>();
        // SAFETY: a non-NULL datum of a varlena column (text or jsonb, see `get`)
        // points at its varlena, which lives as long as the tuple it was deformed from.
        unsafe {
            let plain = varlena::varatt_is_4b_u(ptr) || (varlena::varatt_is_1b(ptr) && !varlena::varatt_is_1b_e(ptr));
            plain.then(|| varlena::varlena_to_byte_slice(ptr))
        }
    }
}

impl EventColumns for Deformed<'_> {
    fn get<T: FromDatum + IntoDatum>(&self, column: usize) -> Option<T> {
        // SAFETY: the datums come from heap_deform_tuple of the relation whose
        // descriptor has these column types (a hot partition, checked by attribute
        // count in `read`, or a staging table whose types the importer checked).
        unsafe { T::from_datum(self.values[column], self.nulls[column]) }
    }

    fn text(&self, column: usize) -> Option<&str> {
        match self.inline_bytes(column) {
            // SAFETY: text Postgres took in under a UTF-8 database encoding is UTF-8.
            Some(bytes) if self.utf8 => Some(unsafe { std::str::from_utf8_unchecked(bytes) }),
            _ => self.get::<&str>(column),
        }
    }

    fn is_empty_object(&self, column: usize) -> bool {
        // A jsonb value starts with its root container's header: the count of its
        // pairs and the object flag (`JsonbContainer` in utils/jsonb.h).
        const JB_FOBJECT: u32 = 0x2000_0000;
        self.inline_bytes(column).and_then(|bytes| bytes.first_chunk::<4>()).is_some_and(|header| u32::from_ne_bytes(*header) == JB_FOBJECT)
    }
}

/// Builds the event of one row.
pub fn event_of(row: &impl EventColumns) -> Event {
    let text = |i: usize| row.get::<String>(i);
    Event {
        site_id: row.get(0).unwrap_or_default(),
        ts: row.get::<TimestampWithTimeZone>(1).map(to_unix_us).unwrap_or_default(),
        name: text(2).unwrap_or_default(),
        visitor_id: row.get(3).unwrap_or_default(),
        session_id: row.get(4).unwrap_or_default(),
        hostname: text(5).unwrap_or_default(),
        pathname: text(6).unwrap_or_default(),
        referrer: text(7),
        referrer_source: text(8),
        utm_source: text(9),
        utm_medium: text(10),
        utm_campaign: text(11),
        utm_term: text(12),
        utm_content: text(13),
        country: text(14),
        region: text(15),
        city: text(16),
        browser: text(17),
        browser_version: text(18),
        os: text(19),
        os_version: text(20),
        device: text(21),
        screen_width: row.get(22),
        engagement_ms: row.get(23),
        revenue_micros: row.get(24),
        revenue_currency: text(25),
        props: row.get::<JsonB>(26).map(|JsonB(json)| props_from_json(json)).unwrap_or_default(),
        scroll_depth: row.get(27),
        interactive: row.get(28),
        channel: text(29),
    }
}

/// An SPI row whose columns are COLUMNS in order (SPI numbers them from 1).
struct SpiRow<'a>(pgrx::spi::SpiHeapTupleData<'a>);

impl EventColumns for SpiRow<'_> {
    fn get<T: FromDatum + IntoDatum>(&self, column: usize) -> Option<T> {
        self.0.value(column + 1)
    }
}

/// The hot rows of one site in [from, to), read through SPI (any partition, not
/// locked), for `tally.query` and rollups. Few (seconds of traffic), so they are
/// read as whole events.
pub fn hot_events(client: &SpiClient<'_>, site_id: i32, from: TimestampWithTimeZone, to: TimestampWithTimeZone) -> Vec<Event> {
    client
        .select(
            &format!("SELECT {} FROM tally.events_hot WHERE site_id = $1 AND ts >= $2 AND ts < $3", super::layout::hot_select_list()),
            None,
            &[site_id.into(), from.into(), to.into()],
        )
        .unwrap_or_else(|e| error!("reading hot rows of site {site_id}: {e}"))
        .map(|row| event_of(&SpiRow(row)))
        .collect()
}
