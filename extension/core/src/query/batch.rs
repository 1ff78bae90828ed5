//! The rows a kernel works on: only the columns the plan needs, strings as query-wide
//! codes, rows grouped by visit and sorted by time within each visit.

use std::ops::Range;

use crate::codec::dict::NULL_CODE;
use crate::segment::{Column, IntColumn, SegmentError, SegmentReader};

use super::intern::Interner;
use super::plan::{Plan, Source};

#[derive(Debug, Default, Clone)]
pub(crate) struct Batch {
    pub ts: Vec<i64>,
    pub visitor: Vec<i64>,
    pub session: Vec<i64>,
    /// One code array per [`Plan::sources`] entry.
    pub codes: Vec<Vec<u32>>,
    /// Revenue in micros, 0 where NULL; empty unless the plan needs revenue.
    pub revenue: Vec<i64>,
    pub has_revenue: Vec<bool>,
    /// Rows of each visit, in row order.
    pub session_rows: Vec<u32>,
}

fn ints(reader: &SegmentReader<'_>, name: &str) -> Result<IntColumn, SegmentError> {
    match reader.column(name)? {
        Column::Int(c) => Ok(c),
        _ => Err(SegmentError::BadColumn { column: "query", reason: "expected an integer column" }),
    }
}

impl Batch {
    /// An empty batch shaped for `plan` (the spill of visits seen in several batches).
    pub fn empty(plan: &Plan) -> Batch {
        Batch { codes: vec![Vec::new(); plan.sources.len()], ..Batch::default() }
    }

    /// Decodes the columns `plan` needs from a segment; strings are translated into the
    /// query's code spaces (`interners`, one per source).
    pub fn decode(reader: &SegmentReader<'_>, plan: &Plan, interners: &mut [Interner]) -> Result<Batch, SegmentError> {
        let mut codes = Vec::with_capacity(plan.sources.len());
        let mut props = None;
        for (source, interner) in plan.sources.iter().zip(interners.iter_mut()) {
            codes.push(match source {
                Source::Column(name) => match reader.column(name)? {
                    Column::Str(dict) => interner.translate(&dict),
                    _ => return Err(SegmentError::BadColumn { column: "query", reason: "expected a string column" }),
                },
                Source::Prop(key) => {
                    if props.is_none() {
                        props = Some(match reader.column("props")? {
                            Column::Props(p) => p,
                            _ => return Err(SegmentError::BadColumn { column: "props", reason: "expected properties" }),
                        });
                    }
                    let props = props.as_ref().expect("decoded above");
                    let values = interner.translation(&props.values);
                    let mut out = vec![NULL_CODE; reader.rows()];
                    if let Some(key) = props.keys.code_of(key) {
                        for (row, slot) in out.iter_mut().enumerate() {
                            let (start, end) = (props.offsets[row] as usize, props.offsets[row + 1] as usize);
                            if let Some(pair) = (start..end).find(|&i| props.keys.codes[i] == key) {
                                *slot = values[props.values.codes[pair] as usize];
                            }
                        }
                    }
                    out
                }
            });
        }
        let (revenue, has_revenue) = if plan.revenue {
            let column = ints(reader, "revenue_micros")?;
            let present = column.validity.unwrap_or_else(|| vec![true; column.values.len()]);
            (column.values, present)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Batch {
            ts: ints(reader, "ts")?.values,
            visitor: ints(reader, "visitor_id")?.values,
            session: ints(reader, "session_id")?.values,
            codes,
            revenue,
            has_revenue,
            session_rows: reader.session_rows().to_vec(),
        })
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Keeps only rows with `from <= ts < to`, dropping visits left empty.
    pub fn restrict(&mut self, from: i64, to: i64) {
        if self.ts.iter().all(|&t| t >= from && t < to) {
            return;
        }
        let keep: Vec<bool> = self.ts.iter().map(|&t| t >= from && t < to).collect();
        let mut sessions = Vec::with_capacity(self.session_rows.len());
        let mut row = 0usize;
        for &n in &self.session_rows {
            let kept = keep[row..row + n as usize].iter().filter(|&&k| k).count() as u32;
            if kept > 0 {
                sessions.push(kept);
            }
            row += n as usize;
        }
        self.session_rows = sessions;
        retain(&mut self.ts, &keep);
        retain(&mut self.visitor, &keep);
        retain(&mut self.session, &keep);
        retain(&mut self.revenue, &keep);
        retain(&mut self.has_revenue, &keep);
        for codes in &mut self.codes {
            retain(codes, &keep);
        }
    }

    /// Appends rows `rows` of `other` (whole visits; the structure is rebuilt by
    /// [`Batch::sort_visits`]).
    pub fn append(&mut self, other: &Batch, rows: Range<usize>) {
        self.ts.extend_from_slice(&other.ts[rows.clone()]);
        self.visitor.extend_from_slice(&other.visitor[rows.clone()]);
        self.session.extend_from_slice(&other.session[rows.clone()]);
        if !other.revenue.is_empty() {
            self.revenue.extend_from_slice(&other.revenue[rows.clone()]);
            self.has_revenue.extend_from_slice(&other.has_revenue[rows.clone()]);
        }
        for (mine, theirs) in self.codes.iter_mut().zip(&other.codes) {
            mine.extend_from_slice(&theirs[rows.clone()]);
        }
    }

    /// Rewrites the codes of source `source` through `table` (old code → new code).
    pub fn recode(&mut self, source: usize, table: &[u32]) {
        for code in &mut self.codes[source] {
            *code = table[*code as usize];
        }
    }

    /// Sorts rows by (visitor, visit, ts) and rebuilds the visit structure, so parts of
    /// one visit that came from different batches become one visit.
    pub fn sort_visits(&mut self) {
        let mut order: Vec<u32> = (0..self.rows() as u32).collect();
        order.sort_unstable_by_key(|&i| (self.visitor[i as usize], self.session[i as usize], self.ts[i as usize], i));
        permute(&mut self.ts, &order);
        permute(&mut self.visitor, &order);
        permute(&mut self.session, &order);
        permute(&mut self.revenue, &order);
        permute(&mut self.has_revenue, &order);
        for codes in &mut self.codes {
            permute(codes, &order);
        }
        self.session_rows.clear();
        for row in 0..self.rows() {
            let same = row > 0 && self.visitor[row] == self.visitor[row - 1] && self.session[row] == self.session[row - 1];
            match self.session_rows.last_mut() {
                Some(n) if same => *n += 1,
                _ => self.session_rows.push(1),
            }
        }
    }
}

/// Reorders `values` (if not empty) to `order`.
fn permute<T: Copy>(values: &mut Vec<T>, order: &[u32]) {
    if !values.is_empty() {
        *values = order.iter().map(|&i| values[i as usize]).collect();
    }
}

fn retain<T: Copy>(values: &mut Vec<T>, keep: &[bool]) {
    if values.is_empty() {
        return;
    }
    let mut k = keep.iter();
    values.retain(|_| *k.next().unwrap_or(&false));
}
