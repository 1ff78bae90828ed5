//! The rows a kernel works on: only the columns the plan needs, strings as query-wide
//! codes, rows grouped by visit and sorted by time within each visit.

use std::ops::Range;

use crate::codec::dict::NULL_CODE;
use crate::interrupt::{Cancelled, Interrupt};
use crate::segment::{Column, SegmentError, SegmentReader};

use super::intern::Interner;
use super::kernel::Currency;
use super::plan::{Plan, Source};

#[derive(Debug, Default, Clone)]
pub(crate) struct Batch {
    pub ts: Vec<i64>,
    /// Visitor and session id of each visit (kernels never need them per row).
    pub visitor: Vec<i64>,
    pub session: Vec<i64>,
    /// One code array per [`Plan::sources`] entry.
    pub codes: Vec<Vec<u32>>,
    /// Per source: whether its codes are constant within each visit (stored per visit
    /// or visitor), so a visit-level operand can use them as they are.
    pub constant_in_visits: Vec<bool>,
    /// Revenue in micros, 0 where NULL; empty unless the plan needs revenue.
    pub revenue: Vec<i64>,
    pub has_revenue: Vec<bool>,
    /// The ISO 4217 code of each row's revenue, zeros where NULL; empty unless the plan
    /// needs revenue. Bytes rather than query codes, so sums of different scans merge
    /// without translating them.
    pub currency: Vec<Currency>,
    /// Engaged milliseconds (`engagement_ms`), 0 where NULL; empty unless the plan
    /// needs time on page.
    pub engagement: Vec<i64>,
    /// Scroll depth in percent (`scroll_depth`), -1 where NULL; empty unless the plan
    /// needs scroll depth.
    pub scroll: Vec<i16>,
    /// Rows sent with `interactive: false` (they never end a bounce); empty unless the
    /// plan counts bounces.
    pub non_interactive: Vec<bool>,
    /// Rows of each visit, in row order.
    pub session_rows: Vec<u32>,
}

/// The integer column `name` with one value per visit.
fn visit_ints(reader: &SegmentReader<'_>, name: &str) -> Result<Vec<i64>, SegmentError> {
    let mut stored = reader.stored_column(name)?;
    let values = match &mut stored.units {
        Column::Int(c) => std::mem::take(&mut c.values),
        _ => return Err(SegmentError::BadColumn { column: "query", reason: "expected an integer column" }),
    };
    Ok(stored.to_visits(values)?)
}

/// Why [`Batch::decode`] returned no batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Undecoded {
    #[error(transparent)]
    Corrupt(#[from] SegmentError),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl Batch {
    /// An empty batch shaped for `plan` (the spill of visits seen in several batches).
    pub fn empty(plan: &Plan) -> Batch {
        Batch { codes: vec![Vec::new(); plan.sources.len()], constant_in_visits: vec![false; plan.sources.len()], ..Batch::default() }
    }

    /// Decodes the columns `plan` needs from a segment; strings are translated into the
    /// query's code spaces (`interners`, one per source). `check` is called before each
    /// column: a segment holds up to [`crate::segment::MAX_ROWS`] rows, too many to
    /// decode without asking whether to go on.
    pub fn decode(reader: &SegmentReader<'_>, plan: &Plan, interners: &mut [Interner], check: Interrupt<'_>) -> Result<Batch, Undecoded> {
        let mut codes = Vec::with_capacity(plan.sources.len());
        let mut constant_in_visits = Vec::with_capacity(plan.sources.len());
        let mut props = None;
        for (source, interner) in plan.sources.iter().zip(interners.iter_mut()) {
            check()?;
            constant_in_visits.push(false);
            codes.push(match source {
                // Translated once per stored unit (a visit's referrer once, not per event).
                Source::Column(name) => {
                    let stored = reader.stored_column(name)?;
                    let Column::Str(dict) = &stored.units else {
                        return Err(SegmentError::BadColumn { column: "query", reason: "expected a string column" }.into());
                    };
                    *constant_in_visits.last_mut().expect("pushed above") = stored.per_visit_or_coarser();
                    stored.to_rows(interner.translate(dict)).map_err(SegmentError::from)?
                }
                Source::Prop(key) => {
                    if props.is_none() {
                        props = Some(match reader.column("props")? {
                            Column::Props(p) => p,
                            _ => return Err(SegmentError::BadColumn { column: "props", reason: "expected properties" }.into()),
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
        check()?;
        let (revenue, has_revenue) = if plan.revenue {
            let column = reader.int_column("revenue_micros")?;
            let present = column.validity.unwrap_or_else(|| vec![true; column.values.len()]);
            (column.values, present)
        } else {
            (Vec::new(), Vec::new())
        };
        let ts = reader.int_column("ts")?.values;
        check()?;
        let currency = if plan.revenue {
            match reader.column("revenue_currency")? {
                Column::Str(column) => column.codes.iter().map(|&code| Currency::of(column.resolve(code))).collect(),
                _ => return Err(SegmentError::BadColumn { column: "revenue_currency", reason: "expected a string column" }.into()),
            }
        } else {
            Vec::new()
        };
        let engagement = if plan.engagement {
            let column = reader.int_column("engagement_ms")?;
            match column.validity {
                Some(present) => column.values.iter().zip(present).map(|(&ms, p)| if p { ms } else { 0 }).collect(),
                None => column.values,
            }
        } else {
            Vec::new()
        };
        let scroll = if plan.scroll {
            let column = reader.int_column("scroll_depth")?;
            (0..column.values.len()).map(|row| column.get(row).map_or(-1, |depth| depth.clamp(0, 100) as i16)).collect()
        } else {
            Vec::new()
        };
        let non_interactive = if plan.visit_figures {
            let column = reader.int_column("interactive")?;
            (0..column.values.len()).map(|row| column.get(row) == Some(0)).collect()
        } else {
            Vec::new()
        };
        Ok(Batch {
            ts,
            visitor: visit_ints(reader, "visitor_id")?,
            session: visit_ints(reader, "session_id")?,
            codes,
            constant_in_visits,
            revenue,
            has_revenue,
            currency,
            engagement,
            scroll,
            non_interactive,
            session_rows: reader.session_rows().to_vec(),
        })
    }

    pub fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Rows of each visit, with the visit's index.
    pub fn visits(&self) -> impl Iterator<Item = (usize, Range<usize>)> + '_ {
        let mut row = 0usize;
        self.session_rows.iter().enumerate().map(move |(visit, &n)| {
            let rows = row..row + n as usize;
            row = rows.end;
            (visit, rows)
        })
    }

    /// Keeps only rows with `from <= ts < to`, dropping visits left empty.
    pub fn restrict(&mut self, from: i64, to: i64) {
        if self.ts.iter().all(|&t| t >= from && t < to) {
            return;
        }
        let keep: Vec<bool> = self.ts.iter().map(|&t| t >= from && t < to).collect();
        let mut kept_visits = Vec::with_capacity(self.session_rows.len());
        let mut sessions = Vec::with_capacity(self.session_rows.len());
        for (_, rows) in self.visits() {
            let kept = keep[rows].iter().filter(|&&k| k).count() as u32;
            kept_visits.push(kept > 0);
            if kept > 0 {
                sessions.push(kept);
            }
        }
        self.session_rows = sessions;
        retain(&mut self.visitor, &kept_visits);
        retain(&mut self.session, &kept_visits);
        retain(&mut self.ts, &keep);
        retain(&mut self.revenue, &keep);
        retain(&mut self.has_revenue, &keep);
        retain(&mut self.currency, &keep);
        retain(&mut self.engagement, &keep);
        retain(&mut self.scroll, &keep);
        retain(&mut self.non_interactive, &keep);
        for codes in &mut self.codes {
            retain(codes, &keep);
        }
    }

    /// Appends the visit `visit` of `other`, whose rows are `rows` (the parts of one
    /// visit from several batches are joined by [`Batch::sort_visits`]).
    pub fn append(&mut self, other: &Batch, visit: usize, rows: Range<usize>) {
        self.visitor.push(other.visitor[visit]);
        self.session.push(other.session[visit]);
        self.session_rows.push(rows.len() as u32);
        self.ts.extend_from_slice(&other.ts[rows.clone()]);
        if !other.revenue.is_empty() {
            self.revenue.extend_from_slice(&other.revenue[rows.clone()]);
            self.has_revenue.extend_from_slice(&other.has_revenue[rows.clone()]);
            self.currency.extend_from_slice(&other.currency[rows.clone()]);
        }
        if !other.engagement.is_empty() {
            self.engagement.extend_from_slice(&other.engagement[rows.clone()]);
        }
        if !other.scroll.is_empty() {
            self.scroll.extend_from_slice(&other.scroll[rows.clone()]);
        }
        if !other.non_interactive.is_empty() {
            self.non_interactive.extend_from_slice(&other.non_interactive[rows.clone()]);
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
    /// one visit that came from different batches become one visit. Each part's rows are
    /// usually in time order, so the parts are sorted (far fewer than rows) and laid end
    /// to end; only a visit whose rows are then out of order has them sorted. Rows with
    /// equal times stay in row order, as a sort of all rows by (visit, ts, row) would leave them.
    pub fn sort_visits(&mut self) {
        let mut parts: Vec<(i64, i64, i64, u32, u32)> = self
            .visits()
            .map(|(visit, rows)| (self.visitor[visit], self.session[visit], self.ts[rows.start], rows.start as u32, rows.len() as u32))
            .collect();
        parts.sort_unstable();
        let mut order: Vec<u32> = Vec::with_capacity(self.rows());
        let (mut visitor, mut session, mut session_rows) = (Vec::new(), Vec::new(), Vec::new());
        let at = |row: u32| (self.ts[row as usize], row);
        for visit in parts.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let begin = order.len();
            for &(_, _, _, start, len) in visit {
                order.extend(start..start + len);
            }
            if !order[begin..].windows(2).all(|w| at(w[0]) < at(w[1])) {
                order[begin..].sort_unstable_by_key(|&row| at(row));
            }
            visitor.push(visit[0].0);
            session.push(visit[0].1);
            session_rows.push((order.len() - begin) as u32);
        }
        (self.visitor, self.session, self.session_rows) = (visitor, session, session_rows);
        permute(&mut self.ts, &order);
        permute(&mut self.revenue, &order);
        permute(&mut self.has_revenue, &order);
        permute(&mut self.currency, &order);
        permute(&mut self.engagement, &order);
        permute(&mut self.scroll, &order);
        permute(&mut self.non_interactive, &order);
        for codes in &mut self.codes {
            permute(codes, &order);
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
