//! Raising sketch errors as SQL errors with a hint.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use tally_core::sketch::ddsketch::DDSketchError;
use tally_core::sketch::hll::HllError;

/// A sketch error that knows its SQLSTATE and a hint on what to do about it.
pub trait SqlError: std::fmt::Display {
    fn code_and_hint(&self) -> (PgSqlErrorCode, &'static str);
}

impl SqlError for HllError {
    fn code_and_hint(&self) -> (PgSqlErrorCode, &'static str) {
        match self {
            HllError::Log2m { .. }
            | HllError::Regwidth(_)
            | HllError::Expthresh { .. }
            | HllError::Sparseon(_)
            | HllError::ModifierRegwidth(_) => (
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "hll parameters are (log2m 0..17, regwidth 1..7, expthresh -1, 0 or a power of 2 up to 16383, sparseon 0 or 1); the defaults are (11, 5, -1, 1).",
            ),
            HllError::Modifiers(_) | HllError::ModifierNotInteger(_) => (
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "Declare a column as hll or hll(log2m[, regwidth[, expthresh[, sparseon]]]) with integers, e.g. hll(11, 5, -1, 1).",
            ),
            HllError::Declared { .. } => (
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                "A column declared hll(...) holds only values with those parameters; build the value with them (hll_empty, hll_add_agg) or change the column type.",
            ),
            HllError::Mismatch { .. } => (
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                "Only hll values built with the same parameters can be unioned; rebuild one side with the other's parameters.",
            ),
            HllError::TooFewRegisters(_) => (PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "Build the hll with log2m of at least 4."),
            _ => (
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                "An hll value is postgresql-hll's storage format, e.g. '\\x118b7f' for an empty set; build it with the hll functions, not by hand.",
            ),
        }
    }
}

impl SqlError for DDSketchError {
    fn code_and_hint(&self) -> (PgSqlErrorCode, &'static str) {
        (
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            "A ddsketch value is written by tally.ddsketch_agg; build it with the ddsketch functions, not by hand.",
        )
    }
}

/// Raises `err` as an ERROR with its hint.
pub fn raise(err: &impl SqlError) -> ! {
    let (code, hint) = err.code_and_hint();
    ErrorReport::new(code, err.to_string(), "tally sketch").set_hint(hint).report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Raises an ERROR about a bad argument of the settings functions, with `hint`.
pub fn invalid_argument(message: String, hint: &'static str) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message, "tally sketch").set_hint(hint).report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Unwraps a sketch result or raises its error.
pub fn or_raise<T, E: SqlError>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| raise(&e))
}
