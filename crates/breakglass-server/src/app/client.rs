//! Who is on the other end: the client's IP address, which the login limiter keys on.
//!
//! Behind a TLS-terminating proxy every connection comes from the proxy, so the address that
//! counts is in `X-Forwarded-For`, which each proxy extends with the address it was
//! connected from. Anyone can send that header, though: it is believed only when the TCP
//! peer is a configured trusted proxy ([`TrustedProxies`], `breakglass serve
//! --trusted-proxy`), and then read from the right, skipping the trusted proxies; the first
//! address that is not one is the client. Everything to its left was written by the client
//! and is ignored. Without trusted proxies the peer is the client and the header is ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// One trusted proxy: an address or a CIDR block (`127.0.0.1/32`, `10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|ip| Self(IpNet::from(ip)))
            .map_err(|_| {
                format!(
                    "`{text}` is not an IP address or CIDR block (e.g. `10.0.0.0/8`, `::1/128`)"
                )
            })
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<TrustedProxy>);

impl TrustedProxies {
    /// These proxies.
    pub fn new(proxies: impl IntoIterator<Item = TrustedProxy>) -> Self {
        Self(proxies.into_iter().collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|p| p.0.contains(&ip))
    }

    /// The client's address for a connection from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Every `X-Forwarded-For` header, in order, as one list.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Not an address: not written by a proxy we trust. The last hop we could
                // read is as far as the chain of trust goes.
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, as a dual-stack listener reports
/// IPv4 peers) as the IPv4 address, so that it matches IPv4 blocks and keys alike.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`10.0.0.1:5000`,
/// `[::1]:5000`), as some proxies write.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().unwrap()))
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peers_header_is_ignored() {
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(
            TrustedProxies::default().client(ip("198.51.100.1"), &h),
            ip("198.51.100.1")
        );
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        // The client claims to be 1.2.3.4; the edge proxy appended its real address, the
        // inner proxy appended the edge's.
        let h = forwarded(&["1.2.3.4, 203.0.113.7", "10.1.1.1"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // A port and a mapped IPv4 peer are understood.
        let h = forwarded(&["203.0.113.8:5123"]);
        assert_eq!(p.client(ip("::ffff:10.0.0.2"), &h), ip("203.0.113.8"));
        // A trusted peer without the header is the client itself.
        assert_eq!(p.client(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_ends_the_chain_of_trust() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = forwarded(&["203.0.113.7, unknown, 10.0.0.3"]);
        assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.0.0.3"));
    }

    #[test]
    fn proxies_parse_as_blocks_or_addresses_and_refuse_anything_else() {
        assert_eq!(
            "10.1.2.3/8".parse::<TrustedProxy>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            "::1".parse::<TrustedProxy>().unwrap().to_string(),
            "::1/128"
        );
        let err = "localhost".parse::<TrustedProxy>().unwrap_err();
        assert!(err.contains("`localhost`"), "{err}");
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
    }
}
