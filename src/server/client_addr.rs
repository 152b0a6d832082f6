//! Who the client is (decisions 2 and 3): the TCP peer, or, behind trusted proxies, the first
//! untrusted address of `X-Forwarded-For` read right to left; and whether `ip=` may override it.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::answer::{Client, ClientSource};

/// Who may send `ip=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpParamPolicy {
    /// Anyone (MirrorManager's behaviour; lets anyone pose as a private netblock).
    Any,
    /// Only trusted proxies (default).
    #[default]
    Trusted,
    /// Nobody.
    Never,
}

/// The networks whose `X-Forwarded-For` we believe.
#[derive(Debug, Clone)]
pub struct TrustedProxies(Vec<IpNet>);

impl Default for TrustedProxies {
    /// Loopback only: a reverse proxy on the same machine.
    fn default() -> Self {
        TrustedProxies(vec![
            "127.0.0.0/8".parse().expect("literal"),
            "::1/128".parse().expect("literal"),
        ])
    }
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// The outcome of working out the client, with a note when a header was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub client: Client,
    /// Where the address came from (`/explain` shows it).
    pub source: ClientSource,
    /// Set when an `X-Forwarded-For` entry did not parse (the caller logs it).
    pub bad_forwarded: Option<String>,
}

/// Works out the client from the peer, the `X-Forwarded-For` values (in header order) and
/// the `ip=` parameter.
pub fn client_address<'h>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'h [u8]>,
    ip_param: Option<&str>,
    trusted: &TrustedProxies,
    policy: IpParamPolicy,
) -> Resolved {
    let peer = peer.to_canonical();
    let peer_trusted = trusted.contains(peer);
    let honour_ip = match policy {
        IpParamPolicy::Any => true,
        IpParamPolicy::Trusted => peer_trusted,
        IpParamPolicy::Never => false,
    };
    if let (true, Some(value)) = (honour_ip, ip_param.filter(|v| !v.is_empty())) {
        let client = match value.trim().parse::<IpAddr>() {
            Ok(ip) => Client::Addr(ip.to_canonical()),
            Err(_) => Client::BadIp,
        };
        return Resolved {
            client,
            source: ClientSource::IpParam,
            bad_forwarded: None,
        };
    }
    if !peer_trusted {
        return Resolved {
            client: Client::Addr(peer),
            source: ClientSource::Peer,
            bad_forwarded: None,
        };
    }
    // Right to left over all entries of all headers.
    let entries: Vec<&[u8]> = forwarded
        .flat_map(|value| value.split(|b| *b == b','))
        .collect();
    let mut last_trusted = peer;
    for raw in entries.iter().rev() {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match parse_forwarded_entry(text) {
            Some(ip) if trusted.contains(ip) => last_trusted = ip,
            Some(ip) => {
                return Resolved {
                    client: Client::Addr(ip),
                    source: ClientSource::XForwardedFor,
                    bad_forwarded: None,
                }
            }
            None => {
                return Resolved {
                    client: Client::Addr(last_trusted),
                    source: source_of(last_trusted, peer),
                    bad_forwarded: Some(text.chars().take(100).collect()),
                }
            }
        }
    }
    Resolved {
        client: Client::Addr(last_trusted),
        source: source_of(last_trusted, peer),
        bad_forwarded: None,
    }
}

/// The source of an address taken from a trusted chain: the peer itself, or an entry of
/// `X-Forwarded-For`.
fn source_of(chosen: IpAddr, peer: IpAddr) -> ClientSource {
    if chosen == peer {
        ClientSource::Peer
    } else {
        ClientSource::XForwardedFor
    }
}

/// An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`.
fn parse_forwarded_entry(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    let (host, port) = text.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(peer: &str, xff: &[&str], ip: Option<&str>, policy: IpParamPolicy) -> Resolved {
        client_address(
            peer.parse().unwrap(),
            xff.iter().map(|s| s.as_bytes()),
            ip,
            &TrustedProxies::default(),
            policy,
        )
    }

    fn addr(s: &str) -> Client {
        Client::Addr(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peers_cannot_spoof() {
        let r = resolve(
            "203.0.113.9",
            &["10.0.0.1"],
            Some("10.0.0.2"),
            IpParamPolicy::Trusted,
        );
        assert_eq!(r.client, addr("203.0.113.9"));
    }

    #[test]
    fn walks_trusted_chain_right_to_left() {
        let r = resolve(
            "127.0.0.1",
            &["198.51.100.7, 203.0.113.1,127.0.0.5", "::1"],
            None,
            IpParamPolicy::Trusted,
        );
        assert_eq!(r.client, addr("203.0.113.1"));
        assert_eq!(r.source, ClientSource::XForwardedFor);
        let r = resolve("127.0.0.1", &[], None, IpParamPolicy::Trusted);
        assert_eq!(r.source, ClientSource::Peer);
        let r = resolve("127.0.0.1", &[], Some("192.0.2.1"), IpParamPolicy::Trusted);
        assert_eq!(r.source, ClientSource::IpParam);
    }

    #[test]
    fn garbage_falls_back_to_last_trusted_hop() {
        let r = resolve(
            "127.0.0.1",
            &["198.51.100.7, n\u{e9}pe"],
            None,
            IpParamPolicy::Trusted,
        );
        assert_eq!(r.client, addr("127.0.0.1"));
        assert!(r.bad_forwarded.is_some());
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let r = resolve(
            "::ffff:127.0.0.1",
            &["::ffff:198.51.100.7"],
            None,
            IpParamPolicy::Trusted,
        );
        assert_eq!(r.client, addr("198.51.100.7"));
    }

    #[test]
    fn ip_param_policy() {
        assert_eq!(
            resolve("127.0.0.1", &[], Some("nope"), IpParamPolicy::Trusted).client,
            Client::BadIp
        );
        assert_eq!(
            resolve("127.0.0.1", &[], Some(""), IpParamPolicy::Trusted).client,
            addr("127.0.0.1")
        );
        assert_eq!(
            resolve("127.0.0.1", &[], Some("192.0.2.1"), IpParamPolicy::Never).client,
            addr("127.0.0.1")
        );
        assert_eq!(
            resolve("203.0.113.9", &[], Some("192.0.2.1"), IpParamPolicy::Any).client,
            addr("192.0.2.1")
        );
        assert_eq!(
            resolve(
                "127.0.0.1",
                &["[2001:db8::1]:443", "192.0.2.4:80"],
                None,
                IpParamPolicy::Trusted
            )
            .client,
            addr("192.0.2.4")
        );
    }
}
