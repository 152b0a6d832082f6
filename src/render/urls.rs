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
            for scheme in order {
                let one = std::slice::from_ref(scheme);
                if let Some(b) = entry
                    .urls
                    .iter()
                    .map(|u| snapshot.base_url(u.to_native()))
                    .find(|b| scheme_in(b, one))
                {
                    emit(b);
                    return 1;
                }
            }
            0
        }
    }
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
