//! The visit structure of a sorted segment: how many rows each session has and how
//! many sessions each visitor has. Columns constant within a session or visitor are
//! stored once per unit at that [`Level`] and expanded with these run lengths.

use crate::codec::{ints, rle, Cursor, DecodeError};
#[cfg(test)]
use crate::event::Event;

/// The granularity a column block stores values at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Row = 0,
    Session = 1,
    Visitor = 2,
}

impl Level {
    pub(crate) fn from_byte(byte: u8) -> Result<Self, DecodeError> {
        match byte {
            0 => Ok(Level::Row),
            1 => Ok(Level::Session),
            2 => Ok(Level::Visitor),
            _ => Err(DecodeError::Invalid("column level")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Runs {
    /// Rows of each session, in row order.
    session_rows: Vec<u32>,
    /// Sessions of each visitor, in row order.
    visitor_sessions: Vec<u32>,
    /// Rows of each visitor, derived from the two above.
    visitor_rows: Vec<u32>,
}

impl Runs {
    /// The structure of rows already sorted by (visitor_id, session_id, ts).
    #[cfg(test)]
    pub(crate) fn from_sorted(rows: &[&Event]) -> Self {
        Self::from_sorted_keys(rows.iter().map(|e| (e.visitor_id, e.session_id)))
    }

    /// The structure of rows given their (visitor_id, session_id) in sorted order.
    pub(crate) fn from_sorted_keys(keys: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut runs = Self::default();
        let mut previous: Option<(i64, i64)> = None;
        for (visitor, session) in keys {
            match previous {
                Some((v, s)) if v == visitor && s == session => {
                    *runs.session_rows.last_mut().expect("a session is open") += 1;
                    *runs.visitor_rows.last_mut().expect("a visitor is open") += 1;
                }
                Some((v, _)) if v == visitor => {
                    runs.session_rows.push(1);
                    *runs.visitor_sessions.last_mut().expect("a visitor is open") += 1;
                    *runs.visitor_rows.last_mut().expect("a visitor is open") += 1;
                }
                _ => {
                    runs.session_rows.push(1);
                    runs.visitor_sessions.push(1);
                    runs.visitor_rows.push(1);
                }
            }
            previous = Some((visitor, session));
        }
        runs
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let minus_one = |v: &[u32]| v.iter().map(|&n| i64::from(n) - 1).collect::<Vec<_>>();
        ints::encode_into(&minus_one(&self.session_rows), out);
        ints::encode_into(&minus_one(&self.visitor_sessions), out);
    }

    /// Reads what [`Runs::encode_into`] wrote for a segment of `rows` rows, checking
    /// that the runs add up so level expansion cannot produce a wrong row count.
    pub(crate) fn decode_from(cur: &mut Cursor<'_>, rows: usize) -> Result<Self, DecodeError> {
        let lengths = |cur: &mut Cursor<'_>| -> Result<Vec<u32>, DecodeError> {
            ints::decode_from(cur)?
                .into_iter()
                .map(|n| u32::try_from(n).ok().and_then(|n| n.checked_add(1)).ok_or(DecodeError::Invalid("run length")))
                .collect()
        };
        let session_rows = lengths(cur)?;
        let visitor_sessions = lengths(cur)?;
        if rle::total_len(&session_rows)? != rows {
            return Err(DecodeError::Invalid("session run total"));
        }
        if rle::total_len(&visitor_sessions)? != session_rows.len() {
            return Err(DecodeError::Invalid("visitor run total"));
        }
        let mut visitor_rows = Vec::with_capacity(visitor_sessions.len());
        let mut sessions = session_rows.iter();
        for &n in &visitor_sessions {
            // Totals were checked above, so the sum stays within MAX_VALUES.
            visitor_rows.push(sessions.by_ref().take(n as usize).sum());
        }
        Ok(Self { session_rows, visitor_sessions, visitor_rows })
    }

    /// Rows per unit at `level`; `None` at row level, where each row is its own unit.
    fn unit_rows(&self, level: Level) -> Option<&[u32]> {
        match level {
            Level::Row => None,
            Level::Session => Some(&self.session_rows),
            Level::Visitor => Some(&self.visitor_rows),
        }
    }

    /// The coarsest level at which `values` (one per row) are constant within units.
    pub(crate) fn level_of<T: PartialEq>(&self, values: &[T]) -> Level {
        [Level::Visitor, Level::Session].into_iter().find(|&level| self.constant_within(level, values)).unwrap_or(Level::Row)
    }

    fn constant_within<T: PartialEq>(&self, level: Level, values: &[T]) -> bool {
        let Some(units) = self.unit_rows(level) else {
            return true;
        };
        let mut rest = values;
        units.iter().all(|&n| {
            let (unit, tail) = rest.split_at((n as usize).min(rest.len()));
            rest = tail;
            unit.windows(2).all(|w| w[0] == w[1])
        })
    }

    /// One value per unit at `level`: the first of each unit's rows.
    pub(crate) fn at_level<T: Clone>(&self, level: Level, values: &[T]) -> Vec<T> {
        let Some(units) = self.unit_rows(level) else {
            return values.to_vec();
        };
        let mut out = Vec::with_capacity(units.len());
        let mut row = 0usize;
        for &n in units {
            out.extend(values.get(row).cloned());
            row += n as usize;
        }
        out
    }

    /// Expands one value per unit at `level` back to one per row.
    pub(crate) fn expand<T: Copy + Default + PartialEq>(&self, level: Level, values: Vec<T>) -> Result<Vec<T>, DecodeError> {
        match self.unit_rows(level) {
            None => Ok(values),
            Some(units) => rle::expand(&values, units),
        }
    }

    /// Converts one value per unit at `level` to one per session: the first row's
    /// value for values per row, each visitor's value repeated for their sessions.
    pub(crate) fn to_sessions<T: Copy + Default + PartialEq>(&self, level: Level, values: Vec<T>) -> Result<Vec<T>, DecodeError> {
        match level {
            Level::Row => Ok(self.at_level(Level::Session, &values)),
            Level::Session => Ok(values),
            Level::Visitor => rle::expand(&values, &self.visitor_sessions),
        }
    }

    /// Rows of each session, in row order: the visit structure query kernels walk.
    pub(crate) fn session_rows(&self) -> &[u32] {
        &self.session_rows
    }

    /// Units at `level` in a segment of `rows` rows.
    pub(crate) fn units(&self, level: Level, rows: usize) -> usize {
        self.unit_rows(level).map_or(rows, <[u32]>::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(visitor_id: i64, session_id: i64) -> Event {
        Event { visitor_id, session_id, ..Event::default() }
    }

    #[test]
    fn structure_and_levels() {
        let events = [event(1, 10), event(1, 10), event(1, 11), event(2, 20)];
        let rows: Vec<&Event> = events.iter().collect();
        let runs = Runs::from_sorted(&rows);
        assert_eq!(runs.session_rows, [2, 1, 1]);
        assert_eq!(runs.visitor_sessions, [2, 1]);
        assert_eq!(runs.visitor_rows, [3, 1]);
        assert_eq!(runs.level_of(&["a", "a", "a", "b"]), Level::Visitor);
        assert_eq!(runs.level_of(&["a", "a", "b", "b"]), Level::Session);
        assert_eq!(runs.level_of(&["a", "b", "b", "b"]), Level::Row);
        let per_session = runs.at_level(Level::Session, &[5, 5, 6, 7]);
        assert_eq!(per_session, [5, 6, 7]);
        assert_eq!(runs.expand(Level::Session, per_session.clone()).unwrap(), [5, 5, 6, 7]);
        assert_eq!(runs.to_sessions(Level::Row, vec![5, 5, 6, 7]).unwrap(), per_session);
        assert_eq!(runs.to_sessions(Level::Session, per_session.clone()).unwrap(), per_session);
        assert_eq!(runs.to_sessions(Level::Visitor, vec![1, 2]).unwrap(), [1, 1, 2]);

        let mut bytes = Vec::new();
        runs.encode_into(&mut bytes);
        assert_eq!(Runs::decode_from(&mut Cursor::new(&bytes), 4).unwrap(), runs);
        assert!(Runs::decode_from(&mut Cursor::new(&bytes), 5).is_err());
    }
}
