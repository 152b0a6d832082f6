//! Trusted proxies, `X-Forwarded-For` and `ip=` over real HTTP (decisions 2 and 3): who the
//! server believes the client is, proved by what it answers, with the private mirror of the
//! `data/` sample as the thing an untrusted client must never get.
//!
//! The sample's private host, mirror.corp-intranet.example.com, is only in the by-host lists
//! of its directories, with the netblocks 198.51.100.64/26 and 2001:db8:840:cafe::/64
//! (data/README.md): only a client inside them gets it. To have both a trusted and an
//! untrusted peer on one machine, the servers trust `127.0.0.2/32` (and `10.9.0.0/16`, which
//! only ever appears inside headers) and the tests connect from 127.0.0.1 (untrusted) or bind
//! their socket to 127.0.0.2 (trusted). Each rule is checked against a server listening on
//! 127.0.0.1 and against one listening on `::`, where every IPv4 peer arrives as an
//! IPv4-mapped IPv6 address (`::ffff:127.0.0.2`) that must still match the IPv4 netblock
//! `127.0.0.2/32`, and its country must be looked up as IPv4.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{parse_response, sample_args, try_wait_for, Response, Server, IO_LIMIT};

const PRIVATE_HOST: &str = "mirror.corp-intranet.example.com";
const PRIVATE_CLIENT: &str = "198.51.100.70";
const REPO: &str = "/mirrorlist?repo=fedora-42&arch=x86_64";

/// Flags every server here gets: the sample, a trusted proxy that is not the test client,
/// and a trusted range used only inside `X-Forwarded-For` chains.
fn base_args() -> Vec<String> {
    let mut args = sample_args();
    args.extend(
        [
            "--trusted-proxy",
            "127.0.0.2/32",
            "--trusted-proxy",
            "10.9.0.0/16",
        ]
        .map(String::from),
    );
    args
}

/// A server, and how to reach it from a trusted and from an untrusted source address.
struct Setup {
    server: Server,
    /// Where to connect.
    dst: SocketAddr,
    /// A source address inside `--trusted-proxy`.
    trusted: IpAddr,
    /// A source address outside it.
    untrusted: IpAddr,
}

/// One server on 127.0.0.1 (plain IPv4 peers), and one on `::` reached through
/// `::ffff:127.0.0.1` (IPv4-mapped peers), if this machine has IPv6 loopback.
fn setups(extra: &[&str]) -> Vec<Setup> {
    let mut args = base_args();
    args.extend(extra.iter().map(|a| a.to_string()));
    let v4 = Server::start(&args);
    let port = v4.addr().port();
    let mut out = vec![Setup {
        dst: SocketAddr::new("127.0.0.1".parse().unwrap(), port),
        server: v4,
        trusted: "127.0.0.2".parse().unwrap(),
        untrusted: "127.0.0.1".parse().unwrap(),
    }];
    args.extend(["--listen", "::"].map(String::from));
    let dual = Server::start(&args);
    let dst = SocketAddr::new("::ffff:127.0.0.1".parse().unwrap(), dual.addr().port());
    if connect_from("::ffff:127.0.0.1".parse().unwrap(), dst).is_ok() {
        out.push(Setup {
            server: dual,
            dst,
            trusted: "::ffff:127.0.0.2".parse().unwrap(),
            untrusted: "::ffff:127.0.0.1".parse().unwrap(),
        });
    } else {
        eprintln!("no IPv4-mapped IPv6 loopback here: mapped-peer cases skipped");
    }
    out
}

/// A blocking TCP connection from `src` (port chosen by the kernel) to `dst`.
fn connect_from(src: IpAddr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = if src.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(src, 0))?;
        tokio::time::timeout(IO_LIMIT, socket.connect(dst))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))?
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_LIMIT))?;
    stream.set_write_timeout(Some(IO_LIMIT))?;
    Ok(stream)
}

/// `GET target` from `src`, with `headers` sent as raw bytes (they may be anything).
fn get_from(src: IpAddr, dst: SocketAddr, target: &str, headers: &[(&str, &[u8])]) -> Response {
    let mut raw =
        format!("GET {target} HTTP/1.1\r\nHost: mirrors\r\nConnection: close\r\n").into_bytes();
    for (name, value) in headers {
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    let mut stream =
        connect_from(src, dst).unwrap_or_else(|e| panic!("connect {src} -> {dst}: {e}"));
    stream.write_all(&raw).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read to EOF");
    parse_response(&bytes, false)
}

fn shows_private(r: &Response) -> bool {
    r.text().contains(PRIVATE_HOST)
}

#[test]
fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    for s in setups(&[]) {
        let spoof = [("X-Forwarded-For", PRIVATE_CLIENT.as_bytes())];
        let r = get_from(s.untrusted, s.dst, REPO, &spoof);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            !shows_private(&r),
            "untrusted {} got the private host:\n{}",
            s.untrusted,
            r.text()
        );
        // The answer is for the peer itself: 127.0.0.1 is in DE in the sample.
        assert!(
            r.first_line().contains("country = DE"),
            "{}",
            r.first_line()
        );
        assert!(
            !r.first_line().contains("Using preferred netblock"),
            "{}",
            r.first_line()
        );

        // The same header from a trusted proxy is believed.
        let r = get_from(s.trusted, s.dst, REPO, &spoof);
        assert_eq!(r.status, 200);
        assert!(
            shows_private(&r),
            "trusted {} forwarding for {PRIVATE_CLIENT}:\n{}",
            s.trusted,
            r.text()
        );
        assert!(
            r.first_line().contains("Using preferred netblock"),
            "{}",
            r.first_line()
        );
        drop(s.server);
    }
}

#[test]
fn ip_param_from_an_untrusted_peer_does_not_reveal_a_private_mirror() {
    for s in setups(&[]) {
        let target = format!("{REPO}&ip={PRIVATE_CLIENT}");
        let r = get_from(s.untrusted, s.dst, &target, &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            !shows_private(&r),
            "untrusted ip= got the private host:\n{}",
            r.text()
        );
        assert!(
            r.first_line().contains("country = DE"),
            "{}",
            r.first_line()
        );

        // Metalink too: the private host's URLs must not be there either.
        let metalink = format!("/metalink?repo=fedora-42&arch=x86_64&ip={PRIVATE_CLIENT}");
        let r = get_from(s.untrusted, s.dst, &metalink, &[]);
        assert!(
            !shows_private(&r),
            "untrusted ip= got the private host in a metalink"
        );

        // An ip= that does not parse is ignored too: the peer is not allowed to send one.
        let r = get_from(
            s.untrusted,
            s.dst,
            &format!("{REPO}&ip=not-an-address"),
            &[],
        );
        assert_eq!(r.status, 200, "{}", r.text());

        // From a trusted proxy, ip= is the client (default --allow-ip-param trusted) ...
        let r = get_from(s.trusted, s.dst, &target, &[]);
        assert!(
            shows_private(&r),
            "trusted ip= should reach the private host:\n{}",
            r.text()
        );
        // ... and a bad one is refused with MirrorManager's words.
        let r = get_from(s.trusted, s.dst, &format!("{REPO}&ip=not-an-address"), &[]);
        assert_eq!(r.status, 400);
        assert!(
            r.text().contains("Cannot parse client IP address"),
            "{}",
            r.text()
        );
        drop(s.server);
    }
}

#[test]
fn ip_param_policy_never_and_any() {
    let target = format!("{REPO}&ip={PRIVATE_CLIENT}");
    for s in setups(&["--allow-ip-param", "never"]) {
        let r = get_from(s.trusted, s.dst, &target, &[]);
        assert_eq!(r.status, 200);
        assert!(
            !shows_private(&r),
            "--allow-ip-param never, yet ip= was used:\n{}",
            r.text()
        );
    }
    // `any` is MirrorManager's behaviour, an explicit opt-in: anyone may pose as anyone.
    for s in setups(&["--allow-ip-param", "any"]) {
        let r = get_from(s.untrusted, s.dst, &target, &[]);
        assert!(
            shows_private(&r),
            "--allow-ip-param any should honour ip=:\n{}",
            r.text()
        );
    }
}

#[test]
fn a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address() {
    for s in setups(&[]) {
        // Right to left: 127.0.0.2 and 10.9.0.1 are trusted hops, 198.51.100.70 is the client;
        // 203.0.113.10 further left is whatever the client claimed, and is not believed.
        let chain = [
            ("X-Forwarded-For", &b"203.0.113.10, 198.51.100.70"[..]),
            ("X-Forwarded-For", &b"10.9.0.1 ,\t127.0.0.2"[..]),
        ];
        let r = get_from(s.trusted, s.dst, REPO, &chain);
        assert_eq!(r.status, 200);
        assert!(
            shows_private(&r),
            "the chain should end at {PRIVATE_CLIENT}:\n{}",
            r.text()
        );

        // Swap the two: now 203.0.113.10 (JP, ASN 64500) is the first untrusted address from
        // the right, and the private-netblock address to its left is only a claim.
        let chain = [(
            "X-Forwarded-For",
            &b"198.51.100.70, 203.0.113.10, 10.9.0.1, 127.0.0.2"[..],
        )];
        let r = get_from(s.trusted, s.dst, REPO, &chain);
        assert!(
            !shows_private(&r),
            "a claim left of the client was believed:\n{}",
            r.text()
        );
        assert!(
            r.first_line().contains("Using ASN 64500"),
            "{}",
            r.first_line()
        );

        // Every hop trusted: the client is the leftmost (last trusted) one, 10.9.0.1,
        // which has no country in the sample.
        let chain = [("X-Forwarded-For", &b"10.9.0.1, 127.0.0.2"[..])];
        let r = get_from(s.trusted, s.dst, REPO, &chain);
        assert_eq!(r.status, 200);
        assert!(!shows_private(&r));

        // IPv6 and mapped entries in the chain: the mapped form of the private client counts
        // as the IPv4 address, and so does a `[v6]:port` entry.
        let chain = [(
            "X-Forwarded-For",
            &b"::ffff:198.51.100.70, ::ffff:10.9.0.3"[..],
        )];
        let r = get_from(s.trusted, s.dst, REPO, &chain);
        assert!(shows_private(&r), "mapped entries:\n{}", r.text());
        let chain = [("X-Forwarded-For", &b"[2001:db8:840:cafe::10]:51000"[..])];
        let r = get_from(s.trusted, s.dst, REPO, &chain);
        assert!(shows_private(&r), "[v6]:port entry:\n{}", r.text());
        drop(s.server);
    }
}

#[test]
fn garbage_in_forwarded_for_falls_back_to_the_peer_and_is_logged() {
    for s in setups(&[]) {
        let garbage: &[u8] = b"198.51.100.70, \xff\xfenot-an-address, 127.0.0.2";
        let r = get_from(s.trusted, s.dst, REPO, &[("X-Forwarded-For", garbage)]);
        assert_eq!(r.status, 200, "{}", r.text());
        // The walk stops at the entry it cannot read and uses the last trusted hop, 127.0.0.2
        // (DE in the sample), never the address further left.
        assert!(!shows_private(&r), "{}", r.text());
        assert!(
            r.first_line().contains("country = DE"),
            "{}",
            r.first_line()
        );
        // Log lines are written by another thread: up to 10 s.
        let logged = try_wait_for(Duration::from_secs(10), || {
            s.server
                .stderr()
                .contains("unparsable X-Forwarded-For")
                .then_some(())
        });
        assert!(
            logged.is_some(),
            "no log line; stderr:\n{}",
            s.server.stderr()
        );
    }
}

#[test]
fn mapped_peers_match_ipv4_netblocks() {
    // The `::` server's peers are ::ffff:127.0.0.x: 127.0.0.2/32 must match the mapped form
    // (shown above by every trusted case), and the peer's own country must be found in the
    // IPv4 geo table: 127.0.0.1 is DE.
    let Some(s) = setups(&[]).into_iter().nth(1) else {
        return;
    };
    let r = get_from(s.untrusted, s.dst, REPO, &[]);
    assert!(
        r.first_line().contains("country = DE"),
        "{}",
        r.first_line()
    );
    let r = get_from(
        s.trusted,
        s.dst,
        REPO,
        &[("X-Forwarded-For", PRIVATE_CLIENT.as_bytes())],
    );
    assert!(
        shows_private(&r),
        "::ffff:127.0.0.2 is not seen as 127.0.0.2:\n{}",
        r.text()
    );
}

#[test]
fn the_private_mirror_reaches_only_clients_in_its_netblocks() {
    // The private host is in no Global or ByCountry list, only in its directories' by-host
    // lists with the netblocks 198.51.100.64/26 and 2001:db8:840:cafe::/64. Ask as many kinds
    // of client as the sample has (through a trusted proxy's `ip=`), at the netblocks' edges
    // too, on both endpoints and with the parameters that change the groups: the host must
    // appear exactly when the client is inside, and never with `netblock=0` or `country=`.
    let s = setups(&[]).into_iter().next().unwrap();
    let inside = [
        "198.51.100.64",
        "198.51.100.70",
        "198.51.100.127",
        "2001:db8:840:cafe::10",
        "2001:db8:840:cafe:ffff:ffff:ffff:ffff",
        "::ffff:198.51.100.70",
    ];
    let outside = [
        "198.51.100.63",
        "198.51.100.128",
        "198.51.100.10",
        "2001:db8:840:caff::1",
        "2001:db8:840::1",
        "192.0.2.1",
        "192.0.2.49",
        "192.0.2.129",
        "203.0.113.10",
        "198.51.100.200",
        "192.0.2.200",
        "198.18.0.1",
        "127.0.0.1",
        "::1",
    ];
    let queries = [
        "/mirrorlist?repo=fedora-42&arch=x86_64",
        "/mirrorlist?repo=epel-9&arch=x86_64",
        "/mirrorlist?repo=fedora-42&arch=x86_64&country=US",
        "/mirrorlist?repo=fedora-42&arch=x86_64&country=global",
        "/mirrorlist?repo=fedora-42&arch=x86_64&protocol=https",
        "/metalink?repo=fedora-42&arch=x86_64",
        "/mirrorlist?path=pub/fedora/linux/releases/42/Everything/x86_64/os",
    ];
    for (clients, expected) in [(&inside[..], true), (&outside[..], false)] {
        for ip in clients {
            for q in queries {
                let r = get_from(s.trusted, s.dst, &format!("{q}&ip={ip}"), &[]);
                assert_eq!(r.status, 200, "{q} for {ip}: {}", r.text());
                // With `country=` the answer is that country's public hosts only (as in
                // MirrorManager): no netblock group, so no private host either.
                let want = expected && !q.contains("country=");
                assert_eq!(shows_private(&r), want, "{q} for {ip}:\n{}", r.text());
                let off = get_from(s.trusted, s.dst, &format!("{q}&ip={ip}&netblock=0"), &[]);
                assert!(
                    !shows_private(&off),
                    "{q}&netblock=0 for {ip}:\n{}",
                    off.text()
                );
            }
        }
    }
}
