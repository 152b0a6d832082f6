//! Which URLs of a host an answer lists (spec section 8.1-8.2, decision 6), and how a URL is
//! put together from a base URL, the directory's subpath and the file.

use crate::select::scheme_in;
use crate::snapshot::model::{ArchivedDirectory, ArchivedHostUrls};
use crate::snapshot::Snapshot;

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

/// Calls `emit` with each base URL of `entry` that `policy` keeps, in output order; returns
/// how many were kept.
pub fn for_each_kept<'s>(
    snapshot: &'s Snapshot,
    entry: &ArchivedHostUrls,
    policy: UrlPolicy<'_>,
    mut emit: impl FnMut(&'s str),
) -> usize {
    for_each_kept_at(snapshot, entry, policy, |_, base| emit(base))
}

/// [`for_each_kept`], with each base URL's index in the snapshot's base URLs.
pub fn for_each_kept_at<'s>(
    snapshot: &'s Snapshot,
    entry: &ArchivedHostUrls,
    policy: UrlPolicy<'_>,
    mut emit: impl FnMut(u32, &'s str),
) -> usize {
    let bases = entry.urls.iter().map(|u| {
        let at = u.to_native();
        (at, snapshot.base_url(at))
    });
    match policy {
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
            // order among equals (what trying each scheme in turn over the URLs finds).
            let mut best: Option<(usize, u32, &'s str)> = None;
            for (at, b) in bases {
                let Some(rank) = order.iter().position(|s| has_scheme(b, s)) else {
                    continue;
                };
                if best.is_none_or(|(r, _, _)| rank < r) {
                    best = Some((rank, at, b));
                    if rank == 0 {
                        break;
                    }
                }
            }
            match best {
                Some((_, at, b)) => {
                    emit(at, b);
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

/// Whether `url` starts with `<scheme>:` (as [`scheme_in`] with one scheme).
#[inline]
fn has_scheme(url: &str, scheme: &str) -> bool {
    url.len() > scheme.len() && url.as_bytes()[scheme.len()] == b':' && url.starts_with(scheme)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Directory, SnapshotData};

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
