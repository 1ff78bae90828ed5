//! Writes a batch of events into `tally.events_hot` with one binary COPY inside one
//! transaction: the fastest way into Postgres, typed end to end, and all-or-nothing,
//! so a batch is either committed and acknowledged or failed and reported.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures_util::pin_mut;
use serde_json::{Map, Value};
use tally_core::event::{Event, COLUMNS};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::error::DbError;

/// Column types of `tally.events_hot`, in [`COLUMNS`] order.
const TYPES: [Type; 27] = [
    Type::INT4,        // site_id
    Type::TIMESTAMPTZ, // ts
    Type::TEXT,        // name
    Type::INT8,        // visitor_id
    Type::INT8,        // session_id
    Type::TEXT,        // hostname
    Type::TEXT,        // pathname
    Type::TEXT,        // referrer
    Type::TEXT,        // referrer_source
    Type::TEXT,        // utm_source
    Type::TEXT,        // utm_medium
    Type::TEXT,        // utm_campaign
    Type::TEXT,        // utm_term
    Type::TEXT,        // utm_content
    Type::TEXT,        // country
    Type::TEXT,        // region
    Type::TEXT,        // city
    Type::TEXT,        // browser
    Type::TEXT,        // browser_version
    Type::TEXT,        // os
    Type::TEXT,        // os_version
    Type::TEXT,        // device
    Type::INT4,        // screen_width
    Type::INT4,        // engagement_ms
    Type::INT8,        // revenue_micros
    Type::TEXT,        // revenue_currency
    Type::JSONB,       // props
];

/// Commits `events` to the hot table. Returns once the transaction has committed.
pub async fn write_batch(pool: &Pool, events: &[Event]) -> Result<(), DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let copy = format!("COPY tally.events_hot ({}) FROM STDIN (FORMAT binary)", COLUMNS.join(", "));
    let sink = tx.copy_in(&copy).await?;
    let writer = BinaryCopyInWriter::new(sink, &TYPES);
    pin_mut!(writer);
    for e in events {
        let ts: DateTime<Utc> = DateTime::from_timestamp_micros(e.ts).expect("validated timestamps are in range");
        let props = Value::Object(e.props.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>());
        let row: [&(dyn ToSql + Sync); 27] = [
            &e.site_id,
            &ts,
            &e.name,
            &e.visitor_id,
            &e.session_id,
            &e.hostname,
            &e.pathname,
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
            &e.screen_width,
            &e.engagement_ms,
            &e.revenue_micros,
            &e.revenue_currency,
            &props,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}
