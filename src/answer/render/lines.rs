//! Plain mirrorlist lines kept from one answer to the next: each thread keeps, per directory of
//! the snapshot it last answered from, the line each carrying host gets in a plain mirrorlist,
//! so that an answer copies one line per host instead of choosing a URL and joining its pieces.
//!
//! What is kept depends on the snapshot and the directory only: the order of the hosts is
//! still drawn afresh by `select` for every answer (a test counts first places over HTTP).
//! Kept per thread, so that no request waits on, or writes to, anything another request reads
//! (ARCHITECTURE.md: no lock on the request path); bounded per thread, so that a client that
//! walks every directory does not grow it without end.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail, MIRRORLIST_PREFERENCE};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// The lines one thread keeps, in bytes; past it, further directories are rendered each time
/// as if nothing were kept. A directory of 200 hosts is about 18 KB.
pub const THREAD_BUDGET: usize = 8 << 20;

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

/// One thread's lines, for one snapshot.
#[derive(Default)]
struct Kept {
    /// [`Snapshot::instance`] of the snapshot they were rendered from.
    instance: u64,
    /// By the address of the archived directory (fixed for the life of its snapshot).
    by_dir: HashMap<usize, Rc<DirLines>>,
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

/// `dir`'s plain lines, rendered now or earlier on this thread; `None` when this thread's
/// budget is spent on other directories.
pub fn plain_lines(snapshot: &Snapshot, dir: &ArchivedDirectory) -> Option<Rc<DirLines>> {
    let key = std::ptr::from_ref(dir) as usize;
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.instance != snapshot.instance() {
            *kept = Kept {
                instance: snapshot.instance(),
                ..Kept::default()
            };
        }
        if let Some(lines) = kept.by_dir.get(&key) {
            return Some(lines.clone());
        }
        if kept.size >= THREAD_BUDGET {
            return None;
        }
        let lines = Rc::new(DirLines::render(snapshot, dir));
        kept.size += lines.size();
        kept.by_dir.insert(key, lines.clone());
        Some(lines)
    })
}
