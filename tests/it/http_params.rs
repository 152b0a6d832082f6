//! Every request parameter and every error case of docs/protocol.md sections 4-5 that the
//! reference answers do not already cover, over HTTP against `mirrorlist serve` on mm-small.
//!
//! Where we differ from the production server on purpose the assertion names the decision
//! (`decisions.md`): percent-decoding (1), client address and proxies (2), `ip=` policy and 400
//! (3), requests that cannot panic (4), https > http > ftp per host (6), allowed countries (8).

use crate::support::{request_raw, Response, Server};

const NOT_OURS: &str = "We don't serve their kind here!";
const MISSING: &str = "# either path=, or repo= and arch= must be specified";
const ISO_DIR: &str = "pub/fedora/linux/releases/41/Server/x86_64/iso";
const ISO: &str = "Fedora-Server-dvd-x86_64-41-1.4.iso";
const F41: &str = "repo=fedora-41&arch=x86_64";
/// Hosts that carry fedora-41/x86_64, with the one restricted to CN (decision 8) left out:
/// what a client of unknown country gets from the global list.
const GLOBAL_NO_CN: [&str; 11] = [
    "mirror.au.example.org",
    "mirror.br.example.org",
    "mirror.ca.example.org",
    "mirror.de.example.org",
    "mirror.gb.example.org",
    "mirror.jp.example.org",
    "mirror.ph.example.org",
    "mirror.se.example.org",
    "mirror.us.example.org",
    "mirror.za.example.org",
    "mirror2.de.example.org",
];

fn server() -> Server {
    Server::mm_small::<&str>(&[])
}

fn f41_url(scheme: &str, host: &str) -> String {
    format!("{scheme}://{host}/pub/fedora/linux/releases/41/Everything/x86_64/os/")
}

/// The URL lines of a mirrorlist.
fn urls(r: &Response) -> Vec<String> {
    r.text().lines().skip(1).map(str::to_string).collect()
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The hosts of a mirrorlist's URL lines, sorted.
fn sorted_hosts(r: &Response) -> Vec<String> {
    let mut hosts: Vec<String> = urls(r).iter().map(|u| host_of(u).to_string()).collect();
    hosts.sort();
    hosts
}

/// A 200 text mirrorlist with this exact header line.
#[track_caller]
fn assert_list(r: &Response, want_header: &str) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(
        r.header("x-mirrorlist-generation").is_some(),
        "answered requests carry x-mirrorlist-generation"
    );
    assert_eq!(r.first_line(), want_header, "{}", r.text());
    assert!(r.text().ends_with('\n'));
}

/// A redirect to `location` (302, empty body, text/plain).
#[track_caller]
fn assert_redirect(r: &Response, location: &str) {
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.header("location"), Some(location));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert!(r.body.is_empty());
}

/// A plain-text refusal: status, exact body, no content type.
#[track_caller]
fn assert_plain(r: &Response, status: u16, body: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.text(), body);
    assert_eq!(r.header("content-type"), None);
}

/// A metalink failure document: status and the message in the comment.
#[track_caller]
fn assert_failure_doc(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/metalink+xml"));
    let text = r.text();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink version=\"3.0\""),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("\" generator=\"mirrormanager\" xmlns:mm0=\"http://fedorahosted.org/mirrormanager\">\n<!-- {message}\n-->\n</metalink>\n")),
        "{text}"
    );
}

#[test]
fn path_slashes_are_stripped_and_collapsed() {
    let s = server();
    let want = format!("# path = {ISO_DIR} country = global ");
    for path in [
        format!("{ISO_DIR}/"),
        format!("/{ISO_DIR}"),
        format!("///{ISO_DIR}///"),
        "pub//fedora///linux/releases/41//Server/x86_64/iso".to_string(),
    ] {
        let r = s.get(&format!("/mirrorlist?path={path}"));
        assert_list(&r, &want);
        let lines = urls(&r);
        assert_eq!(lines.len(), 10, "path={path}: {}", r.text());
        assert!(
            lines.iter().all(|u| u.ends_with("/Server/x86_64/iso/")),
            "a directory ends with one `/`: {lines:?}"
        );
    }
    // A file, with `//` inside and around it.
    let r = s.get(&format!(
        "/mirrorlist?path=//pub/fedora//linux/releases/41/Server/x86_64/iso//{ISO}&country=us"
    ));
    assert_list(&r, &format!("# path = {ISO_DIR}/{ISO} country = us "));
    assert_eq!(
        urls(&r),
        [format!(
            "https://mirror.us.example.org/pub/fedora/linux/releases/41/Server/x86_64/iso/{ISO}"
        )]
    );
}

#[test]
fn path_is_percent_decoded_and_plus_stays_literal() {
    // Decision 1: `%2F` is `/`; `+` is not a space (file names contain `+`).
    let s = server();
    let r = s.get(
        "/mirrorlist?path=pub%2Ffedora%2Flinux%2Freleases%2F41%2FServer%2Fx86_64%2Fiso&country=us",
    );
    assert_list(&r, &format!("# path = {ISO_DIR} country = us "));
    let r = s.get(&format!("/mirrorlist?path={ISO_DIR}/a+b.iso&country=us"));
    assert_list(&r, &format!("# path = {ISO_DIR}/a+b.iso country = us "));
    assert_eq!(
        urls(&r),
        ["https://mirror.us.example.org/pub/fedora/linux/releases/41/Server/x86_64/iso/a+b.iso"],
        "decision 1: `+` stays a literal `+`"
    );
}

#[test]
fn path_wins_over_repo_and_arch() {
    let s = server();
    let r = s.get(&format!("/mirrorlist?{F41}&path={ISO_DIR}&country=us"));
    assert_list(&r, &format!("# path = {ISO_DIR} country = us "));
}

#[test]
fn invalid_paths() {
    let s = server();
    // No `/`: the directory part is empty, which is no directory.
    for target in [
        "/mirrorlist?path=foo",
        "/mirrorlist?path=",
        "/mirrorlist?path",
        "/mirrorlist?path=///",
        "/mirrorlist?path=pub/fedora/linux/releases/41/Server/x86_64",
    ] {
        let r = s.get(target);
        assert_plain(&r, 404, "error: invalid path");
        assert!(r.header("x-mirrorlist-generation").is_some());
    }
    // `path=` wins even when empty: repo/arch are not looked at.
    assert_plain(
        &s.get(&format!("/mirrorlist?path=&{F41}")),
        404,
        "error: invalid path",
    );
    assert_failure_doc(
        &s.get("/metalink?path=pub/nonexistent"),
        404,
        "error: invalid path",
    );
    // A file the directory has no details for.
    assert_failure_doc(
        &s.get("/metalink?path=pub/fedora/linux/releases/41/Everything/x86_64/os/repodata/nope.xml"),
        404,
        "pub/fedora/linux/releases/41/Everything/x86_64/os/repodata/nope.xml not found or has not metalink",
    );
    // A file in a directory with no details at all.
    assert_failure_doc(
        &s.get(&format!("/metalink?path={ISO_DIR}/{ISO}")),
        404,
        &format!("{ISO_DIR}/{ISO} not found or has not metalink"),
    );
}

#[test]
fn repo_and_arch_are_both_required() {
    let s = server();
    for query in [
        "arch=x86_64",
        "repo=fedora-source-41",
        "repo=&arch=",
        "Repo=fedora-41&arch=x86_64",
    ] {
        let r = s.get(&format!("/mirrorlist?{query}"));
        if query == "repo=&arch=" {
            // Present but empty: an unknown pair, not a missing one.
            assert_eq!(r.status, 404, "{query}: {}", r.text());
            assert!(r
                .text()
                .starts_with("# repo =  arch =  error: invalid repo or arch\n"));
            continue;
        }
        // Keys are case-sensitive: `Repo` is not `repo`.
        assert_plain(&r, 200, MISSING);
        assert_failure_doc(&s.get(&format!("/metalink?{query}")), 200, MISSING);
    }
}

#[test]
fn repo_containing_source_forces_arch_source() {
    let s = server();
    let r = s.get("/mirrorlist?repo=fedora-source-41&arch=i386&country=us");
    assert_list(&r, "# repo = fedora-source-41 arch = source country = us ");
    assert_eq!(
        urls(&r),
        ["https://mirror.us.example.org/pub/fedora/linux/releases/41/Everything/source/tree/"]
    );
}

#[test]
fn repository_aliases_and_disabled_repositories() {
    let s = server();
    // RepositoryRedirectCache: the header names the repository answered.
    let r = s.get("/mirrorlist?repo=updates-released-41&arch=x86_64&country=se");
    assert_list(
        &r,
        "# repo = updates-released-f41 arch = x86_64 country = se ",
    );
    assert_eq!(
        urls(&r),
        ["https://mirror.se.example.org/pub/fedora/linux/updates/41/Everything/x86_64/"]
    );
    let r = s.get("/metalink?repo=fedora-install-41&arch=x86_64&country=se");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains(">https://mirror.se.example.org/pub/fedora/linux/releases/41/Everything/x86_64/os/repodata/repomd.xml</url>"),
        "{}",
        r.text()
    );
    // A disabled repository is refused before its arch is looked at.
    assert_plain(
        &s.get("/mirrorlist?repo=epel-8&arch=s390x"),
        200,
        "repo disabled",
    );
}

#[test]
fn redirect_takes_any_value_and_needs_an_http_mirror() {
    let s = server();
    let se = f41_url("https", "mirror.se.example.org");
    for flag in [
        "redirect=1",
        "redirect=0",
        "redirect=",
        "redirect",
        "redirect=no",
    ] {
        assert_redirect(&s.get(&format!("/mirrorlist?{F41}&country=se&{flag}")), &se);
    }
    // `protocol=` narrows what a redirect may use; nothing http(s) left is a 404, empty body.
    for protocol in ["rsync", "ftp", "gopher", ""] {
        let r = s.get(&format!("/mirrorlist?{F41}&protocol={protocol}&redirect=1"));
        assert_eq!(r.status, 404, "protocol={protocol}: {}", r.text());
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("location"), None);
    }
    // `protocol=http` redirects to the host's http URL even though it also has https.
    assert_redirect(
        &s.get(&format!(
            "/mirrorlist?{F41}&country=se&protocol=http&redirect=1"
        )),
        &f41_url("http", "mirror.se.example.org"),
    );
    // A directory path keeps its trailing `/`.
    assert_redirect(
        &s.get(&format!("/mirrorlist?path={ISO_DIR}&country=us&redirect=1")),
        &format!("https://mirror.us.example.org/{ISO_DIR}/"),
    );
    // Refusals stay refusals.
    let r = s.get("/mirrorlist?repo=fedora-99&arch=x86_64&redirect=1");
    assert_eq!(r.status, 404);
    assert!(r
        .text()
        .starts_with("# repo = fedora-99 arch = x86_64 error: invalid repo or arch\n"));
    assert_plain(
        &s.get("/mirrorlist?repo=epel-8&arch=x86_64&redirect=1"),
        200,
        "repo disabled",
    );
    assert_plain(&s.get("/mirrorlist?redirect=1"), 200, MISSING);
    assert_plain(
        &s.get("/mirrorlist?path=nope/x&redirect=1"),
        404,
        "error: invalid path",
    );
}

#[test]
fn protocol_filters_and_lists() {
    let s = server();
    // Empty, unknown, or a different case: nothing matches, the answer is the header alone.
    for (value, tail) in [
        ("", "protocol = "),
        ("gopher", "protocol = gopher"),
        ("HTTPS", "protocol = HTTPS"),
    ] {
        let r = s.get(&format!("/mirrorlist?{F41}&protocol={value}"));
        let want = format!("# repo = fedora-41 arch = x86_64 country = global {tail}");
        assert_list(&r, &want);
        assert_eq!(r.text(), format!("{want}\n"), "header only");
    }
    // Several schemes: one line per kept URL, in the host's stored order; the raw value in
    // the header, the list sorted and de-duplicated.
    for value in ["https,http", "http,https,http"] {
        let r = s.get(&format!("/mirrorlist?{F41}&country=se&protocol={value}"));
        assert_list(
            &r,
            &format!("# repo = fedora-41 arch = x86_64 country = se protocol = {value}"),
        );
        assert_eq!(
            urls(&r),
            [
                f41_url("https", "mirror.se.example.org"),
                f41_url("http", "mirror.se.example.org")
            ]
        );
    }
    // Metalink: an unknown scheme leaves `<resources>` empty, still 200.
    let r = s.get(&format!("/metalink?{F41}&protocol=gopher"));
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(!text.contains("<url"), "{text}");
    assert!(
        text.contains("   <resources maxconnections=\"1\">\n   </resources>\n"),
        "{text}"
    );
    // Metalink with two schemes: only those.
    let r = s.get(&format!("/metalink?{F41}&country=se&protocol=rsync,https"));
    let schemes: Vec<&str> = text_lines_with(&r, "<url ")
        .iter()
        .map(|l| {
            if l.contains(">https://") {
                "https"
            } else if l.contains(">rsync://") {
                "rsync"
            } else {
                "other"
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(schemes, ["https", "rsync"], "{}", r.text());
}

fn text_lines_with(r: &Response, needle: &str) -> Vec<String> {
    r.text()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn netblock_other_than_1_turns_off_netblocks_and_asn() {
    let s = server();
    let se_on = "# repo = fedora-41 arch = x86_64 Using preferred netblock Using ASN 1653 country = SE country = DE country = GB country = global ";
    let se_off =
        "# repo = fedora-41 arch = x86_64 country = SE country = DE country = GB country = global ";
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=89.160.20.115&netblock=1")),
        se_on,
    );
    for flag in [
        "netblock=",
        "netblock",
        "netblock=yes",
        "netblock=0",
        "netblock=true",
    ] {
        assert_list(
            &s.get(&format!("/mirrorlist?{F41}&ip=89.160.20.115&{flag}")),
            se_off,
        );
    }
    // ASN matching goes too: 134.109.1.1 is matched by ASN alone.
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=134.109.1.1")),
        "# repo = fedora-41 arch = x86_64 Using ASN 680 country = global ",
    );
    let r = s.get(&format!("/mirrorlist?{F41}&ip=134.109.1.1&netblock=0"));
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = global ");
    assert_eq!(sorted_hosts(&r), GLOBAL_NO_CN);
}

#[test]
fn time_takes_any_value() {
    let s = server();
    for flag in ["time", "time=", "time=1", "time=0", "time=whatever"] {
        let r = s.get(&format!("/mirrorlist?{F41}&country=se&{flag}"));
        assert_eq!(
            r.text(),
            format!(
                "# repo = fedora-41 arch = x86_64 country = se \n# database creation time: 1795439232\n{}\n",
                f41_url("https", "mirror.se.example.org")
            ),
            "{flag}"
        );
    }
}

#[test]
fn repeated_keys_last_wins_and_values_end_at_a_second_equals() {
    let s = server();
    let r =
        s.get("/mirrorlist?repo=nope&arch=s390x&repo=fedora-41&arch=x86_64&country=se&country=de");
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = de ");
    assert_eq!(r.text().lines().count(), 3);
    let r = s.get(&format!(
        "/mirrorlist?{F41}&ip=89.160.20.115&ip=81.2.69.160&netblock=0"
    ));
    assert_list(
        &r,
        "# repo = fedora-41 arch = x86_64 country = GB country = DE country = SE country = global ",
    );
    // `country=se=jp` is `country=se`.
    let r = s.get(&format!("/mirrorlist?{F41}&country=se=jp"));
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = se ");
    assert_eq!(urls(&r), [f41_url("https", "mirror.se.example.org")]);
    // Unknown keys are ignored.
    let r = s.get(&format!(
        "/mirrorlist?{F41}&country=se&countme=1&infra=stock&cc=de&version=9"
    ));
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = se ");
}

#[test]
fn country_forms() {
    let s = server();
    // A key without `=`, an empty value, or only empty members: no country requested.
    for flag in ["country", "country=", "country=,"] {
        let r = s.get(&format!("/mirrorlist?{F41}&{flag}"));
        assert_list(&r, "# repo = fedora-41 arch = x86_64 country = global ");
        assert_eq!(sorted_hosts(&r), GLOBAL_NO_CN, "{flag}");
    }
    // `global` in any case.
    for value in ["GLOBAL", "GlObAl"] {
        let r = s.get(&format!("/mirrorlist?{F41}&country={value}"));
        assert_list(&r, "# repo = fedora-41 arch = x86_64 country = global ");
        assert_eq!(sorted_hosts(&r), GLOBAL_NO_CN);
    }
    // `global` plus a country: both, sorted as typed.
    let r = s.get(&format!("/mirrorlist?{F41}&country=global,de"));
    assert_list(
        &r,
        "# repo = fedora-41 arch = x86_64 country = de country = global ",
    );
    assert_eq!(sorted_hosts(&r), GLOBAL_NO_CN);
    // Empty members are skipped.
    let r = s.get(&format!("/mirrorlist?{F41}&country=se,,jp"));
    assert_list(
        &r,
        "# repo = fedora-41 arch = x86_64 country = jp country = se ",
    );
    assert_eq!(
        sorted_hosts(&r),
        ["mirror.jp.example.org", "mirror.se.example.org"]
    );
}

#[test]
fn country_restricted_host_only_for_its_countries() {
    // Decision 8: mirror.cn allows CN clients only; `country=cn` lists it for a client in CN
    // and for nobody else (a client in BT, or one whose country is unknown).
    let s = server();
    let want = "# repo = fedora-41 arch = x86_64 country = cn ";
    let r = s.get(&format!("/mirrorlist?{F41}&country=cn&ip=175.16.199.1"));
    assert_list(&r, want);
    assert_eq!(urls(&r), [f41_url("https", "mirror.cn.example.org")]);
    for ip in ["67.43.156.1", "127.0.0.1", "10.1.2.3"] {
        let r = s.get(&format!("/mirrorlist?{F41}&country=cn&ip={ip}"));
        assert_list(&r, want);
        assert!(urls(&r).is_empty(), "decision 8: ip={ip}: {}", r.text());
    }
}

#[test]
fn routing_is_on_the_path_suffix() {
    let s = server();
    for path in [
        "/",
        "/mirrorlist/",
        "/metalink/",
        "/mirrorlistx",
        "/xmirrorlist",
        "/metalink.xml",
        "/mirrorlist/x",
    ] {
        assert_plain(&s.get(&format!("{path}?{F41}")), 404, NOT_OURS);
    }
    let r = s.get(&format!("/pub/mirrors/metalink?{F41}&country=se"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/metalink+xml"));
    assert_list(
        &s.get(&format!("/a/b/c/mirrorlist?{F41}&country=se")),
        "# repo = fedora-41 arch = x86_64 country = se ",
    );
}

#[test]
fn ip_parameter_forms() {
    let s = server();
    // Empty counts as absent: the peer (127.0.0.1, unknown country) is the client.
    let r = s.get(&format!("/mirrorlist?{F41}&ip="));
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = global ");
    // Decision 1: a percent-encoded IPv6 address is decoded.
    let jp = "# repo = fedora-41 arch = x86_64 Using preferred netblock Using ASN 2500 country = JP country = CN country = PH country = global ";
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=2001%3A218%3A%3A1")),
        jp,
    );
    // Decision 2: an IPv4-mapped IPv6 address is the IPv4 address.
    let se = "# repo = fedora-41 arch = x86_64 Using preferred netblock Using ASN 1653 country = SE country = DE country = GB country = global ";
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=::ffff:89.160.20.115")),
        se,
    );
    // ip= wins over X-Forwarded-For.
    let r = s.request(
        "GET",
        &format!("/mirrorlist?{F41}&ip=89.160.20.115"),
        &[("X-Forwarded-For", "81.2.69.160")],
    );
    assert_list(&r, se);
    // Decision 3: an address that does not parse is 400, whatever else is wrong.
    for ip in ["10.11.12.331", "not-an-ip", "2001:::1", "%zz"] {
        assert_plain(
            &s.get(&format!("/mirrorlist?{F41}&ip={ip}")),
            400,
            "Cannot parse client IP address. Aborting.",
        );
    }
    // Path and repo errors come first.
    assert_plain(
        &s.get("/mirrorlist?path=nope/x&ip=bad"),
        404,
        "error: invalid path",
    );
    assert_plain(
        &s.get("/mirrorlist?repo=epel-8&arch=x86_64&ip=bad"),
        200,
        "repo disabled",
    );
}

#[test]
fn x_forwarded_for_from_a_trusted_proxy() {
    let s = server();
    let se = "# repo = fedora-41 arch = x86_64 Using preferred netblock Using ASN 1653 country = SE country = DE country = GB country = global ";
    let global = "# repo = fedora-41 arch = x86_64 country = global ";
    let target = format!("/mirrorlist?{F41}");
    let with = |values: &[&str]| {
        let headers: Vec<(&str, &str)> = values.iter().map(|v| ("X-Forwarded-For", *v)).collect();
        s.request("GET", &target, &headers)
    };
    // Decision 2: `,` with any whitespace separates entries; the rightmost untrusted one is
    // the client; trusted hops (loopback) are skipped; several headers read as one list.
    assert_list(&with(&["10.0.0.1,89.160.20.115"]), se);
    assert_list(&with(&["10.0.0.1 ,  89.160.20.115"]), se);
    assert_list(&with(&["89.160.20.115, 127.0.0.5"]), se);
    assert_list(&with(&["81.2.69.160", "89.160.20.115, 127.0.0.5"]), se);
    assert_list(&with(&["89.160.20.115:4711"]), se);
    // An entry that does not parse: the last trusted hop's view (the peer), never a 500.
    let r = with(&["garbage"]);
    assert_list(&r, global);
    assert_eq!(sorted_hosts(&r), GLOBAL_NO_CN);
    assert_list(&with(&["89.160.20.115, garbage"]), global);
    // Decision 4: bytes that are not ASCII (and not UTF-8) in the header cannot break the
    // request.
    let mut bytes =
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: n")
            .into_bytes();
    bytes.extend_from_slice(b"\xe9pe, \xff\r\n\r\n");
    let r = request_raw(s.addr(), &bytes, false);
    assert_list(&r, global);
}

#[test]
fn ip_and_forwarded_for_from_an_untrusted_peer_are_ignored() {
    // Decision 2 and 3: with loopback not trusted, neither `ip=` nor X-Forwarded-For can
    // move the client off its real address.
    let s = Server::mm_small(&["--trusted-proxy", "10.0.0.0/8"]);
    let r = s.request(
        "GET",
        &format!("/mirrorlist?{F41}&ip=89.160.20.115"),
        &[("X-Forwarded-For", "81.2.69.160")],
    );
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = global ");
    // Not even a bad one is looked at.
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=bad")),
        "# repo = fedora-41 arch = x86_64 country = global ",
    );

    let s = Server::mm_small(&["--trusted-proxy", "10.0.0.0/8", "--allow-ip-param", "any"]);
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=81.2.69.160")),
        "# repo = fedora-41 arch = x86_64 Using preferred netblock country = GB country = DE country = SE country = global ",
    );

    let s = Server::mm_small(&["--allow-ip-param", "never"]);
    assert_list(
        &s.get(&format!("/mirrorlist?{F41}&ip=81.2.69.160")),
        "# repo = fedora-41 arch = x86_64 country = global ",
    );
    // X-Forwarded-For from the trusted loopback still counts.
    let r = s.request(
        "GET",
        &format!("/mirrorlist?{F41}&ip=bad"),
        &[("X-Forwarded-For", "81.2.69.160")],
    );
    assert_list(
        &r,
        "# repo = fedora-41 arch = x86_64 Using preferred netblock country = GB country = DE country = SE country = global ",
    );
}

#[test]
fn methods_do_not_matter() {
    let s = server();
    let target = format!("/metalink?{F41}&country=se");
    let get = s.get(&target);
    assert_eq!(get.status, 200);
    let head = s.request("HEAD", &target, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-type"),
        Some("application/metalink+xml")
    );
    assert_eq!(
        head.header("content-length").map(str::to_string),
        Some(get.body.len().to_string())
    );
    // A POST body is ignored.
    let raw = format!(
        "POST /mirrorlist?{F41}&country=se HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\ncountry=de"
    );
    let r = request_raw(s.addr(), raw.as_bytes(), false);
    assert_list(&r, "# repo = fedora-41 arch = x86_64 country = se ");
    for method in ["PUT", "DELETE", "OPTIONS"] {
        let r = s.request(method, &format!("/mirrorlist?{F41}&country=se"), &[]);
        assert_list(&r, "# repo = fedora-41 arch = x86_64 country = se ");
    }
}

#[test]
fn default_mirrorlist_gives_one_url_per_host() {
    // Decision 6: one URL per host, https before http before ftp; rsync-only is never listed.
    let s = server();
    let r = s.get(&format!("/mirrorlist?{F41}"));
    let lines = urls(&r);
    assert_eq!(lines.len(), GLOBAL_NO_CN.len());
    for line in &lines {
        let host = host_of(line);
        let want = if host == "mirror.za.example.org" || host == "mirror.ph.example.org" {
            "http://"
        } else {
            "https://"
        };
        assert!(line.starts_with(want), "{line}");
    }
}

/// The file name of `path=` is the client's text and ends up in every URL and in a redirect's
/// `Location`: what a URL cannot hold is percent-encoded, so `%0A` starts no line of its own
/// in the body and a redirect never loses its `Location` (before: a 302 with none).
#[test]
fn a_file_name_with_controls_is_encoded_not_injected() {
    let s = server();
    let evil = "x%0D%0ASet-Cookie:%20a%0Aevil";
    let r = s.get(&format!("/mirrorlist?path={ISO_DIR}/{evil}&country=us"));
    assert_eq!(r.status, 200, "{}", r.text());
    let encoded = evil; // what was decoded is encoded again, byte for byte
    assert_list(&r, &format!("# path = {ISO_DIR}/{encoded} country = us "));
    assert_eq!(
        urls(&r),
        [format!(
            "https://mirror.us.example.org/pub/fedora/linux/releases/41/Server/x86_64/iso/{encoded}"
        )]
    );
    assert!(!r.text().lines().any(|l| l.starts_with("evil")));
    for _ in 0..20 {
        let r = s.get(&format!(
            "/mirrorlist?path={ISO_DIR}/{evil}&country=us&redirect=1"
        ));
        assert_eq!(r.status, 302, "{}", r.text());
        let location = r.header("location").expect("a 302 has a Location");
        assert!(location.ends_with(encoded), "{location}");
        assert!(r.header("set-cookie").is_none());
    }
    // Non-ASCII is encoded too; ordinary names are unchanged (see the tests above).
    let r = s.get(&format!(
        "/mirrorlist?path={ISO_DIR}/caf%C3%A9.iso&country=us"
    ));
    assert_eq!(urls(&r)[0].rsplit('/').next(), Some("caf%C3%A9.iso"));
}

/// A repo, arch or protocol the client decoded into a line break is echoed encoded in the
/// header comment, so it adds no line to the mirrorlist (a line a client would take for a URL),
/// and cannot close the comment of a metalink failure document.
#[test]
fn echoed_parameters_add_no_line_and_close_no_comment() {
    let s = server();
    let r = s.get("/mirrorlist?repo=x%0Ahttp://evil.example/&arch=y%20z");
    assert_eq!(r.status, 404);
    assert!(
        r.text()
            .starts_with("# repo = x%0Ahttp://evil.example/ arch = y%20z error"),
        "{}",
        r.text()
    );
    assert!(
        !r.text().lines().any(|l| l.starts_with("http://evil")),
        "{}",
        r.text()
    );
    let r = s.get("/mirrorlist?repo=fedora-41&arch=x86_64&protocol=https%0Ahttp://evil/");
    assert!(
        !r.text().lines().any(|l| l.starts_with("http://evil")),
        "{}",
        r.text()
    );
    let r = s.get("/metalink?repo=x--%3E%3Cevil/%3E&arch=x86_64");
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(
        !text.contains("<evil/>") || text.contains("x-%2D><evil/>"),
        "{text}"
    );
    assert_eq!(text.matches("--").count(), 2, "{text}");
}
