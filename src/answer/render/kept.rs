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
//! (ARCHITECTURE.md: no lock on the request path); bounded per thread, so that a client that
//! walks every directory does not grow it without end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::decimal::push_decimal;
use super::url_elements::UrlElements;
use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail, MIRRORLIST_PREFERENCE};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// What one thread keeps, in bytes; past it, further directories are rendered each time as if
/// nothing were kept. For a directory of 200 hosts, its lines are about 18 KB and its metalink
/// elements about 100 KB.
pub const THREAD_BUDGET: usize = 16 << 20;

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

    fn size(&self) -> usize {
        self.bytes.len() + 4 * self.ends.len()
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

    fn size(&self) -> usize {
        self.bytes.len() + 4 * (self.ends.len() + self.cuts.len() + self.cut_ends.len())
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
    size: usize,
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
            *kept = Kept {
                instance: snapshot.instance(),
                ..Kept::default()
            };
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
        if kept.size >= THREAD_BUDGET {
            return None;
        }
        let lines = Rc::new(DirLines::render(snapshot, dir));
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
        if kept.size >= THREAD_BUDGET {
            return None;
        }
        let urls = Rc::new(DirUrls::render(snapshot, dir, file));
        kept.size += urls.size();
        kept.urls.insert(key, urls.clone());
        Some(urls)
    })
}
