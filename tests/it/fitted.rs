//! Issue 12, over real HTTP on loopback: the address-family hint and `family=`,
//! `exclude_country=`, `--default-protocols`, `/explain` (and `query --json`), and the 400s for
//! malformed values. The server listens on `::`; clients come over `::1` and `127.0.0.1`.
//!
//! The data is `data/` with `families` added to some hosts: in DE (the loopback clients'
//! country) `ftp.uni-a` has IPv4 only, `mirror.de-hosting` IPv6 only, `ftp.de-isp` both; both
//! JP hosts have IPv4 only. Every rule is checked over many requests because of the shuffle.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::support::{arg, data_copy, get, Server, BIN, MIRRORLIST};

const V4_ONLY: &str = "ftp.uni-a.example.org";
const V6_ONLY: &str = "mirror.de-hosting.example.com";
const BOTH: &str = "ftp.de-isp.example.net";
const JP: [&str; 2] = ["ftp.jp.example.org", "mirror.jp-b.example.net"];
const PRIVATE: &str = "mirror.corp-intranet.example.com";
/// Inside the private host's netblock.
const PRIVATE_CLIENT: &str = "198.51.100.65";
const ROUNDS: usize = 200;

/// A copy of `data/` with `families` on the hosts above.
fn fitted_data() -> tempfile::TempDir {
    let dir = data_copy();
    let path = dir.path().join("mirrors.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (name, families) in [
        (V4_ONLY, r#"["ipv4"]"#),
        (V6_ONLY, r#"["ipv6"]"#),
        (BOTH, r#"["ipv4", "ipv6"]"#),
        (JP[0], r#"["ipv4"]"#),
        (JP[1], r#"["ipv4"]"#),
    ] {
        let line = format!("name = \"{name}\"\n");
        assert!(text.contains(&line), "{name} is in data/mirrors.toml");
        text = text.replacen(&line, &format!("{line}families = {families}\n"), 1);
    }
    std::fs::write(&path, text).unwrap();
    dir
}

/// `serve --source <fitted data> --listen :: <extra>`.
fn server(data: &tempfile::TempDir, extra: &[&str]) -> Server {
    let mut args = vec![
        "--source".to_string(),
        arg(data.path()),
        "--listen".into(),
        "::".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Server::start(&args)
}

fn v4(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.addr().port()))
}

fn v6(server: &Server) -> SocketAddr {
    SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.addr().port()))
}

/// The host names of a mirrorlist body, in order.
fn hosts(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let rest = l.split_once("://").map_or(l, |(_, r)| r);
            rest.split('/').next().unwrap_or("").to_string()
        })
        .collect()
}

/// `target` asked `ROUNDS` times of `addr`: each answer's hosts (status 200 checked).
fn answers(addr: SocketAddr, target: &str) -> Vec<Vec<String>> {
    (0..ROUNDS)
        .map(|_| {
            let r = get(addr, target);
            assert_eq!(r.status, 200, "{target}: {}", r.text());
            hosts(&r.text())
        })
        .collect()
}

fn set(list: &[String]) -> BTreeSet<String> {
    list.iter().cloned().collect()
}

fn explain(addr: SocketAddr, target: &str) -> serde_json::Value {
    let r = get(addr, target);
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{target}: {e}: {}", r.text()))
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_client_family_moves_hosts_lacking_it_last_and_removes_none() {
    let data = fitted_data();
    let server = server(&data, &[]);
    assert!(server.addr().is_ipv6(), "listens on ::");
    let plain = Server::start(&[
        "--source",
        &arg(&crate::support::data_dir()),
        "--listen",
        "::",
    ]);
    let baseline = set(&hosts(&get(v4(&plain), MIRRORLIST).text()));
    assert!(baseline.contains(V4_ONLY) && baseline.contains(V6_ONLY));

    for (addr, lacking, family) in [
        (v6(&server), V4_ONLY, "ipv6"),
        (v4(&server), V6_ONLY, "ipv4"),
    ] {
        let mut was_elsewhere_without_hint = false;
        for answer in answers(addr, MIRRORLIST) {
            assert_eq!(
                set(&answer),
                baseline,
                "nothing is removed ({family} client)"
            );
            assert_eq!(
                answer.last().map(String::as_str),
                Some(lacking),
                "{family} client: {answer:?}"
            );
        }
        // The same data without families: the host is not always last.
        for answer in answers(
            if family == "ipv6" {
                v6(&plain)
            } else {
                v4(&plain)
            },
            MIRRORLIST,
        ) {
            was_elsewhere_without_hint |= answer.last().map(String::as_str) != Some(lacking);
        }
        assert!(was_elsewhere_without_hint);
        let doc = explain(addr, "/explain?repo=fedora-42&arch=x86_64");
        assert_eq!(doc["client"]["family"], family);
        assert_eq!(doc["client"]["source"], "peer");
        let last = doc["hosts"].as_array().unwrap().last().unwrap();
        assert_eq!(last["name"], lacking);
        assert_eq!(last["placed_last"], "client-family");
    }
    assert_eq!(
        explain(v6(&server), "/explain?repo=fedora-42&arch=x86_64")["client"]["address"],
        "::1"
    );
    // An IPv4 client over the `::` listener is IPv4 (mapped addresses are canonical).
    assert_eq!(
        explain(v4(&server), "/explain?repo=fedora-42&arch=x86_64")["client"]["address"],
        "127.0.0.1"
    );

    // Hosts with every family known lacking the client's: all last, among themselves as
    // selection ordered them (both orders occur).
    let mut orders = BTreeSet::new();
    for answer in answers(
        v6(&server),
        "/mirrorlist?repo=fedora-42&arch=x86_64&country=jp",
    ) {
        assert_eq!(set(&answer), JP.iter().map(|s| s.to_string()).collect());
        orders.insert(answer);
    }
    assert_eq!(
        orders.len(),
        2,
        "the shuffle still runs among the hosts moved last"
    );
}

#[test]
fn family_leaves_out_hosts_lacking_it_unless_nothing_is_left() {
    let data = fitted_data();
    let server = server(&data, &[]);
    let all = set(&hosts(&get(v4(&server), MIRRORLIST).text()));
    for (q, gone) in [("family=6", V4_ONLY), ("family=4", V6_ONLY)] {
        let target = format!("{MIRRORLIST}&{q}");
        // Over either address family: `family=` says what the client can use.
        for addr in [v4(&server), v6(&server)] {
            for answer in answers(addr, &target) {
                let mut expected = all.clone();
                expected.remove(gone);
                assert_eq!(set(&answer), expected, "{q}");
                assert!(!answer.is_empty());
            }
        }
        let doc = explain(
            v4(&server),
            &format!("/explain?repo=fedora-42&arch=x86_64&{q}"),
        );
        let left = doc["left_out"].as_array().unwrap();
        assert!(left
            .iter()
            .any(|h| h["name"] == gone && h["reason"] == "family"));
    }
    // Every JP host lacks IPv6: `family=6` would empty the answer, so it fails open.
    for answer in answers(
        v4(&server),
        "/mirrorlist?repo=fedora-42&arch=x86_64&country=jp&family=6",
    ) {
        assert_eq!(set(&answer), JP.iter().map(|s| s.to_string()).collect());
    }
    let doc = explain(
        v4(&server),
        "/explain?repo=fedora-42&arch=x86_64&country=jp&family=6",
    );
    assert_eq!(doc["failed_open"], true);
}

#[test]
fn exclude_country_leaves_out_every_group_and_still_fills_to_the_minimum() {
    let data = fitted_data();
    let server = server(&data, &["-m", "5"]);
    let addr = v4(&server);
    let country_of = |doc: &serde_json::Value| -> Vec<(String, String)> {
        doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["country"].as_str().unwrap().to_string(),
                    h["group"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };

    // Out of the client's country (geoip) and its continent.
    let excluded = ["DE", "GB", "FR", "SE", "NL"];
    let target = "/explain?repo=fedora-42&arch=x86_64&exclude_country=de,gb,FR,se,nl";
    let mut filled_from_global = false;
    for _ in 0..ROUNDS {
        let doc = explain(addr, target);
        let listed = country_of(&doc);
        assert!(listed.len() >= 5, "filled to the minimum: {listed:?}");
        assert!(
            listed
                .iter()
                .all(|(cc, _)| !excluded.contains(&cc.as_str())),
            "{listed:?}"
        );
        filled_from_global |= listed.iter().any(|(_, g)| g == "global");
        let left = doc["left_out"].as_array().unwrap();
        assert!(left
            .iter()
            .any(|h| h["name"] == V4_ONLY && h["reason"] == "exclude_country"));
    }
    assert!(
        filled_from_global,
        "three EU hosts are left: the global list is added"
    );
    let mirrorlist = "/mirrorlist?repo=fedora-42&arch=x86_64&exclude_country=de,gb,FR,se,nl";
    let r = get(addr, mirrorlist);
    assert!(r.first_line().contains("country = global"), "{}", r.text());
    for answer in answers(addr, mirrorlist) {
        assert!(answer.len() >= 5);
        for name in [V4_ONLY, V6_ONLY, BOTH] {
            assert!(!answer.contains(&name.to_string()));
        }
    }

    // Out of the netblock group too (uni-a's campus network; `ip=` from a trusted peer).
    for answer in answers(
        addr,
        "/mirrorlist?repo=fedora-42&arch=x86_64&ip=198.51.100.1&exclude_country=de",
    ) {
        assert!(!answer.contains(&V4_ONLY.to_string()), "{answer:?}");
        assert!(answer.len() >= 5);
    }
    let r = get(
        addr,
        "/mirrorlist?repo=fedora-42&arch=x86_64&ip=198.51.100.1",
    );
    assert_eq!(hosts(&r.text()).first().map(String::as_str), Some(V4_ONLY));

    // A well-formed code without hosts excludes nothing.
    let all = set(&hosts(&get(addr, MIRRORLIST).text()));
    for answer in answers(addr, &format!("{MIRRORLIST}&exclude_country=zz")) {
        assert_eq!(set(&answer), all);
    }
}

#[test]
fn default_protocols_apply_without_protocol_and_protocol_wins() {
    let data = fitted_data();
    let https = server(&data, &["--default-protocols", "https"]);
    let plain = server(&data, &[]);
    let urls = |addr, target: &str| -> Vec<String> {
        let r = get(addr, target);
        assert_eq!(r.status, 200);
        r.text()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut plain_http = false;
    for _ in 0..ROUNDS {
        let list = urls(v4(&https), MIRRORLIST);
        assert!(!list.is_empty());
        assert!(list.iter().all(|u| u.starts_with("https://")), "{list:?}");
        assert!(
            !list.iter().any(|u| u.contains(BOTH)),
            "{BOTH} has http only"
        );
        let list = urls(v4(&https), &format!("{MIRRORLIST}&protocol=http"));
        assert!(!list.is_empty());
        assert!(list.iter().all(|u| u.starts_with("http://")), "{list:?}");
        plain_http |= urls(v4(&plain), MIRRORLIST)
            .iter()
            .any(|u| u.starts_with("http://"));
    }
    assert!(plain_http, "without the flag, http URLs are listed");
    // The metalink too.
    let r = get(v4(&https), "/metalink?repo=fedora-42&arch=x86_64");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("protocol=\"http\""), "{}", r.text());
    let doc = explain(v4(&https), "/explain?repo=fedora-42&arch=x86_64");
    assert_eq!(doc["protocols"], serde_json::json!(["https"]));
    assert!(doc["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["name"] == BOTH && h["reason"] == "protocol"));
}

#[test]
fn malformed_values_are_a_400_naming_the_parameter() {
    let data = fitted_data();
    let server = server(&data, &[]);
    for endpoint in ["/mirrorlist", "/metalink", "/explain"] {
        for (q, name) in [
            ("exclude_country=DEU", "exclude_country"),
            ("exclude_country=!!", "exclude_country"),
            ("exclude_country=de,", "exclude_country"),
            ("family=7", "family"),
            ("family=ipv6", "family"),
        ] {
            let target = format!("{endpoint}?repo=fedora-42&arch=x86_64&{q}");
            let r = get(v4(&server), &target);
            assert_eq!(r.status, 400, "{target}");
            let text = r.text();
            assert!(text.contains(name), "{target}: {text}");
            if endpoint == "/mirrorlist" {
                assert_eq!(text.trim_end().lines().count(), 1, "{text}");
            }
        }
    }
    let r = get(v4(&server), "/explain?repo=fedora-42&arch=x86_64&mode=xml");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("mode"));
    // Refusals of the endpoint explained stay what they are.
    let r = get(v4(&server), "/explain?repo=nope&arch=x86_64");
    assert_eq!(r.status, 404);
    let r = get(v4(&server), "/explain?path=no/such/dir");
    assert_eq!(r.status, 404);
}

#[test]
fn explain_shows_a_private_host_only_to_a_client_that_gets_it() {
    let data = fitted_data();
    // Loopback is not a trusted proxy here: `ip=` and X-Forwarded-For are ignored.
    let untrusted = server(&data, &["--trusted-proxy", "192.0.2.1/32"]);
    let trusted = server(&data, &[]);
    let with_ip = format!("/explain?repo=fedora-42&arch=x86_64&ip={PRIVATE_CLIENT}");
    for _ in 0..ROUNDS / 4 {
        for target in [with_ip.as_str(), "/explain?repo=fedora-42&arch=x86_64"] {
            for addr in [v4(&untrusted), v6(&untrusted)] {
                let r = crate::support::http::request(
                    addr,
                    "GET",
                    target,
                    &[("X-Forwarded-For", PRIVATE_CLIENT)],
                );
                assert_eq!(r.status, 200);
                assert!(!r.text().contains(PRIVATE), "{}", r.text());
                let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(doc["client"]["source"], "peer");
            }
        }
        // A trusted client outside its netblock does not see it either, not even left out.
        let doc = explain(v4(&trusted), "/explain?repo=fedora-42&arch=x86_64");
        assert!(!doc.to_string().contains(PRIVATE));
    }
    // The client inside its netblock gets it, and sees it.
    let doc = explain(v4(&trusted), &with_ip);
    assert_eq!(doc["client"]["source"], "ip-param");
    assert_eq!(doc["client"]["address"], PRIVATE_CLIENT);
    assert_eq!(names(&doc["hosts"])[0], PRIVATE);
    assert_eq!(doc["hosts"][0]["group"], "netblock");
    assert_eq!(
        doc["client"]["netblocks"],
        serde_json::json!(["198.51.100.64/26"])
    );
    let r = crate::support::http::request(
        v4(&trusted),
        "GET",
        "/explain?repo=fedora-42&arch=x86_64",
        &[("X-Forwarded-For", PRIVATE_CLIENT)],
    );
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["client"]["source"], "x-forwarded-for");
    assert_eq!(names(&doc["hosts"])[0], PRIVATE);
}

#[test]
fn explain_documents_the_answer_and_query_json_prints_it() {
    let data = fitted_data();
    let server = server(&data, &[]);
    let target = "/explain?repo=fedora-42&arch=x86_64";
    let doc = explain(v6(&server), target);
    assert!(!doc["generation"].as_str().unwrap().is_empty());
    assert_eq!(doc["mode"], "mirrorlist");
    assert_eq!(doc["client"]["country"], "DE");
    assert_eq!(doc["client"]["country_source"], "geoip");
    assert_eq!(doc["client"]["continent"], "EU");
    let listed = names(&doc["hosts"]);
    let answer = hosts(&get(v6(&server), MIRRORLIST).text());
    assert_eq!(set(&listed), set(&answer), "the hosts of the answer");
    for h in doc["hosts"].as_array().unwrap() {
        for key in ["name", "group", "country", "weight", "urls", "health"] {
            assert!(h.get(key).is_some(), "{key} in {h}");
        }
    }
    let v4_only = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == V4_ONLY)
        .unwrap();
    assert_eq!(v4_only["families"], serde_json::json!(["ipv4"]));

    let meta = explain(v4(&server), &format!("{target}&mode=metalink"));
    assert_eq!(meta["mode"], "metalink");
    assert_eq!(meta["file"], "repomd.xml");
    assert!(meta["directory"].as_str().unwrap().ends_with("/repodata"));

    // `query --json` prints the same document (for the same client).
    let out = std::process::Command::new(BIN)
        .args([
            "query",
            "--json",
            "--ip",
            "::1",
            "--source",
            &arg(data.path()),
        ])
        .arg(format!("{MIRRORLIST}&exclude_country=gb"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queried: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let served = explain(v6(&server), &format!("{target}&exclude_country=gb"));
    for key in ["mode", "directory", "client", "left_out"] {
        let (mut a, mut b) = (queried[key].clone(), served[key].clone());
        if key == "client" {
            a["source"] = serde_json::Value::Null;
            b["source"] = serde_json::Value::Null;
        }
        if key == "left_out" {
            let sort = |v: &serde_json::Value| {
                let mut list: Vec<String> = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.to_string())
                    .collect();
                list.sort();
                list
            };
            assert_eq!(sort(&a), sort(&b));
            continue;
        }
        assert_eq!(a, b, "{key}");
    }
    assert_eq!(
        set(&names(&queried["hosts"])),
        set(&names(&served["hosts"]))
    );
}
