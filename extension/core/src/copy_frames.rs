//! The framing of PostgreSQL's binary COPY format for [`Event`](crate::event::Event)
//! rows: what the gateway writes and `tally.ingest_batch` reads.
//!
//! The gateway encodes every row once (the same bytes go to Postgres and to its disk
//! spool); the extension walks the frames without decoding values, to find each row's
//! bytes and site and to refuse a malformed stream before any of it is stored. Values are
//! decoded by PostgreSQL's own COPY machinery afterwards.

use crate::event::COLUMNS;

/// Binary COPY's fixed header: signature, flags (none), header-extension length (0).
pub const COPY_HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Binary COPY's trailer: a field count of -1.
pub const COPY_TRAILER: &[u8; 2] = &(-1i16).to_be_bytes();

/// Fields of a row of the first release, which had the first 27 of [`COLUMNS`]: a
/// gateway of that release, or a batch it spooled to disk, sends rows without the
/// columns added since, and those rows are stored with NULL there.
pub const FIRST_RELEASE_FIELDS: usize = 27;

/// One row of a stream: where its bytes are (field count included) and its site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub start: usize,
    pub end: usize,
    /// The row's first column, `site_id`.
    pub site_id: i32,
    /// Its fields: the first this many of [`COLUMNS`].
    pub fields: usize,
}

/// Why a stream is not a binary COPY of event rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the stream does not start with the binary COPY header")]
    Header,
    #[error("row {row} has {fields} fields, an event has {FIRST_RELEASE_FIELDS} to {expected}")]
    FieldCount { row: usize, fields: i16, expected: usize },
    #[error("row {row} ends before its field {field}")]
    Truncated { row: usize, field: usize },
    #[error("row {row} has a bad length in field {field}")]
    FieldLength { row: usize, field: usize },
    #[error("the stream ends without the binary COPY trailer")]
    NoTrailer,
    #[error("{0} bytes follow the binary COPY trailer")]
    AfterTrailer(usize),
}

/// The rows of `stream` (header, rows, trailer), each checked to have one field per
/// event column (of this release or an earlier one) with lengths inside the stream, and
/// a 4-byte `site_id` first.
pub fn frames(stream: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let body = stream.strip_prefix(COPY_HEADER.as_slice()).ok_or(FrameError::Header)?;
    let base = COPY_HEADER.len();
    let mut at = 0;
    let mut rows = Vec::new();
    loop {
        let row = rows.len();
        let count = body.get(at..at + 2).ok_or(FrameError::NoTrailer)?;
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            at += 2;
            return match body.len() - at {
                0 => Ok(rows),
                extra => Err(FrameError::AfterTrailer(extra)),
            };
        }
        let fields = count as usize;
        if !(FIRST_RELEASE_FIELDS..=COLUMNS.len()).contains(&fields) {
            return Err(FrameError::FieldCount { row, fields: count, expected: COLUMNS.len() });
        }
        let start = at;
        at += 2;
        let mut site_id = None;
        for field in 0..fields {
            let len = body.get(at..at + 4).ok_or(FrameError::Truncated { row, field })?;
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len == -1 {
                continue;
            }
            let len = usize::try_from(len).map_err(|_| FrameError::FieldLength { row, field })?;
            let value = body.get(at..at + len).ok_or(FrameError::Truncated { row, field })?;
            if field == 0 {
                site_id = value.try_into().ok().map(i32::from_be_bytes);
            }
            at += len;
        }
        let site_id = site_id.ok_or(FrameError::FieldLength { row, field: 0 })?;
        rows.push(Frame { start: base + start, end: base + at, site_id, fields });
    }
}

/// `row` (the bytes of a [`Frame`] of `from` fields) with `fields` fields: the first
/// ones kept, NULL for those it lacks. For a row written with another release's columns
/// than the table's.
pub fn with_fields(row: &[u8], from: usize, fields: usize) -> Vec<u8> {
    let mut at = 2;
    for _ in 0..from.min(fields) {
        let len = i32::from_be_bytes([row[at], row[at + 1], row[at + 2], row[at + 3]]);
        at += 4 + usize::try_from(len).unwrap_or(0);
    }
    let mut out = Vec::with_capacity(at + 4 * fields.saturating_sub(from));
    out.extend_from_slice(&(fields as i16).to_be_bytes());
    out.extend_from_slice(&row[2..at]);
    for _ in from..fields {
        out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of `COLUMNS.len()` fields: the site, then `rest` (NULL where `None`).
    fn row(site: i32, rest: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (COLUMNS.len() as i16).to_be_bytes().to_vec();
        out.extend(4i32.to_be_bytes());
        out.extend(site.to_be_bytes());
        for i in 1..COLUMNS.len() {
            match rest.get(i - 1).copied().flatten() {
                Some(v) => {
                    out.extend((v.len() as i32).to_be_bytes());
                    out.extend(v);
                }
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out
    }

    fn stream(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut out = COPY_HEADER.to_vec();
        rows.iter().for_each(|r| out.extend(r));
        out.extend(COPY_TRAILER);
        out
    }

    #[test]
    fn rows_are_found_with_their_sites() {
        let (a, b) = (row(7, &[Some(b"12345678"), Some(b"pageview")]), row(-3, &[]));
        let s = stream(&[a.clone(), b.clone()]);
        let f = frames(&s).unwrap();
        assert_eq!(
            f,
            vec![
                Frame { start: 19, end: 19 + a.len(), site_id: 7, fields: COLUMNS.len() },
                Frame { start: 19 + a.len(), end: 19 + a.len() + b.len(), site_id: -3, fields: COLUMNS.len() }
            ]
        );
        assert_eq!(&s[f[1].start..f[1].end], b.as_slice());
        assert_eq!(frames(&stream(&[])).unwrap(), vec![]);
    }

    #[test]
    fn malformed_streams_are_refused() {
        let good = stream(&[row(1, &[Some(b"x")])]);
        assert_eq!(frames(&good[1..]), Err(FrameError::Header));
        assert_eq!(frames(&good[..good.len() - 2]), Err(FrameError::NoTrailer));
        assert_eq!(frames(&good[..good.len() - 5]), Err(FrameError::Truncated { row: 0, field: COLUMNS.len() - 1 }));
        let mut extra = good.clone();
        extra.push(0);
        assert_eq!(frames(&extra), Err(FrameError::AfterTrailer(1)));
        let mut few = good.clone();
        few[19..21].copy_from_slice(&3i16.to_be_bytes());
        assert_eq!(frames(&few), Err(FrameError::FieldCount { row: 0, fields: 3, expected: COLUMNS.len() }));
        let mut negative = good.clone();
        negative[29..33].copy_from_slice(&(-2i32).to_be_bytes());
        assert_eq!(frames(&negative), Err(FrameError::FieldLength { row: 0, field: 1 }));
        let mut huge = good.clone();
        huge[29..33].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(frames(&huge), Err(FrameError::Truncated { row: 0, field: 1 }));
        let mut short_site = good;
        short_site[21..25].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(frames(&short_site).is_err(), "a NULL site has no frame");
    }

    #[test]
    fn rows_of_the_first_release_are_framed_and_reshaped() {
        let full = row(4, &[Some(b"12345678"), Some(b"pageview")]);
        let old = with_fields(&full, COLUMNS.len(), FIRST_RELEASE_FIELDS);
        let s = stream(&[old.clone(), full.clone()]);
        let f = frames(&s).unwrap();
        assert_eq!((f[0].fields, f[0].site_id, f[1].fields), (FIRST_RELEASE_FIELDS, 4, COLUMNS.len()));
        assert_eq!(&s[f[0].start..f[0].end], old.as_slice());
        assert_eq!(with_fields(&old, FIRST_RELEASE_FIELDS, COLUMNS.len()), full, "the added fields come back as NULL");
        assert_eq!(with_fields(&full, COLUMNS.len(), COLUMNS.len()), full);
    }
}
