//! The ingest pipeline, as named steps: parse → resolve site → classify client (drop
//! bots) → page, referrer, channel and location fields → visitor → session → batch → COMMIT (or
//! the disk spool while Postgres is unreachable).
//!
//! Every step either passes the event on or ends it with an [`ApiError`](crate::error::ApiError) (the request was
//! wrong) or a [`Drop`] (the request was fine but the event is not analytics, e.g. a bot).
//! Nothing on the way blocks on I/O per event: sites, keys and the day's salt are cached,
//! the UA, referrer and MMDB lookups are in memory.

pub mod batch;
pub mod batcher;
pub mod channel;
pub mod encoded;
pub mod enrich;
pub mod geo;
pub mod payload;
pub mod referrer_source;
pub mod session;
pub mod spool;
pub mod store;
pub mod text;
pub mod user_agent;
pub mod visitor;

use std::net::IpAddr;

use serde::Serialize;
use tally_core::event::Event;

use crate::sites::Site;
use geo::{Geo, Location};
use payload::IncomingEvent;
use session::Sessions;
use visitor::VisitorIds;

/// Why an accepted request stored no event. Reported in the 202 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Drop {
    /// The user agent is a crawler, monitoring tool or other bot.
    Bot,
    /// The domain names no site of this Tally: a tracker left on a page after its site
    /// was removed, or a typo. Plausible answers these 202 too, so a page never sees
    /// an error for a setting only its owner can fix; `/metrics` counts them.
    UnknownSite,
}

impl Drop {
    pub fn label(self) -> &'static str {
        match self {
            Drop::Bot => "bot",
            Drop::UnknownSite => "unknown_site",
        }
    }
}

/// What is known about the client that caused an event, beyond the event's body.
#[derive(Debug, Clone)]
pub struct ClientContext {
    /// Used for the visitor id and location only; never stored.
    pub ip: IpAddr,
    pub user_agent: String,
    /// When the event happened, µs since the epoch.
    pub ts: i64,
    pub location: Location,
}

/// The shared state of the enrichment steps.
pub struct Pipeline {
    pub visitors: VisitorIds,
    pub sessions: Sessions,
    pub geo: Geo,
}

impl Pipeline {
    /// The stored event for one site, or why there is none. `salt` is the day's
    /// visitor salt ([`VisitorIds::salt`]) and `fields` the parsed user agent
    /// ([`user_agent::client_fields`]), both computed once per request where they can be.
    pub fn event(
        &self,
        incoming: &IncomingEvent,
        site: &Site,
        client: &ClientContext,
        fields: &user_agent::ClientFields,
        salt: &[u8; 16],
    ) -> Result<Event, Drop> {
        if fields.is_bot {
            return Err(Drop::Bot);
        }
        let visitor_id = visitor::visitor_id(salt, site.site_id, client.ip, &client.user_agent);
        let session_id = self.sessions.session_id(site.site_id, visitor_id, client.ts);
        let page = enrich::page_fields(&incoming.url, incoming.hash_mode);
        let referrer = enrich::referrer_fields(incoming.referrer.as_ref(), &page.hostname, page.utm_source.as_deref());
        let channel = channel::channel(&channel::Acquisition {
            source: referrer.referrer_source.as_deref(),
            utm_source: page.utm_source.as_deref(),
            utm_medium: page.utm_medium.as_deref(),
            utm_campaign: page.utm_campaign.as_deref(),
            click_id: channel::click_id(&incoming.url),
        });
        Ok(Event {
            site_id: site.site_id,
            ts: client.ts,
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
            country: client.location.country.clone(),
            region: client.location.region.clone(),
            city: client.location.city.clone(),
            browser: fields.browser.clone(),
            browser_version: fields.browser_version.clone(),
            os: fields.os.clone(),
            os_version: fields.os_version.clone(),
            device: enrich::device_class(incoming.screen_width, fields.device.as_deref()),
            screen_width: incoming.screen_width,
            engagement_ms: incoming.engagement_ms,
            revenue_micros: incoming.revenue.as_ref().map(|r| r.micros),
            revenue_currency: incoming.revenue.as_ref().map(|r| r.currency.clone()),
            props: incoming.props.clone(),
            scroll_depth: incoming.scroll_depth,
            interactive: Some(incoming.interactive),
            channel: Some(channel.name().to_owned()),
        })
    }
}
