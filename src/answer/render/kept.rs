//! Rendered pieces kept from one answer to the next: each thread keeps, per directory of the
//! snapshot it last answered from, the line each carrying host gets in a plain mirrorlist and
//! the `<url>` elements it gets in a default metalink, so that an answer copies a piece per host
//! instead of choosing URLs and joining, escaping and labelling their parts.
//!
//! What is kept depends on the snapshot, the directory and the file only: the order of the
//! hosts is still drawn afresh by `select` for every answer (a test counts first places over
//! HTTP), and a metalink's preference, which depends on the place, is written into holes left
//! for it (decision 24).
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
use super::urls::{LineWriter, UrlPolicy, MIRRORLIST_PREFERENCE};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// What all threads together keep, in bytes; past it, further directories are rendered each
/// time as if nothing were kept. For a directory of 200 hosts, its lines are about 18 KB and its
/// metalink elements about 100 KB, and as much again for the copy [`DirUrls`] keeps of a
/// directory of more than 91 hosts. One budget for the process, not one per thread, so that a
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
/// preferred URL of https, http, ftp, the directory's path, `/`, a newline) starts at
/// `bytes[spans[at].0]` and is `spans[at].1` bytes long, none when the host has none of those
/// schemes. After the last line, [`BLOCK`] bytes of padding, so that every line starts a block
/// of that many.
pub struct DirLines {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

/// [`DirLines::append`] copies a line as a block of this many bytes when it is no longer:
/// mirrorlist lines are 60 to 120 bytes.
pub(super) const BLOCK: usize = 128;

impl DirLines {
    fn render(snapshot: &Snapshot, dir: &ArchivedDirectory) -> DirLines {
        let lines = LineWriter::new(
            snapshot,
            dir,
            None,
            UrlPolicy::Preferred(MIRRORLIST_PREFERENCE),
        );
        let mut bytes = Vec::with_capacity(dir.by_host.len() * 96);
        let mut spans = Vec::with_capacity(dir.by_host.len());
        for entry in dir.by_host.iter() {
            let start = bytes.len();
            lines.push(&mut bytes, dir.urls_of(entry));
            spans.push((offset(start), offset(bytes.len() - start)));
        }
        bytes.resize(bytes.len() + BLOCK, 0);
        DirLines { bytes, spans }
    }

    /// The line of the host at `at` in the directory's `by_host`.
    #[inline]
    pub fn line(&self, at: usize) -> &[u8] {
        let (start, len) = self.span(at);
        self.bytes.get(start..start + len).unwrap_or_default()
    }

    /// Where the line of the host at `at` starts, and its length (none past the end).
    #[inline]
    fn span(&self, at: usize) -> (usize, usize) {
        self.spans
            .get(at)
            .map_or((0, 0), |&(start, len)| (start as usize, len as usize))
    }

    /// Appends the line of the host at `at` to `out`. A line of up to [`BLOCK`] bytes goes
    /// in as the block it starts, then `out` is cut back to the line's end: a copy whose length
    /// is known when compiling is a few vector moves, one of the line's length a call to
    /// `memcpy`, and those calls were half of a mirrorlist's rendering.
    #[inline]
    pub fn append(&self, out: &mut Vec<u8>, at: usize) {
        let (start, len) = self.span(at);
        match self
            .bytes
            .get(start..)
            .and_then(|b| b.first_chunk::<BLOCK>())
        {
            Some(block) if len <= BLOCK => {
                out.extend_from_slice(block);
                out.truncate(out.len() - (BLOCK - len));
            }
            _ => out.extend_from_slice(self.line(at)),
        }
    }

    /// The memory it holds (capacities, not lengths).
    fn size(&self) -> usize {
        self.bytes.capacity() + 8 * self.spans.capacity()
    }
}

/// One directory's `<url>` elements for one file in a default metalink (every URL), in the
/// order of its `by_host`: host `at`'s elements are `bytes[ends[at - 1]..ends[at]]`, each with
/// a two-byte hole for its preference at one of the host's cuts
/// (`cuts[cut_ends[at - 1]..cut_ends[at]]`, places in `bytes`, one per element).
///
/// A preference of two digits (answer places 2 to 91) is one copy of the host's elements and a
/// store into each hole, where copying the text between preferences and writing each number
/// was four copies and three numbers a host (12 % of a 180-host metalink's instructions). For
/// a directory that can list more than 91 hosts, `narrow` holds the same elements with
/// one-byte holes, for places 92 on (9 down to 1: most of a 180-host answer). The first
/// place's 100 is written between pieces.
pub struct DirUrls {
    file: Box<str>,
    bytes: Vec<u8>,
    /// `bytes` with each hole one byte wide: cut `j` (counted over the directory) is at
    /// `cuts[j] - j`, and host `at`'s elements start at `ends[at - 1] - cut_ends[at - 1]`.
    narrow: Option<Vec<u8>>,
    ends: Vec<u32>,
    cuts: Vec<u32>,
    cut_ends: Vec<u32>,
}

/// The first this many places of an answer get preferences of 100 down to 10; later places
/// one digit (9 down to 1, then 1 again).
const TWO_DIGIT_PLACES: usize = 91;

impl DirUrls {
    fn render(snapshot: &Snapshot, dir: &ArchivedDirectory, file: &str) -> DirUrls {
        let mut urls = DirUrls {
            file: file.into(),
            bytes: Vec::with_capacity(dir.by_host.len() * 512),
            narrow: None,
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
                |bytes| {
                    cuts.push(offset(bytes.len()));
                    bytes.extend_from_slice(b"00");
                },
            );
            urls.ends.push(offset(urls.bytes.len()));
            urls.cut_ends.push(offset(urls.cuts.len()));
        }
        if dir.by_host.len() > TWO_DIGIT_PLACES {
            let mut narrow = Vec::with_capacity(urls.bytes.len() - urls.cuts.len());
            let mut from = 0;
            for &cut in &urls.cuts {
                let cut = cut as usize;
                narrow.extend_from_slice(urls.bytes.get(from..cut + 1).unwrap_or_default());
                from = cut + 2;
            }
            narrow.extend_from_slice(urls.bytes.get(from..).unwrap_or_default());
            urls.narrow = Some(narrow);
        }
        urls
    }

    /// Appends the elements of the host at `at` with `preference`; how many there are.
    #[inline]
    pub fn push(&self, out: &mut Vec<u8>, at: usize, preference: u32) -> usize {
        let (bytes, cuts) = (run(&self.ends, at), run(&self.cut_ends, at));
        let first_cut = cuts.start;
        let cuts = self.cuts.get(cuts).unwrap_or_default();
        match (preference, &self.narrow) {
            (10..=99, _) => {
                let digits = [
                    b'0' + (preference / 10) as u8,
                    b'0' + (preference % 10) as u8,
                ];
                patch(
                    out,
                    self.bytes.get(bytes.clone()),
                    cuts,
                    bytes.start,
                    0,
                    &digits,
                );
            }
            (1..=9, Some(narrow)) => {
                // Each hole before a place is a byte shorter in `narrow`.
                let start = bytes.start.checked_sub(first_cut);
                let end = bytes.end.checked_sub(first_cut + cuts.len());
                patch(
                    out,
                    start
                        .zip(end)
                        .and_then(|(start, end)| narrow.get(start..end)),
                    cuts,
                    bytes.start,
                    1,
                    &[b'0' + preference as u8],
                );
            }
            _ => {
                let mut from = bytes.start;
                for &cut in cuts {
                    out.extend_from_slice(self.bytes.get(from..cut as usize).unwrap_or_default());
                    push_decimal(out, preference);
                    from = cut as usize + 2;
                }
                out.extend_from_slice(self.bytes.get(from..bytes.end).unwrap_or_default());
            }
        }
        cuts.len()
    }

    /// The memory it holds (capacities, not lengths).
    fn size(&self) -> usize {
        self.bytes.capacity()
            + self.narrow.as_ref().map_or(0, Vec::capacity)
            + 4 * (self.ends.capacity() + self.cuts.capacity() + self.cut_ends.capacity())
    }
}

/// Appends a host's `elements` (none when out of range) and writes `digits` into its holes:
/// the hole of its `j`th element is at `cuts[j] - start - j * narrowed` in `elements`.
#[inline]
fn patch(
    out: &mut Vec<u8>,
    elements: Option<&[u8]>,
    cuts: &[u32],
    start: usize,
    narrowed: usize,
    digits: &[u8],
) {
    let Some(elements) = elements else { return };
    let base = out.len();
    out.extend_from_slice(elements);
    for (j, &cut) in cuts.iter().enumerate() {
        let Some(at) = (cut as usize).checked_sub(start + j * narrowed) else {
            continue;
        };
        if let Some(hole) = out.get_mut(base + at..base + at + digits.len()) {
            hole.copy_from_slice(digits);
        }
    }
}

fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Entry `at`'s run in a list cut by `ends` (each entry's end, the next one's start): empty
/// for an entry past the end.
#[inline]
fn run(ends: &[u32], at: usize) -> std::ops::Range<usize> {
    let start = at
        .checked_sub(1)
        .and_then(|b| ends.get(b))
        .copied()
        .unwrap_or(0);
    let end = ends.get(at).copied().unwrap_or(start);
    start as usize..end as usize
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
    with_kept(snapshot, |kept| {
        let Kept { lines, size, .. } = kept;
        keep(
            lines,
            size,
            dir,
            100,
            |_| true,
            || {
                let lines = DirLines::render(snapshot, dir);
                let size = lines.size();
                (lines, size)
            },
        )
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
    with_kept(snapshot, |kept| {
        let Kept { urls, size, .. } = kept;
        let for_file = |urls: &DirUrls| *urls.file == *file;
        // About 500 bytes a host, twice that with the one-byte-hole copy.
        let per_host = if dir.by_host.len() > TWO_DIGIT_PLACES {
            1_100
        } else {
            600
        };
        keep(urls, size, dir, per_host, for_file, || {
            let urls = DirUrls::render(snapshot, dir, file);
            let size = urls.size();
            (urls, size)
        })
    })
}

/// What `map` keeps for `dir`, if `fits` it; otherwise, when nothing is kept for `dir` and the
/// budget allows (`per_host` bytes a host, estimated), what `render` makes, kept and counted
/// in `size`.
fn keep<T>(
    map: &mut HashMap<usize, Rc<T>>,
    size: &mut usize,
    dir: &ArchivedDirectory,
    per_host: usize,
    fits: impl FnOnce(&T) -> bool,
    render: impl FnOnce() -> (T, usize),
) -> Option<Rc<T>> {
    let key = std::ptr::from_ref(dir) as usize;
    if let Some(kept) = map.get(&key) {
        return fits(kept).then(|| kept.clone());
    }
    let estimate = dir.by_host.len() * per_host;
    if !reserve(estimate) {
        return None;
    }
    let (made, made_size) = render();
    settle(estimate, made_size);
    *size += made_size;
    let made = Rc::new(made);
    map.insert(key, made.clone());
    Some(made)
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
