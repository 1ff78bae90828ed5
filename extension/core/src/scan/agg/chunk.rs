//! One chunk of a segment's selected rows, and the per-row loops over it.
//!
//! Every value a loop reads is first gathered into a slice indexed by the row's
//! position in the chunk: for a segment whose every row is selected that slice is
//! the decoded column itself, borrowed, so the common full-scan case copies nothing
//! and the loops index plain slices (which the compiler unrolls and vectorises).

use std::borrow::Cow;

use crate::codec::dict::NULL_CODE;
use crate::segment::{Column, IntColumn};

use super::spec::Func;
use crate::scan::Selection;

/// Rows aggregated between two interrupt checks (a millisecond or so).
pub(super) const CHUNK: usize = 1 << 16;

/// The rows of one chunk: every row of a range (no list written), or listed rows.
#[derive(Debug, Clone, Copy)]
pub(super) enum Chunk<'a> {
    Range(usize, usize),
    List(&'a [u32]),
}

impl<'a> Chunk<'a> {
    /// The chunks of `rows`, in order.
    pub fn all(rows: &'a Selection) -> Vec<Chunk<'a>> {
        match rows {
            Selection::Every(n) => (0..*n).step_by(CHUNK).map(|start| Chunk::Range(start, (start + CHUNK).min(*n))).collect(),
            Selection::Rows(list) => list.chunks(CHUNK).map(Chunk::List).collect(),
        }
    }

    pub fn len(self) -> usize {
        match self {
            Chunk::Range(start, end) => end - start,
            Chunk::List(rows) => rows.len(),
        }
    }

    /// `values` (one per row of the segment) at the chunk's rows, by position.
    pub fn gather<'v, T: Copy>(self, values: &'v [T]) -> Cow<'v, [T]> {
        match self {
            Chunk::Range(start, end) => Cow::Borrowed(&values[start..end]),
            Chunk::List(rows) => Cow::Owned(rows.iter().map(|&r| values[r as usize]).collect()),
        }
    }
}

/// The column an aggregate reads, gathered for a chunk.
pub(super) enum Source<'d> {
    /// Nothing read (`count(*)`, a constant's sum).
    None,
    /// A string column's codes in the segment's dictionary.
    Str(Cow<'d, [u32]>),
    Int {
        values: Cow<'d, [i64]>,
        validity: Option<Cow<'d, [bool]>>,
    },
}

impl<'d> Source<'d> {
    pub fn of(column: Option<&'d Column>, chunk: Chunk<'_>) -> Source<'d> {
        match column {
            None => Source::None,
            Some(Column::Str(dict)) => Source::Str(chunk.gather(&dict.codes)),
            Some(Column::Int(IntColumn { values, validity })) => {
                Source::Int { values: chunk.gather(values), validity: validity.as_deref().map(|v| chunk.gather(v)) }
            }
            Some(Column::Props(_)) => unreachable!("functions read scalar columns"),
        }
    }

    /// Whether row `i` of a gathered integer column holds a value.
    #[inline(always)]
    pub fn valid(validity: &Option<Cow<'_, [bool]>>, i: usize) -> bool {
        validity.as_ref().is_none_or(|v| v[i])
    }
}

/// Whether row `i` passes its function's filter (`None`: every row does).
#[inline(always)]
pub(super) fn passes(pass: Option<&[bool]>, i: usize) -> bool {
    pass.is_none_or(|p| p[i])
}

/// Adds each row's figures of the counting function `func` (a count or a sum) to its
/// slot (`slots[i]`, a group or a combination of key codes): to `counts` the rows
/// counted or the values summed, to `sums` a sum's total. A row failing `pass` adds a
/// 0 to a sum that counts one ([`Func::zero_otherwise`]).
pub(super) fn figures(func: Func, source: &Source<'_>, pass: Option<&[bool]>, slots: &[u32], counts: &mut [i64], sums: &mut [i128]) {
    let zero = func.zero_otherwise();
    match (func, source) {
        (Func::CountRows, _) => {
            for (i, &s) in slots.iter().enumerate() {
                counts[s as usize] += i64::from(passes(pass, i));
            }
        }
        (Func::Count(_), Source::Str(codes)) => {
            for (i, &s) in slots.iter().enumerate() {
                counts[s as usize] += i64::from(passes(pass, i) && codes[i] != NULL_CODE);
            }
        }
        (Func::Count(_), Source::Int { validity, .. }) => {
            for (i, &s) in slots.iter().enumerate() {
                counts[s as usize] += i64::from(passes(pass, i) && Source::valid(validity, i));
            }
        }
        (Func::Sum(_) | Func::Avg(_) | Func::SumOrZero(_), Source::Int { values, validity }) => {
            for (i, &s) in slots.iter().enumerate() {
                let s = s as usize;
                match passes(pass, i) {
                    true if Source::valid(validity, i) => {
                        sums[s] += i128::from(values[i]);
                        counts[s] += 1;
                    }
                    true => {}
                    false => counts[s] += i64::from(zero),
                }
            }
        }
        (Func::SumConst(k) | Func::SumConstOrZero(k), _) => {
            for (i, &s) in slots.iter().enumerate() {
                let s = s as usize;
                match passes(pass, i) {
                    true => {
                        sums[s] += i128::from(k);
                        counts[s] += 1;
                    }
                    false => counts[s] += i64::from(zero),
                }
            }
        }
        _ => unreachable!("counting functions read the columns their spec allows"),
    }
}

/// Whether `func` keeps its figures as counts and sums ([`figures`]), which add up
/// per slot and so can be gathered per combination of key codes first.
pub(super) fn counting(func: Func) -> bool {
    !matches!(func, Func::Min(_) | Func::Max(_) | Func::CountDistinct(_))
}
