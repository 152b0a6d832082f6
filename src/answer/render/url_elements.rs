//! The `<url>` elements of a Metalink 3 document: each host's URLs the policy keeps, with
//! its location, its preference and whether it is private, the URL escaped (decision 7).

use super::urls::{for_each_ranked, Ranked, UrlPolicy, UrlTail};
use super::xml::{escape_bytes_into, escape_into, escape_unless};
use crate::snapshot::model::{ArchivedDirectory, HostIdx};
use crate::snapshot::Snapshot;
use rkyv::rend::u32_le;

/// What the `<url>` elements of one answer (or of one directory's hosts) share, made once:
/// the escaped `/subpath/file` and closing tag, and the opening `<url protocol="S" type="S`
/// of each scheme.
pub(crate) struct UrlElements<'s> {
    snapshot: &'s Snapshot,
    tail: UrlTail,
    ranked: Ranked<'s>,
    /// By the snapshot's scheme index, and for the odd base URL without one, by scheme text.
    heads: Vec<Option<Vec<u8>>>,
    other_heads: Vec<(&'s str, Vec<u8>)>,
    /// `" location="CC" preference="`, then what follows the preference: the same for all
    /// URLs of a host.
    before_preference: Vec<u8>,
    after_preference: Vec<u8>,
}

impl<'s> UrlElements<'s> {
    pub(crate) fn new(
        snapshot: &'s Snapshot,
        dir: &ArchivedDirectory,
        file: &str,
        policy: UrlPolicy<'s>,
    ) -> UrlElements<'s> {
        // Every URL ends with the same escaped `/subpath/file`; escaping goes byte by byte,
        // so escaping the base and the tail apart is escaping the URL. The closing tag goes
        // with it.
        let tail = UrlTail::new(dir, Some(file)).map(|raw, out| {
            escape_bytes_into(out, raw);
            out.extend_from_slice(b"</url>\n");
        });
        UrlElements {
            snapshot,
            tail,
            ranked: Ranked::new(snapshot, policy),
            heads: vec![None; snapshot.schemes().len()],
            other_heads: Vec::new(),
            before_preference: Vec::with_capacity(48),
            after_preference: Vec::with_capacity(32),
        }
    }

    /// Appends the elements of `host`'s URLs (`urls`) that the policy keeps, calling
    /// `preference` where each one's preference value goes; returns how many.
    pub(crate) fn push(
        &mut self,
        out: &mut Vec<u8>,
        host: HostIdx,
        public: bool,
        urls: &[u32_le],
        mut preference: impl FnMut(&mut Vec<u8>),
    ) -> usize {
        let snapshot = self.snapshot;
        let location = snapshot.host(host).map_or("", |h| h.country.as_str());
        self.before_preference.clear();
        self.before_preference.extend_from_slice(b"\" location=\"");
        escape_into(&mut self.before_preference, location);
        self.before_preference
            .extend_from_slice(b"\" preference=\"");
        self.after_preference.clear();
        self.after_preference.push(b'"');
        if !public {
            self.after_preference
                .extend_from_slice(b" mm0:private=\"True\"");
        }
        self.after_preference.push(b'>');
        let Self {
            tail,
            ranked,
            heads,
            other_heads,
            before_preference,
            after_preference,
            ..
        } = self;
        for_each_ranked(snapshot, urls, ranked, |at, base| {
            let head = match snapshot.base_url_scheme(at) {
                Some(id) => heads[usize::from(id)]
                    .get_or_insert_with(|| url_head(&snapshot.schemes()[usize::from(id)])),
                None => {
                    // The text before the first `:`, or all of it.
                    let scheme = base.split_once(':').map_or(base, |(s, _)| s);
                    match other_heads.iter().position(|(s, _)| *s == scheme) {
                        Some(i) => &other_heads[i].1,
                        None => {
                            other_heads.push((scheme, url_head(scheme)));
                            &other_heads[other_heads.len() - 1].1
                        }
                    }
                }
            };
            // Markup in base URLs is looked for once, at load.
            let plain = !snapshot.base_url_has_markup(at);
            out.extend_from_slice(head);
            out.extend_from_slice(before_preference);
            preference(out);
            out.extend_from_slice(after_preference);
            escape_unless(out, base, plain);
            out.extend_from_slice(tail.after(base));
        })
    }
}

/// `    <url protocol="S" type="S`.
fn url_head(scheme: &str) -> Vec<u8> {
    let mut head = b"    <url protocol=\"".to_vec();
    escape_into(&mut head, scheme);
    head.extend_from_slice(b"\" type=\"");
    escape_into(&mut head, scheme);
    head
}
