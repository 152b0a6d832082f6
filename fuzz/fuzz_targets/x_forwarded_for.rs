//! Fuzz target: working out the client (`http::client_addr::client_address`) from a peer
//! address, any number of `X-Forwarded-For` values (arbitrary bytes, as a client may send) and
//! `ip=`.
//!
//! Input: byte 0 picks the `ip=` policy, the peer's form and whether `ip=` is present;
//! then 4 or 16 bytes of peer address; the rest, split on `\n`, is `ip=` (if present) and then
//! the header values. Checked: no panic; the decisions-2/3 rules hold: an untrusted peer is
//! the client unless the policy is `any`; a client address is never an IPv4-mapped IPv6
//! one; the logged bad entry is short.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use mirrorlist::answer::Client;
use mirrorlist::server::client_addr::{client_address, IpParamPolicy, TrustedProxies};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let policy = match flags & 3 {
        0 => IpParamPolicy::Trusted,
        1 => IpParamPolicy::Any,
        _ => IpParamPolicy::Never,
    };
    let (peer, rest) = match (flags >> 2) & 3 {
        0 | 1 if rest.len() >= 4 => {
            let b: [u8; 4] = rest[..4].try_into().unwrap();
            let v4 = Ipv4Addr::from(b);
            let ip = if flags & 4 == 0 {
                IpAddr::V4(v4)
            } else {
                IpAddr::V6(v4.to_ipv6_mapped())
            };
            (ip, &rest[4..])
        }
        _ if rest.len() >= 16 => {
            let b: [u8; 16] = rest[..16].try_into().unwrap();
            (IpAddr::V6(Ipv6Addr::from(b)), &rest[16..])
        }
        _ => return,
    };
    let mut pieces = rest.split(|b| *b == b'\n');
    let ip_param = if flags & 16 != 0 {
        pieces.next().map(String::from_utf8_lossy)
    } else {
        None
    };
    let headers: Vec<&[u8]> = pieces.collect();
    let trusted = if flags & 32 == 0 {
        TrustedProxies::default()
    } else {
        TrustedProxies::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ])
    };
    let resolved = client_address(
        peer,
        headers.iter().copied(),
        ip_param.as_deref(),
        &trusted,
        policy,
    );
    let canonical_peer = peer.to_canonical();
    if !trusted.contains(peer) {
        assert!(resolved.bad_forwarded.is_none());
        if policy != IpParamPolicy::Any || ip_param.as_deref().is_none_or(str::is_empty) {
            assert_eq!(resolved.client, Client::Addr(canonical_peer));
        }
    }
    if let Client::Addr(IpAddr::V6(v6)) = resolved.client {
        assert!(v6.to_ipv4_mapped().is_none(), "mapped address leaked: {v6}");
    }
    if let Some(bad) = &resolved.bad_forwarded {
        assert!(bad.chars().count() <= 100);
    }
});
