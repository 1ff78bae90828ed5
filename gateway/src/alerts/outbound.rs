//! Which addresses alert webhooks may reach. A webhook URL is typed by an analyst, so
//! without a check it points the gateway at whatever the gateway can reach and the
//! analyst cannot: the cloud's metadata service (169.254.169.254), Postgres on
//! loopback, the intranet. Webhooks therefore go only to public addresses, plus the
//! networks an operator allows (`--webhook-allow`, for intranet receivers).
//!
//! The check is on the address the connection is made to, at send time: the client's
//! DNS resolver ([`PolicyResolver`]) drops every refused address from the answer, so a
//! name that resolves (or re-resolves, DNS rebinding) to an internal address is never
//! connected to; literal IPs in URLs, which skip the resolver, are checked before
//! the request is built ([`AddressPolicy::check_url`]). Redirects are not followed
//! and proxies from the environment are not used, so nothing else chooses the address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Networks no webhook reaches unless allowed: IANA's special-purpose registries
/// (RFC 6890 and successors) minus the globally reachable entries. IPv4-mapped IPv6
/// addresses are checked as the IPv4 address they map.
const REFUSED: [&str; 21] = [
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private
    "100.64.0.0/10",   // carrier-grade NAT (also Alibaba Cloud's metadata, 100.100.100.200)
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local: cloud metadata services (169.254.169.254)
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation
    "192.168.0.0/16",  // private
    "198.18.0.0/15",   // benchmarking
    "198.51.100.0/24", // documentation
    "203.0.113.0/24",  // documentation
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, broadcast
    "::/128",          // unspecified
    "::1/128",         // loopback
    "64:ff9b::/96",    // NAT64: reaches IPv4 addresses through the local translator
    "100::/64",        // discard
    "fc00::/7",        // unique-local (AWS's IPv6 metadata, fd00:ec2::254)
    "fe80::/10",       // link-local
    "ff00::/8",        // multicast
];

static REFUSED_NETS: LazyLock<Vec<IpNet>> =
    LazyLock::new(|| REFUSED.iter().map(|n| n.parse().expect("the refused networks are valid CIDRs")).collect());

/// Why a webhook was not sent: its address is not one webhooks may reach.
#[derive(Debug, thiserror::Error)]
#[error("the receiver's address is not allowed: loopback, private, link-local and other internal addresses need TALLY_WEBHOOK_ALLOW")]
pub struct NotAllowed;

/// The addresses webhooks may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Networks allowed even though they are internal (`--webhook-allow`).
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    pub fn new(allow: Vec<IpNet>) -> AddressPolicy {
        AddressPolicy { allow }
    }

    /// Whether a webhook may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip)) || !REFUSED_NETS.iter().any(|net| net.contains(&ip))
    }

    /// Refuses a URL whose host is a literal refused IP (the resolver never sees those).
    pub fn check_url(&self, url: &url::Url) -> Result<(), NotAllowed> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(NotAllowed)
        }
    }
}

/// The webhook client's DNS resolver: the system's answer without refused addresses,
/// an error when none is left.
pub struct PolicyResolver(pub Arc<AddressPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            // The port is a placeholder: the client puts the URL's port on each address.
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> = resolved.filter(|a| policy.permits(a.ip())).collect();
            if permitted.is_empty() {
                return Err(Box::new(NotAllowed) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// Whether `error` or one of its causes is a [`NotAllowed`].
pub fn is_not_allowed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<NotAllowed>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let policy = AddressPolicy::default();
        for refused in ["127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.1.1", "169.254.169.254", "100.100.100.200", "0.0.0.0", "224.0.0.1"]
            .into_iter()
            .chain(["::1", "::", "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1"])
        {
            assert!(!policy.permits(refused.parse().unwrap()), "{refused}");
        }
        for public in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(policy.permits(public.parse().unwrap()), "{public}");
        }
        let intranet = AddressPolicy::new(vec!["10.0.0.0/8".parse().unwrap()]);
        assert!(intranet.permits("10.9.8.7".parse().unwrap()));
        assert!(intranet.permits("::ffff:10.9.8.7".parse().unwrap()));
        assert!(!intranet.permits("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn literal_hosts_in_any_spelling_are_checked() {
        let policy = AddressPolicy::default();
        for url in ["http://127.0.0.1:5432/", "http://2130706433/", "http://0x7f.1/", "http://[::1]/", "http://[::ffff:169.254.169.254]/"] {
            assert!(policy.check_url(&url.parse().unwrap()).is_err(), "{url}");
        }
        assert!(policy.check_url(&"https://hooks.example/x".parse().unwrap()).is_ok());
    }
}
