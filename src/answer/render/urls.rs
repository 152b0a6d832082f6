//! Which URLs of a host an answer lists (docs/protocol.md section 8.1-8.2, decision 6), and how a URL is
//! put together from a base URL, the directory's subpath and the file.

use crate::answer::select::{scheme_in, Chosen};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;
use rkyv::rend::u32_le;

/// How many and which URLs of each host to list.
#[derive(Debug, Clone, Copy)]
pub enum UrlPolicy<'a> {
    /// One URL per host, the most preferred of these schemes (mirrorlist default: https,
    /// http, ftp; redirect: https, http).
    Preferred(&'a [&'a str]),
    /// `protocol=`: URLs whose scheme is listed, in stored order, at most one per scheme.
    Protocols(&'a [&'a str]),
    /// Every URL (metalink default).
    All,
}

pub const MIRRORLIST_PREFERENCE: &[&str] = &["https", "http", "ftp"];
pub const REDIRECT_PREFERENCE: &[&str] = &["https", "http"];

/// Calls `emit` with each of a host's base URLs (`urls`) that `policy` keeps, in output order; returns
/// how many were kept.
pub fn for_each_kept<'s>(
    snapshot: &'s Snapshot,
    urls: &[u32_le],
    policy: UrlPolicy<'_>,
    mut emit: impl FnMut(&'s str),
) -> usize {
    for_each_kept_at(snapshot, urls, policy, |_, base| emit(base))
}

/// [`for_each_kept`], with each base URL's index in the snapshot's base URLs.
pub fn for_each_kept_at<'s>(
    snapshot: &'s Snapshot,
    urls: &[u32_le],
    policy: UrlPolicy<'_>,
    emit: impl FnMut(u32, &'s str),
) -> usize {
    let ranked = Ranked {
        policy,
        ranks: None,
    };
    for_each_ranked(snapshot, urls, &ranked, emit)
}

/// A policy made ready for all the hosts of one answer: for [`UrlPolicy::Preferred`], the
/// place of each of the snapshot's schemes in the order, so that a host's URLs are ranked
/// by their scheme index without reading them.
pub struct Ranked<'a> {
    policy: UrlPolicy<'a>,
    /// Per scheme index of [`Snapshot::schemes`], its place in the preferred order
    /// ([`NOT_RANKED`] if absent). Only for `Preferred`, and only when no preferred scheme
    /// has a `:` (then "has scheme S" is "the text before the first `:` is S").
    ranks: Option<Vec<u8>>,
}

const NOT_RANKED: u8 = u8::MAX;

impl<'a> Ranked<'a> {
    pub fn new(snapshot: &Snapshot, policy: UrlPolicy<'a>) -> Ranked<'a> {
        let ranks = match policy {
            UrlPolicy::Preferred(order)
                if order.len() < usize::from(NOT_RANKED)
                    && !order.iter().any(|s| s.contains(':')) =>
            {
                let rank = |scheme: &String| {
                    order
                        .iter()
                        .position(|s| s == scheme)
                        .map_or(NOT_RANKED, |r| r as u8)
                };
                Some(snapshot.schemes().iter().map(rank).collect())
            }
            _ => None,
        };
        Ranked { policy, ranks }
    }
}

/// [`for_each_kept_at`] with a policy made ready by [`Ranked::new`].
pub fn for_each_ranked<'s>(
    snapshot: &'s Snapshot,
    urls: &[u32_le],
    ranked: &Ranked<'_>,
    mut emit: impl FnMut(u32, &'s str),
) -> usize {
    let bases = urls.iter().map(|u| {
        let at = u.to_native();
        (at, snapshot.base_url(at))
    });
    match ranked.policy {
        UrlPolicy::All => {
            let mut n = 0;
            for (at, b) in bases {
                emit(at, b);
                n += 1;
            }
            n
        }
        UrlPolicy::Protocols(list) => {
            let mut n = 0;
            for (at, b) in bases.filter(|(_, b)| scheme_in(b, list)).take(list.len()) {
                emit(at, b);
                n += 1;
            }
            n
        }
        UrlPolicy::Preferred(order) => {
            // One pass: the URL whose scheme comes first in `order`, the first in stored
            // order among equals (what trying each scheme in turn over the URLs finds). With
            // ranks, only the URL picked is read.
            let rank_of = |at: u32| {
                let ranks = ranked.ranks.as_deref()?;
                let id = snapshot.base_url_scheme(at)?;
                Some(ranks.get(usize::from(id)).copied().unwrap_or(NOT_RANKED))
            };
            let mut best: Option<(usize, u32)> = None;
            for u in urls.iter() {
                let at = u.to_native();
                let rank = match rank_of(at) {
                    Some(NOT_RANKED) => continue,
                    Some(rank) => usize::from(rank),
                    None => {
                        let b = snapshot.base_url(at);
                        match order.iter().position(|s| has_scheme(b, s)) {
                            Some(rank) => rank,
                            None => continue,
                        }
                    }
                };
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, at));
                    if rank == 0 {
                        break;
                    }
                }
            }
            match best {
                Some((_, at)) => {
                    emit(at, snapshot.base_url(at));
                    1
                }
                None => 0,
            }
        }
    }
}

/// What [`push_url`] appends after the base URL, worked out once for every host of an answer:
/// the `/subpath` and the `/file` or trailing `/`. It depends on the base only when the
/// subpath is empty and a file is named: then a base ending with `/` gets no second `/`.
pub struct UrlTail {
    bytes: Vec<u8>,
    after_slash: bool,
}

impl UrlTail {
    pub fn new(dir: &ArchivedDirectory, file: Option<&str>) -> UrlTail {
        let mut bytes = Vec::with_capacity(dir.subpath.len() + file.map_or(0, str::len) + 2);
        push_url(&mut bytes, "", dir, file);
        UrlTail {
            // With an empty base, `push_url` wrote the `/` before the file itself.
            after_slash: dir.subpath.is_empty() && file.is_some(),
            bytes,
        }
    }

    /// The same tail with its bytes rewritten by `map` (which must keep a leading `/` as
    /// the first byte, as escaping does).
    pub fn map(&self, map: impl FnOnce(&[u8], &mut Vec<u8>)) -> UrlTail {
        let mut bytes = Vec::with_capacity(self.bytes.len() + 16);
        map(&self.bytes, &mut bytes);
        UrlTail {
            bytes,
            after_slash: self.after_slash,
        }
    }

    /// The bytes that follow `base`: `push_url(out, base, ..)` is `base` then these.
    pub fn after(&self, base: &str) -> &[u8] {
        if self.after_slash && base.ends_with('/') {
            &self.bytes[1..]
        } else {
            &self.bytes
        }
    }
}

/// Text mirrorlist lines made ready for one directory and file: each URL a policy keeps, then
/// the directory's path (and file) and a newline, the line's end going with the tail (one copy
/// fewer per line). What the text answer and the kept lines (`render::kept`) both write.
pub struct LineWriter<'a, 's> {
    snapshot: &'s Snapshot,
    tail: UrlTail,
    ranked: Ranked<'a>,
}

impl<'a, 's> LineWriter<'a, 's> {
    pub fn new(
        snapshot: &'s Snapshot,
        dir: &ArchivedDirectory,
        file: Option<&str>,
        policy: UrlPolicy<'a>,
    ) -> Self {
        let tail = UrlTail::new(dir, file).map(|raw, out| {
            out.extend_from_slice(raw);
            out.push(b'\n');
        });
        LineWriter {
            snapshot,
            tail,
            ranked: Ranked::new(snapshot, policy),
        }
    }

    /// Appends the lines of one host's URLs (`urls`).
    pub fn push(&self, out: &mut Vec<u8>, urls: &[u32_le]) {
        for_each_ranked(self.snapshot, urls, &self.ranked, |_, base| {
            out.extend_from_slice(base.as_bytes());
            out.extend_from_slice(self.tail.after(base));
        });
    }
}

/// Whether `url` starts with `<scheme>:` (as [`scheme_in`] with one scheme).
#[inline]
fn has_scheme(url: &str, scheme: &str) -> bool {
    let (url, scheme) = (url.as_bytes(), scheme.as_bytes());
    // Byte by byte: schemes are a few bytes, shorter than a call to memcmp.
    url.len() > scheme.len()
        && url[scheme.len()] == b':'
        && url.iter().zip(scheme).all(|(a, b)| a == b)
}

/// Appends the full URL: base, `/subpath`, then `/file` or a trailing `/` for a directory.
pub fn push_url(out: &mut Vec<u8>, base: &str, dir: &ArchivedDirectory, file: Option<&str>) {
    out.extend_from_slice(base.as_bytes());
    let subpath = dir.subpath.as_str();
    if !subpath.is_empty() {
        out.push(b'/');
        out.extend_from_slice(subpath.as_bytes());
    }
    match file {
        None => out.push(b'/'),
        Some(f) => {
            if out.last() != Some(&b'/') {
                out.push(b'/');
            }
            out.extend_from_slice(f.as_bytes());
        }
    }
}

/// The redirect candidates of an answer, in order: for each host with an http(s) URL (after
/// `protocol=`), the URL a redirect to it uses, and its country. The first is the `Location`
/// (`text::redirect_target`), the others are the redirect's RFC 6249 links (`links`); at most
/// `limit` are made.
pub fn redirect_candidates<'s>(
    snapshot: &'s Snapshot,
    dir: &ArchivedDirectory,
    file: Option<&str>,
    hosts: &[Chosen<'_>],
    protocols: Option<&[&str]>,
    limit: usize,
) -> Vec<(String, &'s str)> {
    // The same schemes, in the same order, as the redirect itself.
    let order: Vec<&str> = REDIRECT_PREFERENCE
        .iter()
        .copied()
        .filter(|s| protocols.is_none_or(|p| p.contains(s)))
        .collect();
    let mut found = Vec::new();
    for chosen in hosts {
        if found.len() >= limit {
            break;
        }
        let country = snapshot
            .host(chosen.host)
            .map_or("", |h| h.country.as_str());
        for_each_kept(
            snapshot,
            chosen.urls(dir),
            UrlPolicy::Preferred(&order),
            |base| {
                let mut url = Vec::new();
                push_url(&mut url, base, dir, file);
                found.push((String::from_utf8_lossy(&url).into_owned(), country));
            },
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Directory, SnapshotData};
    use crate::snapshot::Snapshot;

    #[test]
    fn ranked_preference_picks_what_trying_each_scheme_in_turn_picks() {
        use crate::snapshot::model::{Directory, Host};
        let bases = [
            "https://a",
            "http://b",
            "ftp://c",
            "rsync://d",
            "nocolon",
            "HTTPS://e",
            "http:x",
            ":empty",
            "a:b://f",
            "https:",
            "http",
            "ftp://g",
        ];
        // Every pair and triple of URLs, in both orders, plus all of them.
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let n = bases.len() as u32;
        for a in 0..n {
            for b in 0..n {
                lists.push(vec![a, b]);
                lists.push(vec![b, a, (a + b) % n]);
            }
        }
        lists.push((0..n).collect());
        let data = SnapshotData {
            hosts: vec![
                Host {
                    weight: 1,
                    ..Host::default()
                };
                lists.len()
            ],
            base_urls: bases.iter().map(|b| b.to_string()).collect(),
            directories: vec![Directory {
                name: "d".into(),
                ..Directory::default()
            }
            .with_hosts(
                lists
                    .iter()
                    .enumerate()
                    .map(|(i, urls)| (i as u32, true, urls.clone())),
            )],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d").unwrap();
        let orders: [&[&str]; 6] = [
            MIRRORLIST_PREFERENCE,
            REDIRECT_PREFERENCE,
            &["a:b", "https"],
            &[],
            &["ftp", "ftp", "rsync"],
            &["", "HTTPS"],
        ];
        for order in orders {
            let ranked = Ranked::new(&snapshot, UrlPolicy::Preferred(order));
            for entry in dir.by_host.iter() {
                let urls = dir.urls_of(entry);
                // The rule as first written: each scheme in turn, the first URL that has it.
                let want = order.iter().find_map(|s| {
                    urls.iter()
                        .map(|u| snapshot.base_url(u.to_native()))
                        .find(|b| scheme_in(b, std::slice::from_ref(s)))
                });
                let mut got = Vec::new();
                let n = for_each_ranked(&snapshot, urls, &ranked, |_, b| got.push(b));
                assert_eq!(
                    got,
                    want.into_iter().collect::<Vec<_>>(),
                    "{order:?} host {}",
                    entry.host
                );
                assert_eq!(n, got.len());
                let mut plain = Vec::new();
                for_each_kept(&snapshot, urls, UrlPolicy::Preferred(order), |b| {
                    plain.push(b)
                });
                assert_eq!(plain, got, "{order:?}");
            }
        }
    }

    #[test]
    fn tail_after_a_base_is_what_push_url_writes() {
        for subpath in ["", "a", "a/b", "a/"] {
            let data = SnapshotData {
                directories: vec![Directory {
                    name: "d".into(),
                    subpath: subpath.into(),
                    ..Directory::default()
                }],
                ..SnapshotData::default()
            };
            let snapshot = Snapshot::from_data(&data).unwrap();
            let dir = snapshot.directory("d").unwrap();
            for file in [None, Some(""), Some("f"), Some("/f")] {
                let tail = UrlTail::new(dir, file);
                for base in ["", "/", "http://h", "http://h/", "http://h/p//"] {
                    let mut want = Vec::new();
                    push_url(&mut want, base, dir, file);
                    let mut got = base.as_bytes().to_vec();
                    got.extend_from_slice(tail.after(base));
                    assert_eq!(got, want, "{subpath:?} {file:?} {base:?}");
                    // And after earlier output, as the text mirrorlist writes it.
                    let mut want = b"x\n".to_vec();
                    push_url(&mut want, base, dir, file);
                    assert_eq!(&want[2..], &got[..], "{subpath:?} {file:?} {base:?}");
                }
            }
        }
    }
}
