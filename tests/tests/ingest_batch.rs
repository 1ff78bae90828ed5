//! `tally.ingest_batch` and the gateway's batch writer on top of it: one database round
//! trip per batch, idempotent on batch and event ids, all or nothing, bad input refused
//! with a hint, and no more rights than a client's COPY.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tally_core::copy_frames::frames;
use tally_core::event::Event;
use tally_gateway::ingest::encoded::{EncodedBatch, Pending};
use tally_gateway::ingest::store::{write_batch, Written};
use tally_tests::cluster::{cluster_port, connect};
use tally_tests::Tally;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::types::ToSql;

/// Frontend messages a TCP proxy saw, by kind. A round trip is one `Sync` (extended
/// query protocol) or one `Query` (simple protocol): each makes Postgres answer and the
/// client wait for ReadyForQuery. Counted on the wire, so nothing the gateway does can
/// hide one.
#[derive(Default)]
struct Wire {
    syncs: AtomicUsize,
    queries: AtomicUsize,
}

impl Wire {
    fn round_trips(&self) -> usize {
        self.syncs.load(Ordering::SeqCst) + self.queries.load(Ordering::SeqCst)
    }
}

/// Forwards the client's messages to the server, counting them by kind.
async fn count_messages(mut rx: OwnedReadHalf, mut tx: OwnedWriteHalf, wire: Arc<Wire>) -> std::io::Result<()> {
    /// The code of an SSLRequest, which is followed by another untyped message.
    const SSL_REQUEST: [u8; 4] = 80_877_103u32.to_be_bytes();
    // Startup-phase messages (SSLRequest, StartupMessage) have no type byte.
    let mut typed = false;
    loop {
        let mut head = [0u8; 5];
        let start = usize::from(!typed);
        rx.read_exact(&mut head[start..]).await?;
        let len = u32::from_be_bytes(head[1..].try_into().expect("4 bytes")) as usize;
        let mut body = vec![0u8; len.saturating_sub(4)];
        rx.read_exact(&mut body).await?;
        if typed {
            match head[0] {
                b'S' => wire.syncs.fetch_add(1, Ordering::SeqCst),
                b'Q' => wire.queries.fetch_add(1, Ordering::SeqCst),
                _ => 0,
            };
        }
        tx.write_all(&head[start..]).await?;
        tx.write_all(&body).await?;
        typed = typed || body.get(..4) != Some(SSL_REQUEST.as_slice());
    }
}

/// A proxy to the test cluster that counts the client's messages; returns its port.
async fn counting_proxy(wire: Arc<Wire>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(("127.0.0.1", cluster_port())).await.unwrap();
            let (client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, server_tx) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut server_rx, &mut client_tx).await });
            tokio::spawn(count_messages(client_rx, server_tx, wire.clone()));
        }
    });
    port
}

fn pending(site_id: i32, n: usize, id: impl Fn(usize) -> Option<String>) -> Vec<Pending> {
    (0..n)
        .map(|i| Pending {
            event: Event {
                site_id,
                ts: 1_700_000_000_000_000 + i as i64,
                name: "pageview".into(),
                hostname: "a.example".into(),
                pathname: format!("/p{i}"),
                props: vec![("i".into(), i.to_string())],
                ..Event::default()
            },
            event_id: id(i),
        })
        .collect()
}

fn encode(events: &[Pending]) -> EncodedBatch {
    EncodedBatch::encode(events.iter().map(|p| (&p.event, p.event_id.as_deref())))
}

#[tokio::test]
async fn a_batch_is_one_round_trip_and_stored_once() {
    let t = Tally::start().await;
    let site: i32 = t.db.value("SELECT tally.create_site('a.example')").await;
    let wire = Arc::new(Wire::default());
    let port = counting_proxy(wire.clone()).await;
    let url = t.db.url.replace(&format!("port={}", cluster_port()), &format!("port={port}"));
    let pool = tally_gateway::pool::build(&url, 1).unwrap();
    // The first batch on a connection also prepares the statement (one more round trip).
    write_batch(&pool, &encode(&pending(site, 3, |_| None))).await.unwrap();

    let with_ids = encode(&pending(site, 100, |i| (i % 2 == 0).then(|| format!("e{}", i % 10))));
    let plain = encode(&pending(site, 100, |_| None));
    let before = wire.round_trips();
    let results = [
        write_batch(&pool, &with_ids).await.unwrap(),
        write_batch(&pool, &plain).await.unwrap(),
        // A replay (lost answer, spool) of both.
        write_batch(&pool, &with_ids).await.unwrap(),
        write_batch(&pool, &plain).await.unwrap(),
        // The same events under a new batch id (a client retry): the ids are taken.
        write_batch(&pool, &encode(&pending(site, 100, |i| (i % 2 == 0).then(|| format!("e{}", i % 10))))).await.unwrap(),
    ];
    assert_eq!(wire.round_trips() - before, results.len(), "one round trip per batch");
    assert_eq!(wire.queries.load(Ordering::SeqCst), 0, "no simple-protocol statements (BEGIN/COMMIT)");
    assert_eq!(
        results,
        [
            // 50 rows without id, 50 with ids e0, e2, e4, e6, e8 ten times each: first kept.
            Written::Stored { rows: 55, duplicates: 45 },
            Written::Stored { rows: 100, duplicates: 0 },
            Written::AlreadyStored,
            Written::AlreadyStored,
            Written::Stored { rows: 50, duplicates: 50 },
        ]
    );
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events_hot").await;
    assert_eq!(stored, 3 + 55 + 100 + 50);
    // Of each repeated id only the first row was kept: rows 10 and 12 (ids e0 and e2
    // again) are stored only from the batch without ids.
    let repeats: i64 = t.db.value("SELECT count(*) FROM tally.events_hot WHERE pathname IN ('/p10', '/p12')").await;
    assert_eq!(repeats, 2);
}

/// Calls `tally.ingest_batch` with a fresh batch id.
async fn ingest(
    client: &tokio_postgres::Client,
    rows: &[u8],
    ids: Option<Vec<Option<&str>>>,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let params: [&(dyn ToSql + Sync); 2] = [&rows, &ids];
    client.query_one("SELECT tally.ingest_batch(gen_random_uuid(), $1, $2)", &params).await.map(|r| r.get(0))
}

fn assert_hinted(result: Result<Option<i64>, tokio_postgres::Error>, expected: &str) {
    let err = result.expect_err(expected);
    let e = err.as_db_error().unwrap_or_else(|| panic!("{expected}: {err}"));
    assert!(e.message().contains(expected), "{expected}: {}", e.message());
    assert!(e.hint().is_some_and(|h| h.contains("binary COPY")), "{expected}: hint {:?}", e.hint());
}

/// `stream` with field `field` of row `row` replaced by `value` (NULL for `None`).
fn with_field(stream: &[u8], row: usize, field: usize, value: Option<&[u8]>) -> Vec<u8> {
    let frame = frames(stream).unwrap()[row];
    let mut at = frame.start + 2;
    for _ in 0..field {
        let len = i32::from_be_bytes(stream[at..at + 4].try_into().unwrap());
        at += 4 + len.max(0) as usize;
    }
    let len = i32::from_be_bytes(stream[at..at + 4].try_into().unwrap());
    let mut out = stream[..at].to_vec();
    match value {
        Some(v) => {
            out.extend((v.len() as i32).to_be_bytes());
            out.extend(v);
        }
        None => out.extend((-1i32).to_be_bytes()),
    }
    out.extend(&stream[at + 4 + len.max(0) as usize..]);
    out
}

#[tokio::test]
async fn bad_batches_are_refused_whole_with_a_hint() {
    let t = Tally::start().await;
    let site: i32 = t.db.value("SELECT tally.create_site('a.example')").await;
    let c = &t.db.client;
    let good = encode(&pending(site, 3, |i| Some(format!("id{i}"))));
    let stream = good.copy_data();
    let ids = || Some(vec![Some("id0"), Some("id1"), Some("id2")]);

    assert_hinted(ingest(c, b"\x00", None).await, "binary COPY header");
    assert_hinted(ingest(c, &stream[..stream.len() - 2], None).await, "without the binary COPY trailer");
    assert_hinted(ingest(c, &stream[..stream.len() - 9], None).await, "ends before its field");
    assert_hinted(ingest(c, &[stream, b"x"].concat(), None).await, "follow the binary COPY trailer");
    assert_hinted(ingest(c, &with_field(stream, 1, 1, Some(&[0; 9])), None).await, "incorrect binary data format");
    assert_hinted(ingest(c, stream, Some(vec![Some("a")])).await, "event_ids has 1 elements for 3 rows");
    // A NULL name in the last row: nothing of the batch is stored, no id is claimed.
    assert_hinted(ingest(c, &with_field(stream, 2, 2, None), ids()).await, "null value in column \"name\"");
    let err = c.query_one("SELECT tally.ingest_batch(NULL, '\\x'::bytea)", &[]).await.expect_err("NULL batch id");
    assert!(err.as_db_error().is_some_and(|e| e.hint().is_some()), "{err}");
    let (rows, claimed): (i64, i64) = {
        let r = c
            .query_one("SELECT (SELECT count(*) FROM tally.events_hot), (SELECT count(*) FROM tally.ingest_event_ids)", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((rows, claimed), (0, 0), "all or nothing");
    // The backend survived every one of them, and the good batch goes in whole.
    assert_eq!(ingest(c, stream, ids()).await.unwrap(), Some(3));
    assert_eq!(ingest(c, &[&stream[..19], &stream[stream.len() - 2..]].concat(), None).await.unwrap(), Some(0), "an empty batch");
}

#[tokio::test]
async fn ingest_batch_needs_the_gateways_rights() {
    let t = Tally::start().await;
    let site: i32 = t.db.value("SELECT tally.create_site('a.example')").await;
    let stream = encode(&pending(site, 2, |_| None)).copy_data().to_vec();
    let as_role = |role: String| {
        let url = t.db.url.clone();
        async move {
            let c = connect(&url).await;
            c.batch_execute(&format!("SET ROLE {role}")).await.unwrap();
            c
        }
    };
    // A role that may use the schema and insert events, but is not the gateway's.
    let nobody = format!("{}_nobody", t.db.name);
    let grants =
        format!("CREATE ROLE {nobody} BYPASSRLS; GRANT USAGE ON SCHEMA tally TO {nobody}; GRANT INSERT ON tally.events_hot TO {nobody}");
    t.db.client.batch_execute(&grants).await.unwrap();
    let err = ingest(&as_role(nobody).await, &stream, None).await.expect_err("not granted");
    assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{err}");
    assert!(err.as_db_error().unwrap().message().contains("function ingest_batch"), "{err}");
    // The gateway's group without BYPASSRLS: COPY would not apply the policies, so refused.
    let err = ingest(&as_role("tally_gateway".into()).await, &stream, None).await.expect_err("RLS in force");
    let e = err.as_db_error().unwrap();
    assert!(e.message().contains("row-level security") && e.hint().is_some_and(|h| h.contains("BYPASSRLS")), "{err}");
    // What the README sets up for the gateway's login role.
    let gateway = format!("{}_gw", t.db.name);
    t.sql(&format!("CREATE ROLE {gateway} BYPASSRLS IN ROLE tally_gateway")).await;
    assert_eq!(ingest(&as_role(gateway).await, &stream, None).await.unwrap(), Some(2));
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events_hot").await;
    assert_eq!(stored, 2);
}

/// `tally.ingest_batch` inserts rows itself where PostgreSQL's `CopyFrom` would do
/// nothing more, and hands them to `CopyFrom` where it would (here: a row trigger).
/// Either way the stored rows are the same, and a trigger fires for every row as it
/// would for a client's COPY. 300 rows cross the inserter's buffer of 256.
#[tokio::test]
async fn rows_are_stored_alike_with_or_without_triggers() {
    let t = Tally::start().await;
    let site: i32 = t.db.value("SELECT tally.create_site('a.example')").await;
    let c = &t.db.client;
    let events = pending(site, 300, |_| None);
    assert_eq!(ingest(c, encode(&events).copy_data(), None).await.unwrap(), Some(300));
    c.batch_execute(
        "CREATE TABLE public.fired (n int);
         CREATE FUNCTION public.count_row() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO public.fired VALUES (1); RETURN NEW; END $$;
         CREATE TRIGGER count_row AFTER INSERT ON tally.events_hot FOR EACH ROW EXECUTE FUNCTION public.count_row()",
    )
    .await
    .unwrap();
    assert_eq!(ingest(c, encode(&events).copy_data(), None).await.unwrap(), Some(300));
    let fired: i64 = t.db.value("SELECT count(*) FROM public.fired").await;
    assert_eq!(fired, 300, "the trigger fired for each row of the second batch");
    // Every stored row has exactly one twin: the same event from the other path.
    let cols = tally_core::event::COLUMNS.join(", ");
    let unmatched: i64 =
        t.db.value(&format!("SELECT count(*) FROM (SELECT {cols}, count(*) AS n FROM tally.events_hot GROUP BY {cols}) g WHERE n <> 2"))
            .await;
    let stored: i64 = t.db.value("SELECT count(*) FROM tally.events_hot").await;
    assert_eq!((stored, unmatched), (600, 0));
}
