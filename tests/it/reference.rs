//! The production server's recorded answers (`tests/data/mm-small/reference-answers`, one test
//! per file) replayed over HTTP against `mirrorlist serve` on the same mm-small files.
//!
//! Each reference file holds the request line, optional `# curl arg:` lines (a header or a
//! method), `----`, then the production server's status line, headers and body. A test sends
//! the same request and compares:
//!
//! - the status, the `content-type` header (present or absent, and its value), `location`;
//! - the body: byte for byte where the answer is deterministic (errors, failure documents,
//!   single-host answers, `HEAD`). Where the production server shuffles, the header comment
//!   lines exactly, the URL lines as a set (grouped per host, a host's URLs in stored order and
//!   next to each other), and the hosts that must come first (netblock, ASN, GeoIP country...)
//!   group by group. For metalinks, everything outside `<resources>` exactly (`pubdate` checked
//!   to be the request time instead), and the `<url>` lines as a set with `preference` taken
//!   out; preferences are checked separately (100 for the first host, one less per host, the
//!   same for every URL of a host);
//! - that answered requests carry `x-mirrorlist-generation` (the cache's `Time` first).
//!
//! Where we differ on purpose, the case adjusts the expectation and names the decision of
//! `decisions.md` (in a comment and in the failure message).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{mm_small, parse_response, Response, Server};

/// The cache's `Time`: the generation half of `x-mirrorlist-generation`.
const CACHE_TIME: &str = "1795439232";

const DE: &str = "mirror.de.example.org";
const DE2: &str = "mirror2.de.example.org";
const SE: &str = "mirror.se.example.org";
const GB: &str = "mirror.gb.example.org";
const US: &str = "mirror.us.example.org";
const CA: &str = "mirror.ca.example.org";
const JP: &str = "mirror.jp.example.org";
const CN: &str = "mirror.cn.example.org";
const PH: &str = "mirror.ph.example.org";
const AU: &str = "mirror.au.example.org";
const PRIVATE: &str = "private.corp.example.com";

fn reference_dir() -> PathBuf {
    mm_small("reference-answers")
}

/// One reference file, parsed.
struct Reference {
    method: String,
    target: String,
    /// Request headers from `# curl arg: -H` lines.
    request_headers: Vec<(String, String)>,
    status: u16,
    /// Response headers, names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reference {
    fn load(file: &str) -> Reference {
        let path = reference_dir().join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let sep = b"\n----\n";
        let at = bytes
            .windows(sep.len())
            .position(|w| w == sep)
            .unwrap_or_else(|| panic!("{file}: no ---- line"));
        let request = std::str::from_utf8(&bytes[..at]).expect("request part is text");
        let mut lines = request.lines();
        let request_line = lines.next().expect("request line");
        let mut words = request_line.split(' ');
        let method = words.next().expect("method").to_string();
        let target = words.next().expect("target").to_string();
        let curl_args: Vec<&str> = lines
            .filter_map(|l| l.strip_prefix("# curl arg: "))
            .collect();
        let mut request_headers = Vec::new();
        let mut i = 0;
        while i < curl_args.len() {
            match curl_args[i] {
                "-H" => {
                    let (n, v) = curl_args[i + 1].split_once(':').expect("header arg");
                    request_headers.push((n.trim().to_string(), v.trim().to_string()));
                    i += 2;
                }
                // The method is on the request line already.
                "-X" => i += 2,
                "-I" => i += 1,
                other => panic!("{file}: unexpected curl arg {other:?}"),
            }
        }
        let head_request = method == "HEAD";
        let response = parse_response(&bytes[at + sep.len()..], head_request);
        Reference {
            method,
            target,
            request_headers,
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where a redirect must point.
#[derive(Debug)]
enum Location {
    Absent,
    Exact(String),
    /// Any of these (the production server picked one host at random).
    OneOf(Vec<String>),
}

/// What we expect, starting from the reference and adjusted by the case.
struct Expected {
    status: u16,
    content_type: Option<String>,
    location: Location,
    /// `content-length` of a `HEAD` answer.
    head_length: Option<String>,
    body: Vec<u8>,
    /// The decisions behind every adjustment, quoted in failure messages.
    decisions: Vec<&'static str>,
}

impl Expected {
    fn from_reference(r: &Reference) -> Expected {
        Expected {
            status: r.status,
            content_type: r.header("content-type").map(str::to_string),
            location: match r.header("location") {
                Some(l) => Location::Exact(l.to_string()),
                None => Location::Absent,
            },
            head_length: if r.method == "HEAD" {
                r.header("content-length").map(str::to_string)
            } else {
                None
            },
            body: r.body.clone(),
            decisions: Vec::new(),
        }
    }

    /// Drops every URL line (mirrorlist) or `<url>` line (metalink) of `host`.
    fn without_host(&mut self, host: &str) {
        let text = String::from_utf8(self.body.clone()).expect("text body");
        let kept: String = text
            .split_inclusive('\n')
            .filter(|line| !line.contains(&format!("://{host}/")))
            .collect();
        assert_ne!(kept, text, "the reference has no URL of {host} to drop");
        self.body = kept.into_bytes();
    }
}

/// One reference file and what it needs beyond the generic comparison.
struct Case {
    file: &'static str,
    /// Hosts that must open the answer, group after group; within a group any order (the
    /// production server shuffles inside netblock, ASN, country, GeoIP and continent groups, but
    /// never across them). The rest of the hosts follow in any order.
    head: &'static [&'static [&'static str]],
    /// Our deliberate differences from the reference.
    adjust: fn(&mut Expected),
}

fn same(_: &mut Expected) {}

/// Decision 8: a host with allowed countries (host 6, mirror.cn, CN only) is not given to
/// clients outside them, whichever group it would enter. The production server skips the
/// check for the GeoIP and continent groups, so its answer lists mirror.cn for this client.
fn decision_8_no_cn(e: &mut Expected) {
    e.without_host(CN);
    e.decisions.push(
        "decision 8: a host restricted to CN (mirror.cn) is not given to a client outside CN, \
         also through the continent group",
    );
}

/// Decision 3: an `ip=` that does not parse gets 400 (with the production server's body),
/// not 500.
fn decision_3_bad_ip(e: &mut Expected) {
    assert_eq!(e.status, 500);
    e.status = 400;
    e.decisions
        .push("decision 3: an unparsable ip= is the client's error: 400 instead of 500");
}

/// Decision 1: query values are percent-decoded, so `country=se%2Cjp` is `country=se,jp`
/// (the production server looks for a country called `se%2Cjp`, finds none, and falls back
/// to the global list).
fn decision_1_decoded_country(e: &mut Expected) {
    let url =
        |host: &str| format!("https://{host}/pub/fedora/linux/releases/41/Everything/x86_64/os/\n");
    e.body = format!(
        "# repo = fedora-41 arch = x86_64 country = jp country = se \n{}{}",
        url(SE),
        url(JP)
    )
    .into_bytes();
    e.decisions
        .push("decision 1: query values are percent-decoded (se%2Cjp is se,jp)");
}

/// The production server redirected to the first host of a shuffled global list: any host of
/// the same answer without `redirect` (reference 22) will do.
fn redirect_to_any_global_host(e: &mut Expected) {
    let full = Reference::load("22-mirrorlist-path-file.txt");
    let urls = String::from_utf8(full.body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("http"))
        .map(str::to_string)
        .collect();
    e.location = Location::OneOf(urls);
}

macro_rules! reference_cases {
    ($($test:ident: $file:literal, $head:expr, $adjust:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check(&Case { file: $file, head: $head, adjust: $adjust });
            }
        )*
        /// Every file a test covers.
        const COVERED: &[&str] = &[$($file),*];
    };
}

reference_cases! {
    r01_mirrorlist_repo_arch_noip: "01-mirrorlist-repo-arch-noip.txt", &[], same;
    // Netblock 89.160.20.112/28 -> mirror.se; then the rest of Europe (DE, GB).
    r02_mirrorlist_ip_se_netblock: "02-mirrorlist-ip-SE-netblock.txt", &[&[SE], &[DE, DE2, GB]], same;
    r03_mirrorlist_ip_gb_netmask_netblock: "03-mirrorlist-ip-GB-netmask-netblock.txt", &[&[GB], &[DE, DE2, SE]], same;
    // Private netblock host, then the ASN 3356 host, then the continent (CA).
    r04_mirrorlist_ip_us_private_netblock: "04-mirrorlist-ip-US-private-netblock.txt", &[&[PRIVATE], &[US], &[CA]], same;
    r05_mirrorlist_ip_asn_only: "05-mirrorlist-ip-asn-only.txt", &[&[DE]], same;
    // 134.108.34.0/24 (mirror2.de) is more specific than 134.108.0.0/16 (mirror.de).
    r06_mirrorlist_ip_nested_netblocks: "06-mirrorlist-ip-nested-netblocks.txt", &[&[DE2], &[DE]], same;
    r07_mirrorlist_ip_jp_ipv6_netblock: "07-mirrorlist-ip-JP-ipv6-netblock.txt", &[&[JP], &[PH]], decision_8_no_cn;
    r08_mirrorlist_ip_cn_country_allowed: "08-mirrorlist-ip-CN-country-allowed.txt", &[&[CN], &[JP, PH]], same;
    r09_mirrorlist_ip_bt_continent_as: "09-mirrorlist-ip-BT-continent-AS.txt", &[&[JP, PH]], decision_8_no_cn;
    // NetblockCountryCache makes 198.51.100.0/24 AU; ASN 7575 is mirror.au's.
    r10_mirrorlist_ip_netblock_country_au: "10-mirrorlist-ip-netblock-country-AU.txt", &[&[AU]], same;
    r11_mirrorlist_country_de: "11-mirrorlist-country-de.txt", &[&[DE, DE2]], same;
    r12_mirrorlist_country_multi: "12-mirrorlist-country-multi.txt", &[&[SE, JP]], same;
    r13_mirrorlist_country_global: "13-mirrorlist-country-global.txt", &[], same;
    r14_mirrorlist_country_nomirror_continent: "14-mirrorlist-country-nomirror-continent.txt", &[&[DE, DE2, SE, GB]], same;
    r15_mirrorlist_country_unknown: "15-mirrorlist-country-unknown.txt", &[], same;
    r16_mirrorlist_netblock0: "16-mirrorlist-netblock0.txt", &[&[SE], &[DE, DE2, GB]], same;
    r17_mirrorlist_protocol_rsync: "17-mirrorlist-protocol-rsync.txt", &[], same;
    r18_mirrorlist_protocol_http_ftp: "18-mirrorlist-protocol-http-ftp.txt", &[], same;
    r19_mirrorlist_time: "19-mirrorlist-time.txt", &[], same;
    r20_mirrorlist_redirect: "20-mirrorlist-redirect.txt", &[], same;
    r21_mirrorlist_path_dir: "21-mirrorlist-path-dir.txt", &[], same;
    r22_mirrorlist_path_file: "22-mirrorlist-path-file.txt", &[], same;
    r23_mirrorlist_path_file_redirect: "23-mirrorlist-path-file-redirect.txt", &[], redirect_to_any_global_host;
    r24_mirrorlist_path_invalid: "24-mirrorlist-path-invalid.txt", &[], same;
    r25_mirrorlist_source_repo: "25-mirrorlist-source-repo.txt", &[], same;
    r26_mirrorlist_repo_redirect: "26-mirrorlist-repo-redirect.txt", &[], same;
    r27_mirrorlist_disabled_repo: "27-mirrorlist-disabled-repo.txt", &[], same;
    r28_mirrorlist_epel_9: "28-mirrorlist-epel-9.txt", &[&[SE], &[DE, DE2]], same;
    r29_mirrorlist_invalid_repo: "29-mirrorlist-invalid-repo.txt", &[], same;
    r30_mirrorlist_invalid_arch: "30-mirrorlist-invalid-arch.txt", &[], same;
    r31_mirrorlist_missing_params: "31-mirrorlist-missing-params.txt", &[], same;
    r32_mirrorlist_no_query: "32-mirrorlist-no-query.txt", &[], same;
    r33_mirrorlist_bad_ip: "33-mirrorlist-bad-ip.txt", &[], decision_3_bad_ip;
    // X-Forwarded-For `10.0.0.1, 89.160.20.115`: the client is 89.160.20.115, as in 02.
    r34_mirrorlist_x_forwarded_for: "34-mirrorlist-x-forwarded-for.txt", &[&[SE], &[DE, DE2, GB]], same;
    r35_mirrorlist_stale_host_updates: "35-mirrorlist-stale-host-updates.txt", &[], same;
    r36_mirrorlist_prefixed_path: "36-mirrorlist-prefixed-path.txt", &[], same;
    r37_notfound_path: "37-notfound-path.txt", &[], same;
    r38_mirrorlist_aarch64_country: "38-mirrorlist-aarch64-country.txt", &[], same;
    r39_mirrorlist_urlencoded_country: "39-mirrorlist-urlencoded-country.txt", &[&[SE, JP]], decision_1_decoded_country;
    r40_mirrorlist_post_method: "40-mirrorlist-post-method.txt", &[], same;
    r41_mirrorlist_head_method: "41-mirrorlist-head-method.txt", &[], same;
    r50_metalink_repo_arch_noip: "50-metalink-repo-arch-noip.txt", &[], same;
    r51_metalink_ip_se: "51-metalink-ip-SE.txt", &[&[SE], &[DE, DE2, GB]], same;
    r52_metalink_alternates_updates: "52-metalink-alternates-updates.txt", &[&[DE, DE2]], same;
    r53_metalink_protocol_https: "53-metalink-protocol-https.txt", &[], same;
    r54_metalink_country_private_host: "54-metalink-country-private-host.txt", &[&[PRIVATE], &[US], &[CA]], same;
    r55_metalink_path_repomd: "55-metalink-path-repomd.txt", &[], same;
    r56_metalink_path_dir_nofile: "56-metalink-path-dir-nofile.txt", &[], same;
    r57_metalink_invalid_repo: "57-metalink-invalid-repo.txt", &[], same;
    r58_metalink_disabled: "58-metalink-disabled.txt", &[], same;
    r59_metalink_missing_params: "59-metalink-missing-params.txt", &[], same;
    r60_metalink_bad_ip: "60-metalink-bad-ip.txt", &[], decision_3_bad_ip;
    r61_metalink_source: "61-metalink-source.txt", &[], same;
    r62_metalink_redirect_param: "62-metalink-redirect-param.txt", &[], same;
    r63_metalink_time: "63-metalink-time.txt", &[&[DE, DE2]], same;
}

#[test]
fn every_reference_file_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(reference_dir())
        .expect("reference directory")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut covered: Vec<String> = COVERED.iter().map(|s| s.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered, "reference files and test cases differ");
    // 01-41 and 50-63.
    assert_eq!(files.len(), 55);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn check(case: &Case) {
    let reference = Reference::load(case.file);
    let mut expected = Expected::from_reference(&reference);
    (case.adjust)(&mut expected);

    let server = Server::mm_small::<&str>(&[]);
    let headers: Vec<(&str, &str)> = reference
        .request_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let before = unix_now();
    let ours = server.request(&reference.method, &reference.target, &headers);
    let after = unix_now();

    let mut errors = Vec::new();
    compare(
        case,
        &reference,
        &expected,
        &ours,
        (before, after),
        &mut errors,
    );
    if !errors.is_empty() {
        let why = if expected.decisions.is_empty() {
            String::new()
        } else {
            format!(
                "\n(expected adjusted from the reference by: {})",
                expected.decisions.join("; ")
            )
        };
        panic!(
            "{}: {} mismatch(es) against the reference answer{why}\n  - {}\n--- our body:\n{}",
            case.file,
            errors.len(),
            errors.join("\n  - "),
            ours.text()
        );
    }
}

fn compare(
    case: &Case,
    reference: &Reference,
    expected: &Expected,
    ours: &Response,
    window: (u64, u64),
    errors: &mut Vec<String>,
) {
    if ours.status != expected.status {
        errors.push(format!(
            "status: ours {}, expected {}",
            ours.status, expected.status
        ));
    }
    let content_type = ours.header("content-type");
    if content_type != expected.content_type.as_deref() {
        errors.push(format!(
            "content-type: ours {content_type:?}, expected {:?}",
            expected.content_type
        ));
    }
    let location = ours.header("location");
    match &expected.location {
        Location::Absent if location.is_some() => {
            errors.push(format!("location: ours {location:?}, expected none"))
        }
        Location::Exact(want) if location != Some(want.as_str()) => {
            errors.push(format!("location: ours {location:?}, expected {want:?}"))
        }
        Location::OneOf(list) if !location.is_some_and(|l| list.iter().any(|u| u == l)) => errors
            .push(format!(
                "location: ours {location:?}, expected one of {list:?}"
            )),
        _ => {}
    }
    // Answered requests (routed to /mirrorlist or /metalink) say which snapshot answered.
    let path = reference.target.split('?').next().unwrap_or("");
    if path.ends_with("/mirrorlist") || path.ends_with("/metalink") {
        match ours.header("x-mirrorlist-generation") {
            Some(g) if g.starts_with(&format!("{CACHE_TIME}/")) => {}
            other => errors.push(format!(
                "x-mirrorlist-generation: ours {other:?}, expected \"{CACHE_TIME}/<sequence>\""
            )),
        }
    }

    if reference.method == "HEAD" {
        if !ours.body.is_empty() {
            errors.push(format!("HEAD answer has a {}-byte body", ours.body.len()));
        }
        if ours.header("content-length") != expected.head_length.as_deref() {
            errors.push(format!(
                "HEAD content-length: ours {:?}, expected {:?}",
                ours.header("content-length"),
                expected.head_length
            ));
        }
        return;
    }
    if let Some(len) = ours.header("content-length") {
        if len != ours.body.len().to_string() {
            errors.push(format!(
                "content-length {len} but the body has {} bytes",
                ours.body.len()
            ));
        }
    }

    let Ok(our_text) = String::from_utf8(ours.body.clone()) else {
        errors.push("our body is not UTF-8".into());
        return;
    };
    let mut want_text = String::from_utf8(expected.body.clone()).expect("reference body is text");
    let mut our_text = our_text;
    let metalink = expected.content_type.as_deref() == Some("application/metalink+xml");
    if metalink {
        match pubdate(&our_text) {
            None => errors.push("our metalink has no pubdate".into()),
            Some(date) => {
                check_pubdate(date, window, errors);
                our_text = our_text.replacen(date, "PUBDATE", 1);
            }
        }
        if let Some(date) = pubdate(&want_text) {
            want_text = want_text.replacen(&date.to_string(), "PUBDATE", 1);
        }
    }

    let mirrorlist_answer =
        expected.status == 200 && expected.content_type.as_deref() == Some("text/plain");
    if mirrorlist_answer {
        compare_mirrorlist(&our_text, &want_text, case.head, errors);
    } else if metalink && want_text.contains(RESOURCES_OPEN) {
        compare_metalink(&our_text, &want_text, case.head, errors);
    } else if our_text != want_text {
        errors.push(format!(
            "body differs:\n    ours     {our_text:?}\n    expected {want_text:?}"
        ));
    }
}

/// The `pubdate` attribute's value.
fn pubdate(text: &str) -> Option<&str> {
    let start = text.find("pubdate=\"")? + "pubdate=\"".len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// `pubdate` is the request time in `%a, %d %b %Y %H:%M:%S GMT`.
fn check_pubdate(date: &str, (before, after): (u64, u64), errors: &mut Vec<String>) {
    match httpdate::parse_http_date(date) {
        Err(e) => errors.push(format!("pubdate {date:?} is not an HTTP date: {e}")),
        Ok(t) => {
            if httpdate::fmt_http_date(t) != date {
                errors.push(format!("pubdate {date:?} is not in IMF-fixdate form"));
            }
            let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            if secs < before || secs > after {
                errors.push(format!(
                    "pubdate {date:?} is not the time of the request ({before}..={after})"
                ));
            }
        }
    }
}

/// The authority of a URL: what a host's URLs have in common.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Groups lines by host in order of appearance; an error if a host's lines are not adjacent.
fn group_by_host<'a>(
    items: &[(&'a str, String)],
    who: &str,
    errors: &mut Vec<String>,
) -> Vec<(&'a str, Vec<String>)> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for (host, line) in items {
        match groups.last_mut() {
            Some((h, lines)) if h == host => lines.push(line.clone()),
            _ => {
                if groups.iter().any(|(h, _)| h == host) {
                    errors.push(format!(
                        "{who}: the URLs of {host} are not next to each other"
                    ));
                }
                groups.push((host, vec![line.clone()]));
            }
        }
    }
    groups
}

/// The hosts must open with `head`'s groups in order (any order inside a group).
fn check_head(order: &[&str], head: &[&[&str]], who: &str, errors: &mut Vec<String>) {
    let mut at = 0;
    for group in head {
        let end = at + group.len();
        let Some(slice) = order.get(at..end) else {
            errors.push(format!(
                "{who}: only {} hosts, expected at least {end} to open with {head:?}",
                order.len()
            ));
            return;
        };
        let mut got: Vec<&str> = slice.to_vec();
        let mut want: Vec<&str> = group.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        if got != want {
            errors.push(format!(
                "{who}: hosts {at}..{end} are {slice:?}, expected {group:?} in any order (full order {order:?})"
            ));
        }
        at = end;
    }
}

fn compare_groups(
    ours: &[(&str, Vec<String>)],
    want: &[(&str, Vec<String>)],
    errors: &mut Vec<String>,
) {
    let ours_map: BTreeMap<&str, &Vec<String>> = ours.iter().map(|(h, l)| (*h, l)).collect();
    let want_map: BTreeMap<&str, &Vec<String>> = want.iter().map(|(h, l)| (*h, l)).collect();
    for (host, lines) in &want_map {
        match ours_map.get(host) {
            None => errors.push(format!("host {host} missing (expected {lines:?})")),
            Some(got) if got != lines => {
                errors.push(format!("host {host}: ours {got:?}, expected {lines:?}"))
            }
            _ => {}
        }
    }
    for (host, lines) in &ours_map {
        if !want_map.contains_key(host) {
            errors.push(format!("host {host} should not be listed (ours {lines:?})"));
        }
    }
}

/// The hosts of groups, in order.
fn hosts<'a>(groups: &[(&'a str, Vec<String>)]) -> Vec<&'a str> {
    groups.iter().map(|(h, _)| *h).collect()
}

fn url_items<'a>(parsed: &[UrlLine<'a>]) -> Vec<(&'a str, String)> {
    parsed
        .iter()
        .map(|p| (p.host, p.normalized.clone()))
        .collect()
}

fn compare_mirrorlist(ours: &str, want: &str, head: &[&[&str]], errors: &mut Vec<String>) {
    if ours.ends_with('\n') != want.ends_with('\n') {
        errors.push("the body's final newline differs".into());
    }
    let split = |text: &str| {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let n = lines.iter().take_while(|l| l.starts_with('#')).count();
        let (comments, urls) = lines.split_at(n);
        (comments.to_vec(), urls.to_vec())
    };
    let (our_header, our_urls) = split(ours);
    let (want_header, want_urls) = split(want);
    if our_header != want_header {
        errors.push(format!(
            "header: ours {our_header:?}, expected {want_header:?}"
        ));
    }
    let our_items: Vec<(&str, String)> =
        our_urls.iter().map(|u| (url_host(u), u.clone())).collect();
    let want_items: Vec<(&str, String)> =
        want_urls.iter().map(|u| (url_host(u), u.clone())).collect();
    let our_groups = group_by_host(&our_items, "ours", errors);
    let want_groups = group_by_host(&want_items, "expected", errors);
    compare_groups(&our_groups, &want_groups, errors);
    check_head(&hosts(&our_groups), head, "ours", errors);
    check_head(&hosts(&want_groups), head, "expected (test table)", errors);
}

const RESOURCES_OPEN: &str = "   <resources maxconnections=\"1\">\n";
const RESOURCES_CLOSE: &str = "   </resources>\n";

/// A `<url>` line with its `preference` taken out, the preference, and the URL's host.
struct UrlLine<'a> {
    normalized: String,
    preference: Option<u32>,
    host: &'a str,
}

fn parse_url_line(line: &str) -> UrlLine<'_> {
    const PREF: &str = " preference=\"";
    let (normalized, preference) = match line.find(PREF) {
        Some(at) => {
            let value_start = at + PREF.len();
            let value_len = line[value_start..].find('"').unwrap_or(0);
            let value = &line[value_start..value_start + value_len];
            let rest = &line[value_start + value_len + 1..];
            (format!("{}{rest}", &line[..at]), value.parse().ok())
        }
        None => (line.to_string(), None),
    };
    let url = line
        .split_once('>')
        .map(|(_, r)| r.trim_end_matches("</url>"))
        .unwrap_or("");
    UrlLine {
        normalized,
        preference,
        host: url_host(url),
    }
}

/// Splits a metalink into (before the URLs, the `<url>` lines, after them).
fn split_metalink(text: &str) -> Option<(&str, Vec<&str>, &str)> {
    let open = text.find(RESOURCES_OPEN)? + RESOURCES_OPEN.len();
    let close = open + text[open..].find(RESOURCES_CLOSE)?;
    let urls = text[open..close].lines().collect();
    Some((&text[..open], urls, &text[close..]))
}

/// 100 for the first host, one less for each next host (never below 1), the same for every
/// URL of a host.
fn check_preferences(lines: &[UrlLine<'_>], who: &str, errors: &mut Vec<String>) {
    let mut host_index: i64 = -1;
    let mut last_host = None;
    for line in lines {
        if last_host != Some(line.host) {
            host_index += 1;
            last_host = Some(line.host);
        }
        let want = (100 - host_index).max(1) as u32;
        if line.preference != Some(want) {
            errors.push(format!(
                "{who}: {} has preference {:?}, expected {want} (host #{})",
                line.host,
                line.preference,
                host_index + 1
            ));
        }
    }
}

fn compare_metalink(ours: &str, want: &str, head: &[&[&str]], errors: &mut Vec<String>) {
    let Some((our_pre, our_urls, our_post)) = split_metalink(ours) else {
        errors.push("our metalink has no <resources> element".into());
        return;
    };
    let (want_pre, want_urls, want_post) = split_metalink(want).expect("reference metalink");
    if our_pre != want_pre {
        errors.push(format!(
            "metalink before <url>s differs:\n    ours     {our_pre:?}\n    expected {want_pre:?}"
        ));
    }
    if our_post != want_post {
        errors.push(format!(
            "metalink after <url>s differs:\n    ours     {our_post:?}\n    expected {want_post:?}"
        ));
    }
    let ours_parsed: Vec<UrlLine<'_>> = our_urls.iter().map(|l| parse_url_line(l)).collect();
    let want_parsed: Vec<UrlLine<'_>> = want_urls.iter().map(|l| parse_url_line(l)).collect();
    check_preferences(&ours_parsed, "ours", errors);
    check_preferences(&want_parsed, "expected (reference)", errors);
    let our_items = url_items(&ours_parsed);
    let want_items = url_items(&want_parsed);
    let our_groups = group_by_host(&our_items, "ours", errors);
    let want_groups = group_by_host(&want_items, "expected", errors);
    compare_groups(&our_groups, &want_groups, errors);
    check_head(&hosts(&our_groups), head, "ours", errors);
    check_head(&hosts(&want_groups), head, "expected (test table)", errors);
}
