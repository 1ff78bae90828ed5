//! The client's address for ingest (visitor ids, location), sign-in limits, lockouts
//! and the audit log. Behind a
//! reverse proxy the TCP peer is the proxy, so every client would share one limit;
//! `X-Forwarded-For` names the client, but only the entries appended by proxies we
//! run can be believed: a client may send the header itself with any addresses in it.
//!
//! With `--trust-proxy`, a peer inside `--trusted-proxies` is a proxy of ours, and
//! the header is read from the right (each proxy appends the address it received
//! from): the first entry that is not one of our proxies is the client. Entries left
//! of it were written by the client and are ignored, so a spoofed header cannot
//! choose the address a limit is counted against.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::state::AppState;

/// The client address of a request, by the module's rule.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(of(parts, state)))
    }
}

/// The client address of the request `parts`, as [`ClientIp`] gives it.
pub fn of(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    resolve(&parts.headers, peer, trusted_proxies(state))
}

/// The proxies whose headers are believed: none without `--trust-proxy`.
pub fn trusted_proxies(state: &AppState) -> &[IpNet] {
    if state.config.trust_proxy {
        &state.config.trusted_proxies
    } else {
        &[]
    }
}

/// Whether `peer` is one of the `trusted` proxies, so that the headers it adds (the
/// forwarded address, a CDN's location headers) may be believed.
pub fn is_proxy(peer: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&peer.to_canonical()))
}

/// The right-most `X-Forwarded-For` address that is not a `trusted` proxy, when
/// `peer` is one; otherwise `peer`.
pub fn resolve(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let is_proxy = |ip: IpAddr| is_proxy(ip, trusted);
    if !is_proxy(peer) {
        return peer;
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let mut client = peer;
    for hop in hops.collect::<Vec<_>>().into_iter().rev() {
        // An entry that is not an address ends the chain: what lies left of it is
        // unverifiable, and the last proxy that forwarded it is what we know.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip;
        if !is_proxy(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        values.iter().map(|v| (axum::http::HeaderName::from_static("x-forwarded-for"), v.parse().unwrap())).collect()
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(resolve(&xff(&["203.0.113.9"]), proxy, &trusted), ip("203.0.113.9"));
        // The client wrote the left part itself; our proxies appended the rest.
        assert_eq!(resolve(&xff(&["1.2.3.4, 203.0.113.9, 10.1.1.1"]), proxy, &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(&xff(&["1.2.3.4", "203.0.113.9"]), proxy, &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(&xff(&["garbage, 203.0.113.9"]), proxy, &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(&xff(&["203.0.113.9, garbage"]), proxy, &trusted), proxy);
        assert_eq!(resolve(&xff(&[]), proxy, &trusted), proxy);
        // Not from a proxy of ours: the header is the client's own word.
        assert_eq!(resolve(&xff(&["1.2.3.4"]), ip("198.51.100.7"), &trusted), ip("198.51.100.7"));
        assert_eq!(resolve(&xff(&["1.2.3.4"]), proxy, &[]), proxy);
    }
}
