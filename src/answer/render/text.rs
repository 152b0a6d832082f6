//! The text mirrorlist: one header line, then one URL per line.

use super::urls::{for_each_ranked, redirect_candidates, Ranked, UrlPolicy, UrlTail};
use crate::answer::select::Chosen;
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// Writes the header line (already complete, without its newline) and the URLs.
pub fn mirrorlist(
    snapshot: &Snapshot,
    header: &str,
    dir: &ArchivedDirectory,
    file: Option<&str>,
    hosts: &[Chosen<'_>],
    policy: UrlPolicy<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 1 + hosts.len() * 96);
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    // The line's end goes with the tail: one copy fewer per line.
    let tail = UrlTail::new(dir, file).map(|raw, out| {
        out.extend_from_slice(raw);
        out.push(b'\n');
    });
    let ranked = Ranked::new(snapshot, policy);
    for chosen in hosts {
        for_each_ranked(snapshot, chosen.urls, &ranked, |_, base| {
            out.extend_from_slice(base.as_bytes());
            out.extend_from_slice(tail.after(base));
        });
    }
    out
}

/// The first URL a redirect answer points to, if any host has an http(s) URL.
pub fn redirect_target(
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    file: Option<&str>,
    hosts: &[Chosen<'_>],
    protocols: Option<&[&str]>,
) -> Option<String> {
    let first = redirect_candidates(snapshot, dir, file, hosts, protocols, 1);
    first.into_iter().next().map(|(url, _)| url)
}
