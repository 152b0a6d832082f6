//! Fuzz target: one request through client resolution, select and render, on a fixed
//! snapshot compiled once from the sample in `data/` (36 hosts, one of them private).
//!
//! Input: byte 0 picks the endpoint, the `ip=` policy and how the peer address is given
//! (one of the sample's interesting clients, 4 raw bytes, 16 raw bytes, or IPv4-mapped);
//! then the address bytes; the rest, as text, is the query, then `X-Forwarded-For` values,
//! one per `\n`-separated line.
//!
//! Checked: no panic; only the statuses the protocol allows; and privacy (decisions 2, 3 and
//! the private-host rule): the private mirror `mirror.corp-intranet.example.com` appears in an
//! answer only when the client the server settled on is inside one of its netblocks, and an
//! untrusted peer's `ip=` and `X-Forwarded-For` are ignored under the default policy.

#![no_main]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::OnceLock;

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use mirrorlist::answer::Client;
use mirrorlist::build::Inputs;
use mirrorlist::server::client_addr::{client_address, IpParamPolicy, TrustedProxies};
use mirrorlist::answer::request::{Mode, Params};
use mirrorlist::snapshot::Snapshot;
use mirrorlist::build::source::Source;

const PRIVATE_HOST: &str = "mirror.corp-intranet.example.com";

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
        let (snapshot, _warnings) = Source::Inputs(Inputs::Native(dir))
            .load()
            .expect("the sample in data/ loads");
        snapshot
    })
}

fn private_nets() -> [IpNet; 2] {
    [
        "198.51.100.64/26".parse().unwrap(),
        "2001:db8:840:cafe::/64".parse().unwrap(),
    ]
}

const CLIENTS: [&str; 12] = [
    "198.51.100.70",
    "2001:db8:840:cafe::10",
    "127.0.0.1",
    "::1",
    "198.51.100.10",
    "192.0.2.129",
    "203.0.113.10",
    "192.0.2.200",
    "192.0.2.166",
    "2001:db8:410:1::10",
    "::ffff:198.51.100.70",
    "192.0.2.1",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mode = if flags & 1 == 0 {
        Mode::Mirrorlist
    } else {
        Mode::Metalink
    };
    let policy = match (flags >> 1) & 3 {
        0 | 3 => IpParamPolicy::Trusted,
        1 => IpParamPolicy::Any,
        _ => IpParamPolicy::Never,
    };
    let (peer, rest): (IpAddr, &[u8]) = match (flags >> 3) & 3 {
        0 => match rest.split_first() {
            Some((&i, r)) => (CLIENTS[i as usize % CLIENTS.len()].parse().unwrap(), r),
            None => return,
        },
        1 if rest.len() >= 4 => {
            let b: [u8; 4] = rest[..4].try_into().unwrap();
            (Ipv4Addr::from(b).into(), &rest[4..])
        }
        2 if rest.len() >= 16 => {
            let b: [u8; 16] = rest[..16].try_into().unwrap();
            (Ipv6Addr::from(b).into(), &rest[16..])
        }
        3 if rest.len() >= 4 => {
            let b: [u8; 4] = rest[..4].try_into().unwrap();
            (Ipv4Addr::from(b).to_ipv6_mapped().into(), &rest[4..])
        }
        _ => return,
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let query = lines.next().unwrap_or("");
    let forwarded: Vec<&str> = lines.collect();

    let params = Params::parse(query);
    let trusted = TrustedProxies::default();
    let resolved = client_address(
        peer,
        forwarded.iter().map(|s| s.as_bytes()),
        params.ip.as_deref(),
        &trusted,
        policy,
    );
    if !trusted.contains(peer) && policy != IpParamPolicy::Any {
        assert_eq!(resolved.client, Client::Addr(peer.to_canonical()));
    }
    let reply = common::ask(snapshot(), mode, query, resolved.client);

    let shows_private = String::from_utf8_lossy(&reply.body).contains(PRIVATE_HOST)
        || reply
            .location
            .as_deref()
            .is_some_and(|l| l.contains(PRIVATE_HOST));
    if shows_private {
        let Client::Addr(ip) = resolved.client else {
            panic!("private host given to a client without an address");
        };
        assert!(
            private_nets().iter().any(|n| n.contains(&ip)),
            "private host given to {ip} (peer {peer}, query {query:?})"
        );
        assert!(
            params.netblock_matching(),
            "private host given with netblock=0"
        );
    }
});
