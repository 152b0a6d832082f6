//! Rendered pieces kept from one answer to the next: each thread keeps, per directory of the
//! snapshot it last answered from, the line each carrying host gets in a plain mirrorlist and
//! the `<url>` elements it gets in a default metalink, so that an answer copies a piece per host
//! instead of choosing URLs and joining, escaping and labelling their parts.
//!
//! What is kept depends on the snapshot, the directory and the file only: the order of the
//! hosts is still drawn afresh by `select` for every answer (a test counts first places over
//! HTTP), and a metalink's preference, which depends on the place, is written between pieces
//! (decision 24).
//!
//! Kept per thread, so that no request waits on, or writes to, anything another request reads
//! (ARCHITECTURE.md: no lock on the request path); bounded for the process, so that a client
//! that walks every directory does not grow it without end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::decimal::push_decimal;
use super::url_elements::UrlElements;
use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail, MIRRORLIST_PREFERENCE};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// What all threads together keep, in bytes; past it, further directories are rendered each
/// time as if nothing were kept. For a directory of 200 hosts, its lines are about 18 KB and its
/// metalink elements about 100 KB. One budget for the process, not one per thread, so that a
/// server with many cores keeps no more than one with two.
pub const BUDGET: usize = 32 << 20;

/// What all threads keep now, in bytes: touched only when a thread keeps a new directory or
/// lets its pieces go, never on an answer that finds its pieces.
static KEPT_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Takes `estimate` bytes of the budget, if that many are left: taken before rendering, so
/// that a spent budget costs an answer nothing but this.
fn reserve(estimate: usize) -> bool {
    KEPT_BYTES
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
            kept.checked_add(estimate).filter(|&after| after <= BUDGET)
        })
        .is_ok()
}

/// Corrects a reservation of `estimate` bytes to the `actual` size (the budget may end up
/// exceeded by the estimates' error, never more).
fn settle(estimate: usize, actual: usize) {
    if actual > estimate {
        KEPT_BYTES.fetch_add(actual - estimate, Ordering::Relaxed);
    } else {
        KEPT_BYTES.fetch_sub(estimate - actual, Ordering::Relaxed);
    }
}

/// One directory's plain lines, in the order of its `by_host`: host `at`'s line (its most
/// preferred URL of https, http, ftp, the directory's path, `/`, a newline) is
/// `bytes[ends[at - 1]..ends[at]]`, empty when the host has none of those schemes.
pub struct DirLines {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

impl DirLines {
    fn render(snapshot: &Snapshot, dir: &ArchivedDirectory) -> DirLines {
        let tail = UrlTail::new(dir, None).map(|raw, out| {
            out.extend_from_slice(raw);
            out.push(b'\n');
        });
        let ranked = Ranked::new(snapshot, UrlPolicy::Preferred(MIRRORLIST_PREFERENCE));
        let mut bytes = Vec::with_capacity(dir.by_host.len() * 96);
        let mut ends = Vec::with_capacity(dir.by_host.len());
        for entry in dir.by_host.iter() {
            for_each_ranked(snapshot, dir.urls_of(entry), &ranked, |_, base| {
                bytes.extend_from_slice(base.as_bytes());
                bytes.extend_from_slice(tail.after(base));
            });
            ends.push(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        }
        DirLines { bytes, ends }
    }

    /// The line of the host at `at` in the directory's `by_host`.
    #[inline]
    pub fn line(&self, at: usize) -> &[u8] {
        let start = match at.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(at).copied().unwrap_or(start);
        self.bytes
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The memory it holds (capacities, not lengths).
    fn size(&self) -> usize {
        self.bytes.capacity() + 4 * self.ends.capacity()
    }
}

/// One directory's `<url>` elements for one file in a default metalink (every URL), in the
/// order of its `by_host`: host `at`'s elements are `bytes[ends[at - 1]..ends[at]]` with its
/// preference written at each of its cuts (`cuts[cut_ends[at - 1]..cut_ends[at]]`, places in
/// `bytes`, one per element).
pub struct DirUrls {
    file: Box<str>,
    bytes: Vec<u8>,
    ends: Vec<u32>,
    cuts: Vec<u32>,
    cut_ends: Vec<u32>,
}

impl DirUrls {
    fn render(snapshot: &Snapshot, dir: &ArchivedDirectory, file: &str) -> DirUrls {
        let mut urls = DirUrls {
            file: file.into(),
            bytes: Vec::with_capacity(dir.by_host.len() * 512),
            ends: Vec::with_capacity(dir.by_host.len()),
            cuts: Vec::with_capacity(dir.by_host.len() * 3),
            cut_ends: Vec::with_capacity(dir.by_host.len()),
        };
        let mut elements = UrlElements::new(snapshot, dir, file, UrlPolicy::All);
        for entry in dir.by_host.iter() {
            let cuts = &mut urls.cuts;
            elements.push(
                &mut urls.bytes,
                entry.host.to_native(),
                entry.public,
                dir.urls_of(entry),
                |bytes| cuts.push(offset(bytes.len())),
            );
            urls.ends.push(offset(urls.bytes.len()));
            urls.cut_ends.push(offset(urls.cuts.len()));
        }
        urls
    }

    /// Appends the elements of the host at `at` with `preference`; how many there are.
    #[inline]
    pub fn push(&self, out: &mut Vec<u8>, at: usize, preference: u32) -> usize {
        let range = |ends: &[u32]| {
            let start = at
                .checked_sub(1)
                .and_then(|b| ends.get(b))
                .copied()
                .unwrap_or(0);
            let end = ends.get(at).copied().unwrap_or(start);
            start as usize..end as usize
        };
        let (bytes, cuts) = (range(&self.ends), range(&self.cut_ends));
        let mut from = bytes.start;
        let cuts = self.cuts.get(cuts).unwrap_or_default();
        for &cut in cuts {
            out.extend_from_slice(self.bytes.get(from..cut as usize).unwrap_or_default());
            push_decimal(out, preference);
            from = cut as usize;
        }
        out.extend_from_slice(self.bytes.get(from..bytes.end).unwrap_or_default());
        cuts.len()
    }

    /// The memory it holds (capacities, not lengths).
    fn size(&self) -> usize {
        self.bytes.capacity()
            + 4 * (self.ends.capacity() + self.cuts.capacity() + self.cut_ends.capacity())
    }
}

fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// One thread's pieces, for one snapshot.
#[derive(Default)]
struct Kept {
    /// [`Snapshot::instance`] of the snapshot they were rendered from.
    instance: u64,
    /// By the address of the archived directory (fixed for the life of its snapshot).
    lines: HashMap<usize, Rc<DirLines>>,
    urls: HashMap<usize, Rc<DirUrls>>,
    /// Their share of [`BUDGET`], given back when they go.
    size: usize,
}

impl Drop for Kept {
    fn drop(&mut self) {
        KEPT_BYTES.fetch_sub(self.size, Ordering::Relaxed);
    }
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

/// Whether a mirrorlist of `policy` and `file` is made of plain lines.
pub fn is_plain(policy: UrlPolicy<'_>, file: Option<&str>) -> bool {
    file.is_none()
        && matches!(policy, UrlPolicy::Preferred(order) if order == MIRRORLIST_PREFERENCE)
}

/// This thread's pieces, emptied first if they were made from another snapshot.
fn with_kept<T>(snapshot: &Snapshot, f: impl FnOnce(&mut Kept) -> T) -> T {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.instance != snapshot.instance() {
            *kept = Kept::default();
            kept.instance = snapshot.instance();
        }
        f(&mut kept)
    })
}

/// `dir`'s plain lines, rendered now or earlier on this thread; `None` when this thread's
/// budget is spent on other directories.
pub fn plain_lines(snapshot: &Snapshot, dir: &ArchivedDirectory) -> Option<Rc<DirLines>> {
    let key = std::ptr::from_ref(dir) as usize;
    with_kept(snapshot, |kept| {
        if let Some(lines) = kept.lines.get(&key) {
            return Some(lines.clone());
        }
        let estimate = dir.by_host.len() * 100;
        if !reserve(estimate) {
            return None;
        }
        let lines = Rc::new(DirLines::render(snapshot, dir));
        settle(estimate, lines.size());
        kept.size += lines.size();
        kept.lines.insert(key, lines.clone());
        Some(lines)
    })
}

/// `dir`'s metalink elements for `file` with every URL, rendered now or earlier on this
/// thread; `None` when the budget is spent, or when what is kept for `dir` is for another file
/// (a directory's metalinks are nearly all for `repomd.xml`).
pub fn metalink_urls(
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    file: &str,
) -> Option<Rc<DirUrls>> {
    let key = std::ptr::from_ref(dir) as usize;
    with_kept(snapshot, |kept| {
        if let Some(urls) = kept.urls.get(&key) {
            return (*urls.file == *file).then(|| urls.clone());
        }
        let estimate = dir.by_host.len() * 600;
        if !reserve(estimate) {
            return None;
        }
        let urls = Rc::new(DirUrls::render(snapshot, dir, file));
        settle(estimate, urls.size());
        kept.size += urls.size();
        kept.urls.insert(key, urls.clone());
        Some(urls)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Directory, Host, SnapshotData};

    /// What a thread keeps is counted against the process's budget and given back when the
    /// thread answers from another snapshot, or ends.
    #[test]
    fn kept_pieces_are_counted_and_given_back() {
        let data = SnapshotData {
            hosts: vec![Host {
                weight: 1,
                ..Host::default()
            }],
            base_urls: vec!["https://a.example/pub".into()],
            directories: vec![Directory {
                name: "d".into(),
                subpath: "d".into(),
                ..Directory::default()
            }
            .with_hosts([(0, true, vec![0])])],
            ..SnapshotData::default()
        };
        // On a thread of its own, with nothing kept yet (other tests keep theirs on their
        // own threads; the process-wide count mixes them, so only this thread's is compared).
        std::thread::spawn(move || {
            let size = || KEPT.with(|k| k.borrow().size);
            let first = Snapshot::from_data(&data).unwrap();
            let dir = first.directory("d").unwrap();
            let lines = plain_lines(&first, dir).unwrap();
            assert_eq!(lines.line(0), b"https://a.example/pub/d/\n");
            let urls = metalink_urls(&first, dir, "repomd.xml").unwrap();
            assert_eq!(size(), lines.size() + urls.size());
            assert!(KEPT_BYTES.load(Ordering::Relaxed) >= size());
            // Asked again: the same pieces, nothing more counted.
            assert!(Rc::ptr_eq(&plain_lines(&first, dir).unwrap(), &lines));
            assert!(
                metalink_urls(&first, dir, "other.xml").is_none(),
                "kept for repomd.xml"
            );
            assert_eq!(size(), lines.size() + urls.size());
            // Another snapshot: the first one's pieces go, the new ones are counted alone.
            let second = Snapshot::from_data(&data).unwrap();
            let dir = second.directory("d").unwrap();
            let other = metalink_urls(&second, dir, "other.xml").unwrap();
            assert_eq!(size(), other.size());
        })
        .join()
        .unwrap();
    }
}
