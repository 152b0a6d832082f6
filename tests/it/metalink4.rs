//! Issue 13 over HTTP: the RFC 5854 metalink that `Accept` negotiates, read by aria2c and by a
//! namespace-aware XML parser, and the RFC 6249 / RFC 9530 headers of redirects.
//!
//! The world: a native source whose hosts point at loopback mirrors this test runs (the
//! fake mirrors of [`crate::real_client`]):
//!
//! | host              | country | how the client gets it          | URLs                          |
//! |-------------------|---------|---------------------------------|-------------------------------|
//! | dead.example.org  | SE      | netblock `127.0.0.1/32` (first) | a closed loopback port        |
//! | a.example.org     | DE      | global list                     | two prefixes on mirror a      |
//! | b.example.com     | US      | global list                     | one prefix on mirror b        |
//!
//! Repo `testrepo` describes the real `repomd.xml` (sha256 only, plus an older version, so
//! the v3 document has alternates); repo `hashes` describes a file with all four hashes.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Command;

use crate::real_client::{
    aria2c, corrupted, repomd, require_aria2c, sha256_hex, Mirror, ARIA2_CHECKSUM_FAILED, GOOD_DIR,
    TAMPERED_DIR,
};
use crate::support::{arg, Response, Server, BIN};

const NS4: &str = "urn:ietf:params:xml:ns:metalink";
const NS3: &str = "http://www.metalinker.org/";
const V4: &str = "application/metalink4+xml";
const V3: &str = "application/metalink+xml";
/// What aria2 1.36 sends (measured).
const ARIA2_ACCEPT: &str = "*/*,application/metalink4+xml,application/metalink+xml";
/// `generated_at` of the source, as RFC 3339.
const PUBLISHED: &str = "2026-01-01T00:00:00Z";
const HASHES_DIR: &str = "releases/3/Everything/x86_64/os";

struct World {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    bundle: std::path::PathBuf,
    current: Vec<u8>,
    mirror_a: Mirror,
    mirror_b: Mirror,
    dead_base: String,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let current = repomd(1_767_200_000);
        let older = repomd(1_767_100_000);
        let tampered = corrupted(&current);
        let file_path = |prefix: &str, dir: &str| format!("{prefix}/{dir}/repodata/repomd.xml");
        let files = |prefixes: &[&str]| -> HashMap<String, Vec<u8>> {
            prefixes
                .iter()
                .flat_map(|p| {
                    [
                        (file_path(p, GOOD_DIR), current.clone()),
                        (file_path(p, TAMPERED_DIR), tampered.clone()),
                    ]
                })
                .collect()
        };
        let mirror_a = Mirror::start(files(&["/fedora/linux", "/alt/fedora/linux"]));
        let mirror_b = Mirror::start(files(&["/pub/fedora/linux"]));
        // A port nothing listens on: connections are refused.
        let dead_base = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let source = root.join("source");
        std::fs::create_dir_all(&source).unwrap();
        let mut toml = format!(
            r#"generated_at = 1767225600

[[category]]
name = "Fedora Linux"
topdir = "pub/fedora/linux"
directories = ["{GOOD_DIR}", "{TAMPERED_DIR}", "{HASHES_DIR}"]

[[repo]]
repo = "testrepo"
arch = "x86_64"
category = "Fedora Linux"
directory = "{GOOD_DIR}"

[[repo]]
repo = "tampered"
arch = "x86_64"
category = "Fedora Linux"
directory = "{TAMPERED_DIR}"

[[repo]]
repo = "hashes"
arch = "x86_64"
category = "Fedora Linux"
directory = "{HASHES_DIR}"

[[host]]
name = "dead.example.org"
country = "SE"
bandwidth = 100
netblocks = ["127.0.0.1/32"]
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{dead}/mirror/fedora"]

[[host]]
name = "a.example.org"
country = "DE"
bandwidth = 100
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{a}/fedora/linux", "{a}/alt/fedora/linux"]

[[host]]
name = "b.example.com"
country = "US"
bandwidth = 100
  [[host.category]]
  name = "Fedora Linux"
  urls = ["{b}/pub/fedora/linux"]

[[file]]
directory = "pub/fedora/linux/{GOOD_DIR}/repodata"
name = "repomd.xml"
  [[file.versions]]
  timestamp = 1767200000
  size = {size}
  sha256 = "{sha}"
  [[file.versions]]
  timestamp = 1767100000
  size = {older_size}
  sha256 = "{older_sha}"

[[file]]
directory = "pub/fedora/linux/{TAMPERED_DIR}/repodata"
name = "repomd.xml"
  [[file.versions]]
  timestamp = 1767200000
  size = {size}
  sha256 = "{sha}"

[[file]]
directory = "pub/fedora/linux/{HASHES_DIR}/repodata"
name = "repomd.xml"
  [[file.versions]]
  timestamp = 1767200000
  size = 1234
  md5 = "{md5}"
  sha1 = "{sha1}"
  sha256 = "{sha256}"
  sha512 = "{sha512}"
  [[file.versions]]
  timestamp = 1767100000
  size = 1200
  sha256 = "{older_sha}"
"#,
            dead = dead_base,
            a = mirror_a.base(),
            b = mirror_b.base(),
            size = current.len(),
            sha = sha256_hex(&current),
            older_size = older.len(),
            older_sha = sha256_hex(&older),
            md5 = "0".repeat(32),
            sha1 = "1".repeat(40),
            sha256 = "2".repeat(64),
            sha512 = "3".repeat(128),
        );
        toml.push('\n');
        std::fs::write(source.join("mirrors.toml"), toml).unwrap();
        let bundle = root.join("bundle");
        let built = Command::new(BIN)
            .arg("build")
            .arg("--source")
            .arg(&source)
            .arg("-o")
            .arg(&bundle)
            .output()
            .expect("run mirrorlist build");
        assert!(
            built.status.success(),
            "mirrorlist build failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        World {
            _tmp: tmp,
            root,
            bundle,
            current,
            mirror_a,
            mirror_b,
            dead_base,
        }
    }

    fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--bundle".to_string(), arg(&self.bundle)];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start(&args)
    }

    /// The host name and country of a mirror URL.
    fn host_of(&self, url: &str) -> (&'static str, &'static str) {
        if url.starts_with(&format!("{}/", self.dead_base)) {
            ("dead.example.org", "SE")
        } else if url.starts_with(&format!("{}/", self.mirror_a.base())) {
            ("a.example.org", "DE")
        } else if url.starts_with(&format!("{}/", self.mirror_b.base())) {
            ("b.example.com", "US")
        } else {
            panic!("{url} is no host's URL")
        }
    }
}

fn get_with_accept(server: &Server, target: &str, accept: Option<&str>) -> Response {
    match accept {
        Some(a) => server.request("GET", target, &[("Accept", a)]),
        None => server.get(target),
    }
}

/// One `<url>` of a v4 document.
#[derive(Debug)]
struct Url4 {
    location: Option<String>,
    priority: u32,
    url: String,
}

/// The parts of a v4 document, checked against RFC 5854's structure on the way.
struct Doc4 {
    published: String,
    file: String,
    size: Option<u64>,
    hashes: Vec<(String, String)>,
    urls: Vec<Url4>,
}

fn parse_v4(text: &str) -> Doc4 {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "metalink", "{text}");
    assert_eq!(root.tag_name().namespace(), Some(NS4), "{text}");
    // Nothing from another namespace (no mm0:alternates, mm0:timestamp, mm0:private).
    for node in doc.descendants().filter(|n| n.is_element()) {
        assert_eq!(
            node.tag_name().namespace(),
            Some(NS4),
            "{node:?} in\n{text}"
        );
        for a in node.attributes() {
            assert_eq!(a.namespace(), None, "{a:?} in\n{text}");
        }
    }
    assert!(
        !text.contains("alternate") && !text.contains("mm0"),
        "{text}"
    );
    let child = |parent: roxmltree::Node<'_, '_>, name: &str| -> Vec<String> {
        parent
            .children()
            .filter(|n| n.has_tag_name((NS4, name)))
            .map(|n| n.text().unwrap_or("").to_string())
            .collect()
    };
    let published = child(root, "published");
    assert_eq!(published.len(), 1, "{text}");
    let generator = child(root, "generator");
    assert!(
        generator.len() <= 1 && generator.iter().all(|g| g.starts_with("mirrorlist/")),
        "{text}"
    );
    let files: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name((NS4, "file")))
        .collect();
    assert_eq!(files.len(), 1, "one <file>:\n{text}");
    let file = files[0];
    let sizes = child(file, "size");
    assert!(sizes.len() <= 1, "{text}");
    let hashes = file
        .children()
        .filter(|n| n.has_tag_name((NS4, "hash")))
        .map(|n| {
            (
                n.attribute("type").expect("hash type").to_string(),
                n.text().unwrap_or("").to_string(),
            )
        })
        .collect();
    let urls = file
        .children()
        .filter(|n| n.has_tag_name((NS4, "url")))
        .map(|n| Url4 {
            location: n.attribute("location").map(str::to_string),
            priority: n
                .attribute("priority")
                .expect("priority")
                .parse()
                .expect("numeric priority"),
            url: n.text().unwrap_or("").to_string(),
        })
        .collect();
    Doc4 {
        published: published[0].clone(),
        file: file.attribute("name").expect("file name").to_string(),
        size: sizes.first().map(|s| s.parse().expect("numeric size")),
        hashes,
        urls,
    }
}

/// The `<url>` texts of a v3 document.
fn v3_urls(text: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(doc.root_element().tag_name().namespace(), Some(NS3));
    doc.descendants()
        .filter(|n| n.has_tag_name((NS3, "url")))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// Every rule of the issue about `<url>`s, for a document of `world`'s hosts.
fn check_urls(world: &World, doc: &Doc4, text: &str) {
    assert!(!doc.urls.is_empty(), "{text}");
    let first = &doc.urls[0];
    assert_eq!(first.priority, 1, "{text}");
    // The netblock host comes first.
    assert_eq!(world.host_of(&first.url).0, "dead.example.org", "{text}");
    for pair in doc.urls.windows(2) {
        let (x, y) = (&pair[0], &pair[1]);
        let same_host = world.host_of(&x.url).0 == world.host_of(&y.url).0;
        if same_host {
            assert_eq!(x.priority, y.priority, "a host's URLs tie:\n{text}");
        } else {
            assert_eq!(y.priority, x.priority + 1, "one step per host:\n{text}");
        }
    }
    for u in &doc.urls {
        let (_, country) = world.host_of(&u.url);
        assert_eq!(
            u.location.as_deref(),
            Some(country.to_ascii_lowercase().as_str()),
            "{text}"
        );
        assert!((1..=999_999).contains(&u.priority));
        assert!(u.url.ends_with("/repodata/repomd.xml"), "{text}");
    }
}

#[test]
fn accept_negotiates_the_metalink_version() {
    let world = World::new();
    let server = world.serve(&[]);
    let target = "/metalink?repo=testrepo&arch=x86_64";
    for (accept, want) in [
        (None, V3),
        (Some("*/*"), V3),
        (Some(ARIA2_ACCEPT), V4),
        (Some(V4), V4),
        (
            Some("application/metalink4+xml;q=0.5, application/metalink+xml"),
            V3,
        ),
        (
            Some("Application/Metalink4+XML ; q=0.8 , application/metalink+xml;q=0.8"),
            V4,
        ),
        (Some("application/metalink4+xml;q=0"), V3),
    ] {
        let r = get_with_accept(&server, target, accept);
        assert_eq!(r.status, 200, "{accept:?}");
        assert_eq!(r.header("content-type"), Some(want), "{accept:?}");
        assert_eq!(r.header("vary"), Some("Accept"), "{accept:?}");
        let text = r.text();
        if want == V3 {
            assert!(
                text.contains("<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\""),
                "{accept:?}:\n{text}"
            );
        } else {
            parse_v4(&text);
        }
    }
    // The mirrorlist is not negotiated.
    let r = get_with_accept(&server, "/mirrorlist?repo=testrepo&arch=x86_64", Some(V4));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("vary"), None);
}

#[test]
fn the_v4_document_follows_rfc_5854() {
    let world = World::new();
    let server = world.serve(&[]);

    let r = get_with_accept(&server, "/metalink?repo=testrepo&arch=x86_64", Some(V4));
    let text = r.text();
    let doc = parse_v4(&text);
    assert_eq!(doc.published, PUBLISHED);
    assert_eq!(doc.file, "repomd.xml");
    assert_eq!(doc.size, Some(world.current.len() as u64));
    assert_eq!(
        doc.hashes,
        [("sha-256".to_string(), sha256_hex(&world.current))],
        "only the newest version's hashes:\n{text}"
    );
    check_urls(&world, &doc, &text);
    assert_eq!(doc.urls.len(), 4, "{text}");
    // The same URLs as the version 3 document.
    let v3 = get_with_accept(&server, "/metalink?repo=testrepo&arch=x86_64", None).text();
    assert!(v3.contains("<mm0:alternates>"), "{v3}");
    let mut want = v3_urls(&v3);
    let mut got: Vec<String> = doc.urls.iter().map(|u| u.url.clone()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);

    // Every hash, under its IANA name.
    let text = get_with_accept(&server, "/metalink?repo=hashes&arch=x86_64", Some(V4)).text();
    let doc = parse_v4(&text);
    assert_eq!(doc.size, Some(1234));
    assert_eq!(
        doc.hashes,
        [
            ("sha-256".to_string(), "2".repeat(64)),
            ("sha-512".to_string(), "3".repeat(128)),
            ("sha-1".to_string(), "1".repeat(40)),
            ("md5".to_string(), "0".repeat(32)),
        ],
        "{text}"
    );
    check_urls(&world, &doc, &text);

    // A path= metalink for the same file describes it the same way.
    let target = format!("/metalink?path=pub/fedora/linux/{GOOD_DIR}/repodata/repomd.xml");
    let r = get_with_accept(&server, &target, Some(ARIA2_ACCEPT));
    assert_eq!(r.header("content-type"), Some(V4));
    let doc = parse_v4(&r.text());
    assert_eq!(doc.hashes[0].1, sha256_hex(&world.current));
}

#[test]
fn v4_failures_are_empty_documents_with_the_message() {
    let world = World::new();
    let server = world.serve(&[]);
    for (target, status, message) in [
        (
            "/metalink".to_string(),
            200,
            "# either path=, or repo= and arch= must be specified".to_string(),
        ),
        (
            "/metalink?repo=nope--x&arch=x86_64".to_string(),
            404,
            "# repo = nope-%2Dx arch = x86_64 error: invalid repo or arch".to_string(),
        ),
        (
            format!("/metalink?path=pub/fedora/linux/{GOOD_DIR}/repodata/missing.xml"),
            404,
            format!(
                "pub/fedora/linux/{GOOD_DIR}/repodata/missing.xml not found or has not metalink"
            ),
        ),
    ] {
        for accept in [V4, ARIA2_ACCEPT] {
            let r = get_with_accept(&server, &target, Some(accept));
            let text = r.text();
            assert_eq!(r.status, status, "{target}: {text}");
            assert_eq!(r.header("content-type"), Some(V4), "{target}");
            assert_eq!(r.header("vary"), Some("Accept"), "{target}");
            let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
            let root = doc.root_element();
            assert_eq!(root.tag_name().namespace(), Some(NS4));
            assert!(root.children().all(|n| !n.is_element()), "empty: {text}");
            let comment = root
                .children()
                .find(|n| n.is_comment())
                .and_then(|n| n.text())
                .unwrap_or_else(|| panic!("no comment:\n{text}"));
            assert!(comment.starts_with(&format!(" {message}")), "{comment:?}");
        }
        // The version 3 failure document without Accept.
        let r = server.get(&target);
        assert_eq!(r.header("content-type"), Some(V3), "{target}");
        assert_eq!(r.header("vary"), Some("Accept"), "{target}");
        assert!(r.text().contains("<metalink version=\"3.0\""), "{target}");
    }
}

#[test]
fn aria2c_downloads_repomd_through_the_v4_metalink() {
    require_aria2c();
    let world = World::new();
    let server = world.serve(&[]);
    let url = format!(
        "http://{}/metalink?repo=testrepo&arch=x86_64",
        server.addr()
    );
    let out = world.root.join("out-v4");
    let (status, output) = aria2c(&url, &out, &world.root, "v4");
    assert!(status.success(), "aria2c failed ({status}):\n{output}");
    let downloaded = std::fs::read(out.join("repomd.xml"))
        .unwrap_or_else(|e| panic!("aria2c wrote no repomd.xml ({e}):\n{output}"));
    assert_eq!(downloaded, world.current, "{output}");
    // aria2c's own Accept got the version 4 document, and it checked its sha-256.
    let log = std::fs::read_to_string(world.root.join("aria2c-v4.log"))
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        log.contains(&format!("accept: {ARIA2_ACCEPT}")),
        "aria2c's own Accept:\n{output}"
    );
    assert!(
        log.contains("content-type: application/metalink4+xml"),
        "aria2c did not get the v4 document:\n{output}"
    );
    assert!(
        log.contains("verification finished successfully"),
        "aria2c did not check the hash:\n{output}"
    );
    let fetched = |m: &Mirror, dir: &str| {
        m.requests()
            .iter()
            .any(|r| r.contains(&format!("{dir}/repodata/repomd.xml 20")))
    };
    assert!(
        fetched(&world.mirror_a, GOOD_DIR) || fetched(&world.mirror_b, GOOD_DIR),
        "no live mirror served the file:\n{output}"
    );

    // Mirrors serving other bytes of the same size: only the v4 document's sha-256 tells.
    let url = format!(
        "http://{}/metalink?repo=tampered&arch=x86_64",
        server.addr()
    );
    let (status, output) = aria2c(&url, &world.root.join("out-v4-bad"), &world.root, "v4-bad");
    assert_eq!(
        status.code(),
        Some(ARIA2_CHECKSUM_FAILED),
        "aria2c should reject the tampered file ({status}):\n{output}"
    );
    assert!(
        fetched(&world.mirror_a, TAMPERED_DIR) || fetched(&world.mirror_b, TAMPERED_DIR),
        "the tampered file was never downloaded, so the hash was not what failed:\n{output}"
    );
}

/// `Link` values by their `rel`: (target, parameters).
fn links(r: &Response, rel: &str) -> Vec<(String, HashMap<String, String>)> {
    r.headers
        .iter()
        .filter(|(n, _)| n == "link")
        .flat_map(|(_, v)| {
            v.split(", <")
                .map(|s| s.trim_start_matches('<').to_string())
        })
        .map(|v| {
            let (target, params) = v.split_once('>').expect("<target>");
            let params: HashMap<String, String> = params
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (target.to_string(), params)
        })
        .filter(|(_, p)| p.get("rel").map(String::as_str) == Some(rel))
        .collect()
}

/// Standard base64 (RFC 4648) decoded, written apart from the server's encoder.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {text:?}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn redirects_carry_rfc_6249_links_and_the_digest() {
    let world = World::new();
    let file = format!("pub/fedora/linux/{GOOD_DIR}/repodata/repomd.xml");
    let target = format!("/mirrorlist?path={file}&redirect=1");
    let expected_digest = {
        let hex = sha256_hex(&world.current);
        (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    for (flags, max) in [
        (&[][..], 5),
        (&["--link-headers", "1"][..], 1),
        (&["--link-headers", "0"][..], 0),
    ] {
        let server = world.serve(flags);
        let r = server.get(&target);
        assert_eq!(r.status, 302, "{flags:?}");
        let location = r.header("location").expect("location").to_string();
        assert_eq!(
            world.host_of(&location).0,
            "dead.example.org",
            "netblock first"
        );
        // One duplicate per further host (a's second URL is not the one a redirect uses).
        let duplicates = links(&r, "duplicate");
        assert_eq!(duplicates.len(), max.min(2), "{flags:?}: {:?}", r.headers);
        let mut last = 1;
        let mut hosts = vec![world.host_of(&location).0];
        for (url, params) in &duplicates {
            let pri: u32 = params["pri"].parse().unwrap();
            assert!(pri > last, "pri grows: {:?}", r.headers);
            last = pri;
            let (host, country) = world.host_of(url);
            assert_eq!(params["geo"], country.to_ascii_lowercase());
            assert!(
                url.ends_with(&format!("/{GOOD_DIR}/repodata/repomd.xml")),
                "{url}"
            );
            hosts.push(host);
        }
        hosts.sort();
        hosts.dedup();
        assert_eq!(hosts.len(), duplicates.len() + 1, "one link per host");
        // The metalink that describes the same file, without redirect.
        let described = links(&r, "describedby");
        assert_eq!(described.len(), 1, "{:?}", r.headers);
        let (href, params) = &described[0];
        assert_eq!(params["type"], V4);
        assert_eq!(href, &format!("/metalink?path={file}"));
        let m = get_with_accept(&server, href, Some(V4));
        assert_eq!(m.status, 200);
        assert_eq!(m.header("content-type"), Some(V4));
        let doc = parse_v4(&m.text());
        assert_eq!(doc.hashes[0].1, sha256_hex(&world.current));
        // RFC 9530: the file's sha256 as a byte sequence.
        let digest = r.header("repr-digest").expect("repr-digest");
        let b64 = digest
            .strip_prefix("sha-256=:")
            .and_then(|d| d.strip_suffix(':'))
            .unwrap_or_else(|| panic!("{digest}"));
        assert_eq!(base64_decode(b64), expected_digest, "{digest}");
    }

    // The environment variable sets it too.
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--bundle", &arg(&world.bundle), "--port", "0"])
        .env("MIRRORLIST_LINK_HEADERS", "1");
    let server = Server::spawn(cmd);
    assert_eq!(links(&server.get(&target), "duplicate").len(), 1);

    // A repo= redirect goes to a directory, which no metalink describes: links, no digest.
    let server = world.serve(&[]);
    let r = server.get("/mirrorlist?repo=testrepo&arch=x86_64&redirect=1");
    assert_eq!(r.status, 302);
    assert_eq!(links(&r, "duplicate").len(), 2, "{:?}", r.headers);
    assert!(links(&r, "describedby").is_empty(), "{:?}", r.headers);
    assert_eq!(r.header("repr-digest"), None);
    // Neither does a file without details.
    let r = server.get(&format!(
        "/mirrorlist?path=pub/fedora/linux/{GOOD_DIR}/repodata/other.xml&redirect=1"
    ));
    assert_eq!(r.status, 302);
    assert!(links(&r, "describedby").is_empty());
    assert_eq!(r.header("repr-digest"), None);
    // And a plain mirrorlist has none of it.
    let r = server.get(&format!("/mirrorlist?path={file}"));
    assert!(links(&r, "duplicate").is_empty() && r.header("repr-digest").is_none());
}
