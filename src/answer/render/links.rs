//! What a redirect answer (`redirect=1`) says beyond its `Location`: an addition beyond
//! MirrorManager (issue 13, decision 20).
//!
//! - RFC 6249 `Link: <url>; rel=duplicate; pri=N; geo=cc` for the next mirrors of the same
//!   answer, the URL each would have been redirected to, at most `--link-headers` of them;
//! - whether the redirect names a file the snapshot describes (then a metalink for the same
//!   request exists: the server links to it with `rel=describedby`);
//! - RFC 9530 `Repr-Digest: sha-256=:<base64>:` of that file, from its newest details.
//!
//! The header values are built here; the server turns them into headers.

use super::metalink::details;
use super::urls::redirect_candidates;
use crate::answer::select::Chosen;
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// The redirect's extra header values; all empty for every other answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectLinks {
    /// `Link` values for the mirrors after the one in `Location`, in answer order.
    pub duplicates: Vec<String>,
    /// The redirect names a file whose details the snapshot holds: `/metalink` with the same
    /// parameters describes it.
    pub described: bool,
    /// The `Repr-Digest` value, when the described file has a well-formed sha256.
    pub repr_digest: Option<String>,
}

/// The extra header values of a redirect answer with at most `max_duplicates` `Link`s.
pub fn redirect_links(
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    file: Option<&str>,
    hosts: &[Chosen<'_>],
    protocols: Option<&[&str]>,
    max_duplicates: usize,
) -> RedirectLinks {
    let limit = max_duplicates.saturating_add(1);
    let candidates = redirect_candidates(snapshot, dir, file, hosts, protocols, limit);
    links_after(&candidates, dir, file)
}

/// The extra header values of a redirect to `candidates[0]` (the `Location`), with a `Link`
/// for each of the others: for a caller that has the candidates already.
pub fn links_after(
    candidates: &[(String, &str)],
    dir: &ArchivedDirectory,
    file: Option<&str>,
) -> RedirectLinks {
    let mut links = RedirectLinks::default();
    // The `Location` is priority 1; the next mirrors follow, one step per mirror.
    for (i, (url, country)) in candidates.iter().enumerate().skip(1) {
        links.duplicates.push(duplicate(url, country, i + 1));
    }
    // A directory (repo= mode, or a path= naming a directory) is not what any metalink
    // describes: only a named file with details is.
    if let Some(versions) = file.and_then(|f| details(dir, f)) {
        links.described = true;
        links.repr_digest = versions
            .first()
            .and_then(|d| repr_digest(d.sha256.as_str()));
    }
    links
}

/// One RFC 6249 `Link` value: `<url>; rel=duplicate; pri=N; geo=cc`.
fn duplicate(url: &str, country: &str, pri: usize) -> String {
    let mut out = String::with_capacity(url.len() + 40);
    out.push('<');
    // A URI reference holds no `<` or `>` (RFC 3986); encoding them keeps the `<...>` whole.
    for c in url.chars() {
        match c {
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            c => out.push(c),
        }
    }
    out.push_str(">; rel=duplicate; pri=");
    out.push_str(&pri.clamp(1, 999_999).to_string());
    // RFC 6249 section 3.4: an ISO 3166-1 alpha-2 code (its examples are lowercase); left
    // out when the host's country is unknown or is not such a code.
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()) {
        out.push_str("; geo=");
        out.push_str(&country.to_ascii_lowercase());
    }
    out
}

/// `sha-256=:<base64>:` (RFC 9530) for a hex sha256, if it is one (64 hex digits).
pub fn repr_digest(sha256_hex: &str) -> Option<String> {
    let bytes = hex_bytes(sha256_hex).filter(|b| b.len() == 32)?;
    Some(format!("sha-256=:{}:", base64(&bytes)))
}

/// Hex digits (either case) to bytes; `None` for an odd length or a non-hex digit.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16);
    let hex = hex.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

/// Standard base64 with padding (RFC 4648 section 4), as RFC 9530's byte sequences use.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::render::text::redirect_target;
    use crate::answer::render::urls::redirect_candidates;
    use crate::snapshot::model::{Directory, FileDetails, FileEntry, Host, SnapshotData};

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn digests_are_base64_of_the_hex_bytes() {
        // sha256("") and its base64 form (RFC 9530 appendix examples use the same encoding).
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            repr_digest(empty).as_deref(),
            Some("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")
        );
        assert_eq!(repr_digest(&empty.to_ascii_uppercase()), repr_digest(empty));
        for bad in [
            "",
            "abc",
            &empty[1..],
            &format!("{empty}00"),
            &empty.replace('e', "g"),
        ] {
            assert_eq!(repr_digest(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn duplicates_are_rfc_6249_values() {
        assert_eq!(
            duplicate("https://m.example/a<b>", "DE", 2),
            "<https://m.example/a%3Cb%3E>; rel=duplicate; pri=2; geo=de"
        );
        assert_eq!(
            duplicate("http://m/x", "", 3),
            "<http://m/x>; rel=duplicate; pri=3"
        );
        assert_eq!(
            duplicate("http://m/x", "A&", 3),
            "<http://m/x>; rel=duplicate; pri=3"
        );
    }

    #[test]
    fn candidates_start_with_the_redirect_target_and_follow_the_answer() {
        let countries = ["SE", "DE", "", "US"];
        let data = SnapshotData {
            hosts: countries
                .iter()
                .map(|c| Host {
                    country: (*c).into(),
                    weight: 1,
                    ..Host::default()
                })
                .collect(),
            base_urls: vec![
                "rsync://a.example/pub".into(),
                "ftp://b.example/pub".into(),
                "http://b.example/pub".into(),
                "https://b.example/pub".into(),
                "http://c.example".into(),
                "https://d.example/x".into(),
            ],
            directories: vec![Directory {
                name: "d".into(),
                subpath: "d".into(),
                files: vec![FileEntry {
                    name: "f".into(),
                    details: vec![FileDetails {
                        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                            .into(),
                        ..FileDetails::default()
                    }],
                }],
                ..Directory::default()
            }
            .with_hosts([
                (0, true, vec![0]),
                (1, true, vec![1, 2, 3]),
                (2, true, vec![4]),
                (3, true, vec![5]),
            ])],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d").unwrap();
        let chosen = Chosen::every_host(dir);
        for protocols in [None, Some(&["http"][..]), Some(&["ftp"][..])] {
            for file in [None, Some("f"), Some("g")] {
                let all = redirect_candidates(&snapshot, dir, file, &chosen, protocols, 10);
                assert_eq!(
                    all.first().map(|(u, _)| u.clone()),
                    redirect_target(&snapshot, dir, file, &chosen, protocols),
                    "{protocols:?} {file:?}"
                );
                let links = redirect_links(&snapshot, dir, file, &chosen, protocols, 5);
                assert_eq!(links.duplicates.len(), all.len().saturating_sub(1));
                assert_eq!(links.described, file == Some("f"));
                assert_eq!(links.repr_digest.is_some(), file == Some("f"));
                let limited = redirect_links(&snapshot, dir, file, &chosen, protocols, 1);
                assert_eq!(
                    limited.duplicates,
                    links.duplicates[..links.duplicates.len().min(1)]
                );
                assert!(redirect_links(&snapshot, dir, file, &chosen, protocols, 0)
                    .duplicates
                    .is_empty());
            }
        }
        let links = redirect_links(&snapshot, dir, Some("f"), &chosen, None, 5);
        assert_eq!(
            links.duplicates,
            [
                "<http://c.example/d/f>; rel=duplicate; pri=2",
                "<https://d.example/x/d/f>; rel=duplicate; pri=3; geo=us",
            ]
        );
        assert_eq!(
            redirect_target(&snapshot, dir, Some("f"), &chosen, None).as_deref(),
            Some("https://b.example/pub/d/f")
        );
    }
}
