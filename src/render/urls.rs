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
    let bases = entry.urls.iter().map(|u| snapshot.base_url(u.to_native()));
    match policy {
        UrlPolicy::All => {
            let mut n = 0;
            for b in bases {
                emit(b);
                n += 1;
            }
            n
        }
        UrlPolicy::Protocols(list) => {
            let mut n = 0;
            for b in bases.filter(|b| scheme_in(b, list)).take(list.len()) {
                emit(b);
                n += 1;
            }
            n
        }
        UrlPolicy::Preferred(order) => {
            // One pass: the URL whose scheme comes first in `order`, the first in stored
            // order among equals (what trying each scheme in turn over the URLs finds).
            let mut best: Option<(usize, &'s str)> = None;
            for b in bases {
                let Some(rank) = order.iter().position(|s| has_scheme(b, s)) else {
                    continue;
                };
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, b));
                    if rank == 0 {
                        break;
                    }
                }
            }
            match best {
                Some((_, b)) => {
                    emit(b);
                    1
                }
                None => 0,
            }
        }
    }
}

/// Whether `url` starts with `<scheme>:` (as [`scheme_in`] with one scheme).
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
