//! The text mirrorlist: one header line, then one URL per line.

use super::kept;
use super::urls::{redirect_candidates, LineWriter, UrlPolicy};
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
    // Room for the header, the lines, and the block the last line is copied in.
    let mut out = Vec::with_capacity(header.len() + 1 + hosts.len() * 96 + kept::BLOCK);
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    if kept::is_plain(policy, file) {
        if let Some(lines) = kept::plain_lines(snapshot, dir) {
            for chosen in hosts {
                lines.append(&mut out, chosen.at);
            }
            return out;
        }
    }
    push_lines(&mut out, snapshot, dir, file, hosts, policy);
    out
}

/// The URL lines of `hosts`, each made from its parts.
fn push_lines(
    out: &mut Vec<u8>,
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    file: Option<&str>,
    hosts: &[Chosen<'_>],
    policy: UrlPolicy<'_>,
) {
    let lines = LineWriter::new(snapshot, dir, file, policy);
    for chosen in hosts {
        lines.push(out, chosen.urls(dir));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::render::urls::MIRRORLIST_PREFERENCE;
    use crate::snapshot::model::{Directory, Host, SnapshotData};

    /// The kept lines (`render::lines`) and the lines made from their parts are the same
    /// bytes, for hosts in any order: schemes out of preference, none usable, a base ending
    /// with `/`, a line longer than the block kept lines are copied in, and directories with
    /// and without a subpath.
    #[test]
    fn kept_lines_are_the_lines_made_from_parts() {
        let long = format!("https://e.example/{}", "long/".repeat(30));
        let base_urls = [
            "rsync://a.example/pub",
            "ftp://b.example/pub",
            "http://b.example/pub",
            "https://b.example/pub",
            "http://c.example/",
            "https://d.example/x",
            &long,
        ];
        let hosts = [
            vec![0],
            vec![1, 2, 3],
            vec![4],
            vec![5, 4],
            vec![6],
            vec![1],
        ];
        let data = SnapshotData {
            hosts: (0..hosts.len())
                .map(|_| Host {
                    weight: 1,
                    ..Host::default()
                })
                .collect(),
            base_urls: base_urls.iter().map(|u| u.to_string()).collect(),
            directories: ["", "pub/x/y"]
                .into_iter()
                .map(|subpath| {
                    Directory {
                        name: format!("d{subpath}"),
                        subpath: subpath.into(),
                        ..Directory::default()
                    }
                    .with_hosts(
                        hosts
                            .iter()
                            .enumerate()
                            .map(|(h, urls)| (h as u32, true, urls.clone())),
                    )
                })
                .collect(),
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        for name in ["d", "dpub/x/y"] {
            let dir = snapshot.directory(name).unwrap();
            let mut chosen = Chosen::every_host(dir);
            chosen.rotate_left(2);
            let policy = UrlPolicy::Preferred(MIRRORLIST_PREFERENCE);
            assert!(kept::is_plain(policy, None));
            let kept = mirrorlist(&snapshot, "# h", dir, None, &chosen, policy);
            let mut parts = b"# h\n".to_vec();
            push_lines(&mut parts, &snapshot, dir, None, &chosen, policy);
            assert_eq!(
                String::from_utf8_lossy(&kept),
                String::from_utf8_lossy(&parts)
            );
            // Asked again, from what this thread kept.
            let again = mirrorlist(&snapshot, "# h", dir, None, &chosen, policy);
            assert_eq!(again, kept);
            assert_eq!(
                String::from_utf8_lossy(&kept).lines().count(),
                1 + 5,
                "the rsync-only host has no line"
            );
        }
    }
}
