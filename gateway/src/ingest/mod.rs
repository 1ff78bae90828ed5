//! The ingest pipeline, as named steps: parse → resolve site → classify client (drop
//! bots) → page and referrer fields → visitor → session → batch → COMMIT.
//!
//! Every step either passes the event on or ends it with an [`ApiError`] (the request was
//! wrong) or a [`Drop`] (the request was fine but the event is not analytics, e.g. a bot).

pub mod batcher;
pub mod enrich;
pub mod payload;
pub mod session;
pub mod store;
pub mod user_agent;
pub mod visitor;

use std::net::IpAddr;

use serde::Serialize;
use tally_core::event::Event;

use crate::error::ApiError;
use crate::sites::Site;
use payload::IncomingEvent;

/// Why an accepted request stored no event. Reported in the 202 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Drop {
    /// The user agent is a crawler or monitoring bot.
    Bot,
}

/// What the request itself tells about the client, beyond its body.
#[derive(Debug, Clone)]
pub struct ClientContext {
    pub ip: IpAddr,
    pub user_agent: String,
    /// Arrival time, µs since the epoch: the event's timestamp.
    pub received_us: i64,
}

/// Builds the stored event for one site from a validated request. `visitor_id` and
/// `session_id` come from [`visitor`] and [`session`], which need shared state.
pub fn build_event(
    incoming: &IncomingEvent,
    site: &Site,
    client: &user_agent::ClientFields,
    ts: i64,
    visitor_id: i64,
    session_id: i64,
) -> Event {
    let page = enrich::page_fields(&incoming.url);
    let referrer = enrich::referrer_fields(incoming.referrer.as_ref(), &page.hostname, page.utm_source.as_deref());
    Event {
        site_id: site.site_id,
        ts,
        name: incoming.name.clone(),
        visitor_id,
        session_id,
        hostname: page.hostname,
        pathname: page.pathname,
        referrer: referrer.referrer,
        referrer_source: referrer.referrer_source,
        utm_source: page.utm_source,
        utm_medium: page.utm_medium,
        utm_campaign: page.utm_campaign,
        utm_term: page.utm_term,
        utm_content: page.utm_content,
        country: None,
        region: None,
        city: None,
        browser: client.browser.clone(),
        browser_version: client.browser_version.clone(),
        os: client.os.clone(),
        os_version: client.os_version.clone(),
        device: client.device.clone(),
        screen_width: incoming.screen_width,
        engagement_ms: None,
        revenue_micros: incoming.revenue.as_ref().map(|r| r.micros),
        revenue_currency: incoming.revenue.as_ref().map(|r| r.currency.clone()),
        props: incoming.props.clone(),
    }
}

/// Rejects an event whose domains name no known site.
pub fn require_sites(sites: Vec<Site>) -> Result<Vec<Site>, ApiError> {
    if sites.is_empty() {
        return Err(ApiError::bad_request("domain", "domain names no site registered in Tally"));
    }
    Ok(sites)
}
