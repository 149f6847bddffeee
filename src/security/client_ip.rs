//! Who is calling (S8): the peer address, unless the peer is a trusted proxy, in which case
//! `X-Forwarded-For` (right to left, skipping trusted hops), `X-Forwarded-Proto` and
//! `X-Forwarded-Host` are believed.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// `https` when the proxy says so, otherwise `http`.
    pub scheme: &'static str,
    pub host: Option<String>,
    pub via_trusted_proxy: bool,
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    trusted.iter().any(|net| net.contains(&ip))
}

fn parse_forwarded_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    // "[::1]" without a port
    s.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientInfo {
    let peer_ip = match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer.ip(), IpAddr::V4),
        ip @ IpAddr::V4(_) => ip,
    };
    let via_trusted_proxy = is_trusted(peer_ip, trusted);
    // A pass over the names is cheaper than hashing three of them for lookups, and requests
    // that reach Spotter without a proxy carry none of them.
    let forwarded = || {
        headers.keys().any(|name| {
            name == X_FORWARDED_FOR || name == X_FORWARDED_PROTO || name == X_FORWARDED_HOST
        })
    };
    if !via_trusted_proxy || !forwarded() {
        return ClientInfo {
            ip: peer_ip,
            scheme: "http",
            host: None,
            via_trusted_proxy,
        };
    }
    // Walk X-Forwarded-For from the right: the first hop we don't trust is the client.
    let mut client = peer_ip;
    let hops = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for hop in hops.rev() {
        match parse_forwarded_ip(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip, trusted) {
                    break;
                }
            }
            None => break,
        }
    }
    // The last entry is the one our trusted proxy wrote; earlier ones came from the client.
    let header = |name: &HeaderName| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 255)
    };
    let scheme = match header(&X_FORWARDED_PROTO) {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    ClientInfo {
        ip: client,
        scheme,
        host: header(&X_FORWARDED_HOST).map(str::to_owned),
        via_trusted_proxy: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn loopback() -> Vec<IpNet> {
        vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()]
    }

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let peer: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let c = resolve(peer, &headers("198.51.100.1"), &loopback());
        assert_eq!(c.ip, peer.ip());
        assert_eq!(c.scheme, "http");
        assert!(!c.via_trusted_proxy);
    }

    #[test]
    fn trusted_proxy_gives_rightmost_untrusted_hop() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        // A client-supplied spoofed first entry is skipped: the proxy appended the real one.
        let c = resolve(peer, &headers("1.2.3.4, 198.51.100.7"), &loopback());
        assert_eq!(c.ip.to_string(), "198.51.100.7");
        assert_eq!(c.scheme, "https");
    }

    #[test]
    fn forwarded_proto_and_host_come_from_the_last_hop() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("evil.example, music.example.org"),
        );
        let c = resolve(peer, &h, &loopback());
        assert_eq!(c.scheme, "http");
        assert_eq!(c.host.as_deref(), Some("music.example.org"));
    }

    #[test]
    fn a_trusted_peer_without_forwarded_headers_is_the_client() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("music.example.org"));
        let c = resolve(peer, &h, &loopback());
        assert_eq!(c.ip, peer.ip());
        assert_eq!((c.scheme, c.host), ("http", None));
        assert!(c.via_trusted_proxy);

        // Any one of the three is enough to be read.
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        assert_eq!(
            resolve(peer, &h, &loopback()).ip.to_string(),
            "198.51.100.7"
        );
    }

    #[test]
    fn empty_trust_list_trusts_nobody() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let c = resolve(peer, &headers("198.51.100.7"), &[]);
        assert_eq!(c.ip.to_string(), "127.0.0.1");
    }

    #[test]
    fn garbage_forwarded_for_stops_at_the_proxy() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let c = resolve(peer, &headers("not-an-ip"), &loopback());
        assert_eq!(c.ip.to_string(), "127.0.0.1");
        let c = resolve(peer, &headers("[2001:db8::1]:443"), &loopback());
        assert_eq!(c.ip.to_string(), "2001:db8::1");
    }
}
