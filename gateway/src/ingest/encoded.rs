//! A batch encoded once, as the rows of a binary COPY into `tally.events_hot`.
//!
//! The same bytes are streamed to Postgres and, when Postgres is unreachable, written to
//! the disk spool: replaying a spooled batch sends exactly what the first attempt would
//! have sent, under the same batch id, so the database's idempotency record recognises
//! it. Each row keeps its optional client event id beside its bytes; `tally.ingest_batch`
//! leaves out rows whose event id was stored before.
//!
//! File layout (integers little-endian):
//! ```text
//! magic "TLYB" | version u8 | batch id [16] | row count u32
//! per row: site_id i32 | id length u16 (u16::MAX = no id) | id bytes | row length u32 | COPY row bytes
//! crc32 of everything above, u32
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use tally_core::copy_frames::{COPY_HEADER, COPY_TRAILER};
use tally_core::event::{Event, COLUMNS};
use uuid::Uuid;

const MAGIC: &[u8; 4] = b"TLYB";
const VERSION: u8 = 1;
const NO_ID: u16 = u16::MAX;

/// An event on its way to storage, with the client's id for it if it sent one.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub event: Event,
    /// The batch API's optional `id`: the event is stored once per site and id.
    pub event_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    site_id: i32,
    event_id: Option<String>,
    start: usize,
    end: usize,
}

/// One batch, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedBatch {
    pub id: Uuid,
    rows: Vec<Row>,
    /// The whole COPY stream: header, every row, trailer.
    data: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("spool file is truncated")]
    Truncated,
    #[error("spool file has a bad magic number or version")]
    Format,
    #[error("spool file checksum mismatch")]
    Checksum,
}

impl EncodedBatch {
    /// Encodes events with their optional client ids under a fresh batch id.
    pub fn encode<'a>(events: impl IntoIterator<Item = (&'a Event, Option<&'a str>)>) -> EncodedBatch {
        let events = events.into_iter();
        let mut data = BytesMut::with_capacity(COPY_HEADER.len() + events.size_hint().0 * 256 + COPY_TRAILER.len());
        let mut rows = Vec::with_capacity(events.size_hint().0);
        data.put_slice(COPY_HEADER);
        for (event, event_id) in events {
            let start = data.len();
            encode_row(event, &mut data);
            rows.push(Row { site_id: event.site_id, event_id: event_id.map(str::to_string), start, end: data.len() });
        }
        data.put_slice(COPY_TRAILER);
        EncodedBatch { id: Uuid::new_v4(), rows, data: data.freeze() }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The client event id of each row, or `None` when no row has one.
    pub fn event_ids(&self) -> Option<Vec<Option<&str>>> {
        self.rows.iter().any(|r| r.event_id.is_some()).then(|| self.rows.iter().map(|r| r.event_id.as_deref()).collect())
    }

    /// The binary COPY stream of every row: header, rows, trailer.
    pub fn copy_data(&self) -> &[u8] {
        &self.data
    }

    /// The rows `range` of this batch as a batch of their own, for storing a batch in
    /// parts when Postgres refuses one of its rows. Its id is derived from this batch's
    /// id and the range, so a replay after a crash halfway through splits the same way
    /// and finds the parts already stored under the same ids.
    pub fn rows_in(&self, range: std::ops::Range<usize>) -> EncodedBatch {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(self.id.as_bytes())
            .chain_update((range.start as u64).to_le_bytes())
            .chain_update((range.end as u64).to_le_bytes())
            .finalize();
        let id = Uuid::from_bytes(digest[..16].try_into().expect("a SHA-256 has 32 bytes"));
        let rows = &self.rows[range];
        let mut data =
            BytesMut::with_capacity(COPY_HEADER.len() + rows.iter().map(|r| r.end - r.start).sum::<usize>() + COPY_TRAILER.len());
        data.put_slice(COPY_HEADER);
        let rows = rows
            .iter()
            .map(|r| {
                let start = data.len();
                data.put_slice(&self.data[r.start..r.end]);
                Row { site_id: r.site_id, event_id: r.event_id.clone(), start, end: data.len() }
            })
            .collect();
        data.put_slice(COPY_TRAILER);
        EncodedBatch { id, rows, data: data.freeze() }
    }

    /// The spool file's bytes.
    pub fn to_file(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + self.rows.len() * 16 + 32);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&(self.rows.len() as u32).to_le_bytes());
        for r in &self.rows {
            out.extend_from_slice(&r.site_id.to_le_bytes());
            match &r.event_id {
                Some(id) => {
                    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
                    out.extend_from_slice(id.as_bytes());
                }
                None => out.extend_from_slice(&NO_ID.to_le_bytes()),
            }
            let row = &self.data[r.start..r.end];
            out.extend_from_slice(&(row.len() as u32).to_le_bytes());
            out.extend_from_slice(row);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a spool file written by [`EncodedBatch::to_file`], checking its checksum.
    pub fn from_file(bytes: &[u8]) -> Result<EncodedBatch, DecodeError> {
        let (body, crc) =
            bytes.split_at_checked(bytes.len().checked_sub(4).ok_or(DecodeError::Truncated)?).ok_or(DecodeError::Truncated)?;
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(DecodeError::Checksum);
        }
        let mut r = Reader(body);
        if r.take(4)? != MAGIC || r.take(1)?[0] != VERSION {
            return Err(DecodeError::Format);
        }
        let id = Uuid::from_bytes(r.take(16)?.try_into().expect("16 bytes"));
        let count = r.u32()? as usize;
        let mut rows = Vec::with_capacity(count.min(body.len() / 8));
        let mut data = BytesMut::with_capacity(body.len());
        data.put_slice(COPY_HEADER);
        for _ in 0..count {
            let site_id = i32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
            let id_len = u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes"));
            let event_id = match id_len {
                NO_ID => None,
                n => Some(String::from_utf8(r.take(n as usize)?.to_vec()).map_err(|_| DecodeError::Format)?),
            };
            let len = r.u32()? as usize;
            let start = data.len();
            data.put_slice(r.take(len)?);
            rows.push(Row { site_id, event_id, start, end: data.len() });
        }
        if !r.0.is_empty() {
            return Err(DecodeError::Format);
        }
        data.put_slice(COPY_TRAILER);
        Ok(EncodedBatch { id, rows, data: data.freeze() })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), the zero of a
/// binary `timestamptz`.
const PG_EPOCH_US: i64 = 946_684_800_000_000;
/// The version byte that starts a binary `jsonb` value (followed by its JSON text).
const JSONB_VERSION: u8 = 1;

/// One binary COPY row: field count, then per field its length (-1 for NULL) and bytes,
/// in `COLUMNS` order. Written straight into `out`, with no value built per field: this
/// runs for every event.
fn encode_row(e: &Event, out: &mut BytesMut) {
    out.put_i16(COLUMNS.len() as i16);
    let mut f = Fields(out);
    f.int4(Some(e.site_id));
    f.int8(Some(e.ts - PG_EPOCH_US));
    f.text(Some(&e.name));
    f.int8(Some(e.visitor_id));
    f.int8(Some(e.session_id));
    f.text(Some(&e.hostname));
    f.text(Some(&e.pathname));
    for text in [
        &e.referrer,
        &e.referrer_source,
        &e.utm_source,
        &e.utm_medium,
        &e.utm_campaign,
        &e.utm_term,
        &e.utm_content,
        &e.country,
        &e.region,
        &e.city,
        &e.browser,
        &e.browser_version,
        &e.os,
        &e.os_version,
        &e.device,
    ] {
        f.text(text.as_deref());
    }
    f.int4(e.screen_width);
    f.int4(e.engagement_ms);
    f.int8(e.revenue_micros);
    f.text(e.revenue_currency.as_deref());
    f.props(&e.props);
    f.int4(e.scroll_depth);
    f.bool(e.interactive);
    f.text(e.channel.as_deref());
}

/// Binary COPY fields, each as its length and its type's binary form.
struct Fields<'a>(&'a mut BytesMut);

impl Fields<'_> {
    fn null(&mut self) {
        self.0.put_i32(-1);
    }

    fn int4(&mut self, v: Option<i32>) {
        match v {
            Some(v) => {
                self.0.put_i32(4);
                self.0.put_i32(v);
            }
            None => self.null(),
        }
    }

    fn bool(&mut self, v: Option<bool>) {
        match v {
            Some(v) => {
                self.0.put_i32(1);
                self.0.put_u8(u8::from(v));
            }
            None => self.null(),
        }
    }

    fn int8(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.0.put_i32(8);
                self.0.put_i64(v);
            }
            None => self.null(),
        }
    }

    fn text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => {
                self.0.put_i32(i32::try_from(v.len()).expect("validated fields are far below 2 GB"));
                self.0.put_slice(v.as_bytes());
            }
            None => self.null(),
        }
    }

    /// Custom properties as a `jsonb` object (a repeated key keeps its last value, as
    /// jsonb does).
    fn props(&mut self, props: &[(String, String)]) {
        let len_at = self.0.len();
        self.0.put_i32(0);
        self.0.put_u8(JSONB_VERSION);
        serde_json::to_writer((&mut *self.0).writer(), &Props(props)).expect("writing JSON to memory cannot fail");
        let len = i32::try_from(self.0.len() - len_at - 4).expect("validated props are far below 2 GB");
        self.0[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Serializes property pairs as a JSON object, without building a map first.
struct Props<'a>(&'a [(String, String)]);

impl serde::Serialize for Props<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pending: &[Pending]) -> EncodedBatch {
        EncodedBatch::encode(pending.iter().map(|p| (&p.event, p.event_id.as_deref())))
    }

    fn pending(n: usize) -> Vec<Pending> {
        (0..n)
            .map(|i| Pending {
                event: Event {
                    site_id: 1 + (i % 2) as i32,
                    ts: 1_700_000_000_000_000 + i as i64,
                    name: "pageview".into(),
                    hostname: "a.example".into(),
                    pathname: format!("/p{i}"),
                    referrer: (i % 3 == 0).then(|| "https://g.example/".into()),
                    props: vec![("k".into(), "v".into())],
                    ..Event::default()
                },
                event_id: (i % 2 == 0).then(|| format!("e{i}")),
            })
            .collect()
    }

    #[test]
    fn spool_files_round_trip() {
        let batch = encode(&pending(5));
        let back = EncodedBatch::from_file(&batch.to_file()).unwrap();
        assert_eq!(back, batch);
        assert_eq!(back.event_ids(), Some(vec![Some("e0"), None, Some("e2"), None, Some("e4")]));
        let no_ids: Vec<Pending> = pending(2).into_iter().map(|p| Pending { event_id: None, ..p }).collect();
        assert_eq!(encode(&no_ids).event_ids(), None);
    }

    #[test]
    fn parts_of_a_batch_are_batches_with_ids_of_their_own() {
        let events = pending(5);
        let batch = encode(&events);
        let part = batch.rows_in(1..3);
        assert_eq!(part, encode(&events[1..3]).rows_in(0..2).with_id(part.id), "the rows of the range, nothing else");
        assert_eq!(part.id, batch.rows_in(1..3).id, "the same range of the same batch has the same id");
        assert_ne!(part.id, batch.rows_in(1..4).id);
        assert_ne!(part.id, batch.id);
        assert!(tally_core::copy_frames::frames(part.copy_data()).is_ok());
    }

    impl EncodedBatch {
        fn with_id(self, id: Uuid) -> EncodedBatch {
            EncodedBatch { id, ..self }
        }
    }

    #[test]
    fn damaged_files_are_refused() {
        let file = encode(&pending(3)).to_file();
        for cut in [0, 3, 10, file.len() - 1] {
            assert!(EncodedBatch::from_file(&file[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = file.clone();
        flipped[30] ^= 1;
        assert!(matches!(EncodedBatch::from_file(&flipped), Err(DecodeError::Checksum)));
    }

    #[test]
    fn copy_data_is_a_stream_the_extension_can_frame() {
        let batch = encode(&pending(4));
        let frames = tally_core::copy_frames::frames(batch.copy_data()).expect("a well-formed COPY stream");
        assert_eq!(frames.iter().map(|f| f.site_id).collect::<Vec<_>>(), vec![1, 2, 1, 2]);
        assert_eq!(
            frames.iter().map(|f| (f.start, f.end)).collect::<Vec<_>>(),
            batch.rows.iter().map(|r| (r.start, r.end)).collect::<Vec<_>>()
        );
        let back = EncodedBatch::from_file(&batch.to_file()).unwrap();
        assert_eq!(back.copy_data(), batch.copy_data());
    }

    /// The hand-written encoder writes exactly what postgres-types' `ToSql` (what
    /// tokio-postgres sends) writes for each column type.
    #[test]
    fn rows_match_postgres_types_encoding() {
        use tokio_postgres::types::{IsNull, ToSql, Type};
        let mut e = pending(1).remove(0).event;
        (e.visitor_id, e.session_id, e.screen_width, e.revenue_micros) = (-5, 1 << 40, Some(1280), Some(9_990_000));
        (e.browser, e.revenue_currency) = (Some("Firefox \u{1F98A}".into()), Some("EUR".into()));
        e.props = vec![("plan".into(), "pro \"x\"".into()), ("n".into(), "1".into())];
        (e.scroll_depth, e.interactive, e.channel) = (Some(85), Some(false), Some("Paid Search".into()));
        let mut ours = BytesMut::new();
        encode_row(&e, &mut ours);

        let ts = chrono::DateTime::from_timestamp_micros(e.ts).unwrap();
        let props = serde_json::Value::Object(e.props.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect());
        let text = |v: &Option<String>| v.clone();
        let fields: Vec<(Box<dyn ToSql>, Type)> = vec![
            (Box::new(e.site_id) as Box<dyn ToSql>, Type::INT4),
            (Box::new(ts), Type::TIMESTAMPTZ),
            (Box::new(e.name.clone()), Type::TEXT),
            (Box::new(e.visitor_id), Type::INT8),
            (Box::new(e.session_id), Type::INT8),
            (Box::new(e.hostname.clone()), Type::TEXT),
            (Box::new(e.pathname.clone()), Type::TEXT),
        ]
        .into_iter()
        .chain(
            [
                &e.referrer,
                &e.referrer_source,
                &e.utm_source,
                &e.utm_medium,
                &e.utm_campaign,
                &e.utm_term,
                &e.utm_content,
                &e.country,
                &e.region,
                &e.city,
                &e.browser,
                &e.browser_version,
                &e.os,
                &e.os_version,
                &e.device,
            ]
            .into_iter()
            .map(|v| (Box::new(text(v)) as Box<dyn ToSql>, Type::TEXT)),
        )
        .chain([
            (Box::new(e.screen_width) as Box<dyn ToSql>, Type::INT4),
            (Box::new(e.engagement_ms), Type::INT4),
            (Box::new(e.revenue_micros), Type::INT8),
            (Box::new(text(&e.revenue_currency)), Type::TEXT),
            (Box::new(props), Type::JSONB),
            (Box::new(e.scroll_depth), Type::INT4),
            (Box::new(e.interactive), Type::BOOL),
            (Box::new(text(&e.channel)), Type::TEXT),
        ])
        .collect();
        let mut theirs = BytesMut::new();
        theirs.put_i16(fields.len() as i16);
        for (value, ty) in &fields {
            let mut v = BytesMut::new();
            match value.to_sql_checked(ty, &mut v).unwrap() {
                IsNull::Yes => theirs.put_i32(-1),
                IsNull::No => {
                    theirs.put_i32(v.len() as i32);
                    theirs.put_slice(&v);
                }
            }
        }
        // Every field byte for byte, except the props' JSON text, whose key order may
        // differ (jsonb orders keys itself): that is compared as JSON.
        let (ours, theirs) = (split_fields(&ours), split_fields(&theirs));
        assert_eq!(ours[..26], theirs[..26]);
        let props = |f: &Option<Vec<u8>>| {
            let f = f.as_ref().unwrap();
            (f[0], serde_json::from_slice::<serde_json::Value>(&f[1..]).unwrap())
        };
        assert_eq!(props(&ours[26]), props(&theirs[26]));
        assert_eq!(ours[27..], theirs[27..]);
    }

    /// A binary COPY row's fields (None for NULL).
    fn split_fields(row: &[u8]) -> Vec<Option<Vec<u8>>> {
        let count = i16::from_be_bytes([row[0], row[1]]) as usize;
        let mut at = 2;
        (0..count)
            .map(|_| {
                let len = i32::from_be_bytes(row[at..at + 4].try_into().unwrap());
                at += 4;
                (len >= 0).then(|| {
                    at += len as usize;
                    row[at - len as usize..at].to_vec()
                })
            })
            .collect()
    }
}
