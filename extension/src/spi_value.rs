//! Column values of SPI rows, converted where SPI frees them.
//!
//! pgrx's `SpiHeapTupleData::get` converts a value in the *parent* of the current memory
//! context, meaning the caller's context. Inside an atomic SPI connection (every Tally
//! function: `SPI_connect` in a function called by a query) the current context is
//! SPI's procedure context, and its parent is `TopTransactionContext`: every detoasted
//! segment read that way stayed allocated until the transaction ended. A 30-day
//! `tally.query` on a 3M-event site left its 36 MB of segments behind per call, and
//! `tally.evaluate_alerts`, many scans in one statement, grew a backend to gigabytes.
//!
//! [`SpiValue::value`] takes the raw datum (no allocation) and converts it in the current
//! context, the SPI procedure's: `SPI_finish` frees it. A reader that wants its memory
//! back before the caller's SPI connection ends opens a connection of its own
//! (`Spi::connect` nests), as `query::scan` and `rollup::recompute` do.

use pgrx::prelude::*;
use pgrx::spi::{SpiHeapTupleData, SpiTupleTable};
use pgrx::AnyElement;

pub trait SpiValue {
    /// Column `ordinal` (1-based) as `T`, or `None` for NULL. Memory it points to (a
    /// detoasted `&[u8]` or `&str`) lives until the current SPI connection ends. A bad
    /// ordinal or a type that does not match the column is an ERROR (a bug in the
    /// query text next to the call), never a silent `None`.
    fn value<T: FromDatum + IntoDatum>(&self, ordinal: usize) -> Option<T>;
}

/// The same body for an iterated row and for a positioned table (`.first()`): pgrx
/// gives both a `get` but no common trait.
macro_rules! spi_value {
    ($($row:ty),*) => {$(
        impl SpiValue for $row {
            fn value<T: FromDatum + IntoDatum>(&self, ordinal: usize) -> Option<T> {
                // Any type is binary-coercible to anyelement, and an AnyElement only records
                // the datum and its type: pgrx's conversion in the parent context allocates
                // nothing.
                let raw: AnyElement = self.get(ordinal).unwrap_or_else(|e| error!("SPI column {ordinal}: {e}"))?;
                // SAFETY: the datum and its type come from the same tuple; not NULL (checked above).
                unsafe { T::try_from_datum(raw.datum(), false, raw.oid()) }
                    .unwrap_or_else(|e| error!("SPI column {ordinal}: {e}"))
            }
        }
    )*};
}

spi_value!(SpiHeapTupleData<'_>, SpiTupleTable<'_>);
