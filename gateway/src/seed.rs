//! `tally-gateway seed`: loads generated demo traffic into one site through the same
//! batch writer path as live ingest, so the demo exercises what production runs.

use deadpool_postgres::Pool;
use tally_core::datagen::{Config as GenConfig, DataGen};

use crate::config::SeedConfig;
use crate::ingest::channel::{channel, Acquisition};
use crate::ingest::store;

/// Rows per COPY: large enough to amortise the round trip, small enough to show progress.
const CHUNK: usize = 20_000;

/// Creates the sites if needed and stores `config.events` events ending now. Returns how
/// many were stored.
pub async fn run(pool: &Pool, config: &SeedConfig) -> anyhow::Result<u64> {
    let client = pool.get().await?;
    // (site id, domain) for the generator's sites 1..=sites.
    let mut sites = Vec::with_capacity(config.sites as usize);
    for k in 1..=config.sites {
        let domain = if k == 1 { config.domain.clone() } else { format!("site{k}.{}", config.domain) };
        let site_id: i32 = client.query_one("SELECT tally.create_site($1)", &[&domain]).await?.get(0);
        sites.push((site_id, domain));
    }
    drop(client);
    let now_us = chrono::Utc::now().timestamp_micros();
    let gen = DataGen::new(GenConfig {
        seed: config.seed,
        sites: config.sites,
        days: config.days,
        events: config.events,
        start_ts: now_us - i64::from(config.days) * 86_400_000_000,
    });
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut stored = 0u64;
    for mut event in gen {
        let (site_id, domain) = &sites[(event.site_id - 1) as usize];
        event.site_id = *site_id;
        event.hostname.clone_from(domain);
        // The channel live ingest would give the generated source and tags.
        let acquisition = Acquisition {
            source: event.referrer_source.as_deref(),
            utm_source: event.utm_source.as_deref(),
            utm_medium: event.utm_medium.as_deref(),
            utm_campaign: event.utm_campaign.as_deref(),
            click_id: None,
        };
        event.channel = Some(channel(&acquisition).name().to_owned());
        chunk.push(event);
        if chunk.len() == CHUNK {
            store::write_events(pool, &chunk).await?;
            stored += chunk.len() as u64;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        store::write_events(pool, &chunk).await?;
        stored += chunk.len() as u64;
    }
    Ok(stored)
}
