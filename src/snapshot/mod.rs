//! The immutable snapshot a request reads, and the bundle format it is stored in.
//!
//! A [`Snapshot`] owns the bundle bytes (mapped or in memory), the validated archive root that
//! borrows them, and the few indexes that are cheaper to build at load than to archive
//! (prefix tries, the mmdb reader). It knows nothing of HTTP. Once built it is never mutated:
//! a reload builds a new one and swaps the pointer (see `reload`).

pub mod bundle;
mod continent_keys;
mod geo;
pub mod model;
mod net_map;
mod validate;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bundle::{BodyBytes, BundleError};
use continent_keys::ContinentKeys;
use geo::GeoIndex;
use model::{
    ArchivedDirectory, ArchivedHost, ArchivedRepoArch, ArchivedSnapshotData, HostIdx, SnapshotData,
};
use net_map::NetMap;

type DataRef<'a> = &'a ArchivedSnapshotData;

self_cell::self_cell!(
    /// The bundle bytes and the archive root that points into them.
    struct Archive {
        owner: Arc<BodyBytes>,
        #[covariant]
        dependent: DataRef,
    }
);

/// Everything one request reads, immutable once built.
pub struct Snapshot {
    archive: Archive,
    host_nets: NetMap<u32>,
    asn_nets: NetMap<u32>,
    country_nets: NetMap<u32>,
    geo: GeoIndex,
    /// Which install this is, from 1 at start-up (0 until [`Snapshot::numbered`]).
    sequence: u64,
    /// Unique among the snapshots this process made (see [`Snapshot::instance`]).
    instance: u64,
    /// [`Snapshot::label`], made with the sequence.
    label: bytes::Bytes,
    /// One bit per base URL: set when it has a character markup escapes (`& < > " '`).
    /// Few do, so a metalink copies the others as they are without looking at them.
    url_markup: Vec<u64>,
    /// Each base URL's scheme (the text before its first `:`) as an index into `schemes`,
    /// or [`NO_SCHEME`]: lets an answer rank a host's URLs without reading them.
    url_scheme: Vec<u8>,
    /// The distinct schemes of the base URLs, at most 255.
    schemes: Vec<String>,
    /// Per host, what selection reads for every host of an answer, packed together so that
    /// an answer of 200 hosts touches a few cache lines instead of 200 archived records.
    host_traits: Vec<HostTraits>,
    /// The family bits ([`model::FAMILY_IPV4`], [`model::FAMILY_IPV6`]) that some host with
    /// known families lacks: an answer for a client of another family skips the family
    /// screen without looking at a host.
    families_lacked: u8,
    /// Each country's continent as a number (see [`Snapshot::continent_key`]).
    continent_keys: ContinentKeys,
}

/// What selection needs of a host on every answer (see [`Snapshot::host_traits`]).
#[derive(Debug, Clone, Copy)]
pub struct HostTraits {
    /// `1 / weight`: the shuffle multiplies by it (a division costs several times more).
    pub inverse_weight: f64,
    /// Whether the host serves only some countries (its `allowed_countries` is not empty).
    pub restricted: bool,
    /// [`model::Host::families`]: 0 when unknown.
    pub families: u8,
}

/// [`Snapshot::base_url_scheme`] of a URL without `:` (or past the 255th distinct scheme).
const NO_SCHEME: u8 = u8::MAX;

/// The next [`Snapshot::instance`].
static NEXT_INSTANCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Snapshot {
    /// Loads and fully checks the bundle at `path`.
    ///
    /// The checksum and the archive checks each read the whole body, so they run on two
    /// threads (validating an archive is safe on any bytes); the snapshot is returned only if
    /// both pass, and a checksum mismatch is the error reported when both fail. On the XL
    /// dataset this takes the slower of the two off a reload instead of their sum
    /// (loadtest/RESULTS.md, "Reload: time and memory").
    pub fn load(path: &Path) -> Result<Snapshot, BundleError> {
        let (header, bytes) = bundle::map(path)?;
        Snapshot::load_mapped(path, header, bytes)
    }

    /// [`Snapshot::load`] of a bundle file already open (a temporary one, which has no name);
    /// `label` names it in errors and logs.
    pub fn load_file(label: &Path, file: &std::fs::File) -> Result<Snapshot, BundleError> {
        let (header, bytes) = bundle::map_file(label, file)?;
        Snapshot::load_mapped(label, header, bytes)
    }

    fn load_mapped(
        path: &Path,
        header: bundle::Header,
        bytes: BodyBytes,
    ) -> Result<Snapshot, BundleError> {
        let bytes = Arc::new(bytes);
        let hash = || {
            let started = Instant::now();
            let checked = bundle::verify_checksum(path, &header, bytes.body());
            (checked, started.elapsed())
        };
        let (checksum, snapshot) = std::thread::scope(|scope| {
            let hashing = std::thread::Builder::new()
                .name("bundle-checksum".into())
                .spawn_scoped(scope, hash);
            let snapshot = Snapshot::from_body(path, bytes.clone());
            let checksum = match hashing {
                Ok(handle) => handle.join().unwrap_or_else(|_| hash()),
                Err(_) => hash(), // no thread to spare: one after the other
            };
            (checksum, snapshot)
        });
        let (checked, checksum_time) = checksum;
        checked?;
        tracing::debug!(path = %path.display(), checksum_ms = checksum_time.as_millis() as u64, "bundle checksum verified");
        snapshot
    }

    /// Builds a snapshot from compiled data in memory (serving MirrorManager inputs directly).
    pub fn from_data(data: &SnapshotData) -> Result<Snapshot, BundleError> {
        let path = Path::new("(in memory)");
        let body = bundle::encode_body(data).map_err(|e| BundleError::Archive {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Snapshot::from_body(path, Arc::new(BodyBytes::Heap(body)))
    }

    fn from_body(path: &Path, bytes: Arc<BodyBytes>) -> Result<Snapshot, BundleError> {
        let started = Instant::now();
        let archive = Archive::try_new(bytes.clone(), |b| bundle::access(path, b.body()))?;
        let archive_time = started.elapsed();
        let data: &ArchivedSnapshotData = archive.borrow_dependent();
        validate::check(data).map_err(|message| BundleError::Inconsistent {
            path: path.to_path_buf(),
            message,
        })?;
        let check_time = started.elapsed() - archive_time;

        let mut host_nets = NetMap::new();
        for (i, e) in data.host_netblocks.iter().enumerate() {
            host_nets.insert(&e.net, i as u32);
        }
        let mut asn_nets = NetMap::new();
        for e in data.global_asn.iter() {
            asn_nets.insert(&e.net, e.asn.to_native());
        }
        let mut country_nets = NetMap::new();
        for (i, e) in data.netblock_countries.iter().enumerate() {
            country_nets.insert(&e.net, i as u32);
        }
        let geo = GeoIndex::new(path, data, &bytes)?;
        tracing::debug!(
            path = %path.display(),
            bytes = bytes.body().len(),
            archive_ms = archive_time.as_millis() as u64,
            consistency_ms = check_time.as_millis() as u64,
            index_ms = (started.elapsed() - archive_time - check_time).as_millis() as u64,
            "snapshot body checked and indexed"
        );
        let url_markup = markup_bits(data);
        let (url_scheme, schemes) = scheme_ids(data);
        let host_traits: Vec<HostTraits> = data
            .hosts
            .iter()
            .map(|h| HostTraits {
                inverse_weight: 1.0 / f64::from(h.weight.to_native().max(1)),
                restricted: !h.allowed_countries.is_empty(),
                families: h.families,
            })
            .collect();
        let families_lacked = host_traits
            .iter()
            .filter(|t| t.families != 0)
            .fold(0, |acc, t| acc | (FAMILIES_ALL & !t.families));
        let continent_keys = ContinentKeys::new(data);
        Ok(Snapshot {
            archive,
            host_nets,
            asn_nets,
            country_nets,
            geo,
            sequence: 0,
            instance: NEXT_INSTANCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            label: bytes::Bytes::new(),
            url_markup,
            url_scheme,
            schemes,
            host_traits,
            families_lacked,
            continent_keys,
        })
    }

    /// Base URL `idx`'s scheme, the text before its first `:`, as an index into
    /// [`Snapshot::schemes`]; `None` when it has no `:` (or in data with more than 255
    /// schemes, for the ones past that).
    pub fn base_url_scheme(&self, idx: u32) -> Option<u8> {
        self.url_scheme
            .get(idx as usize)
            .copied()
            .filter(|&id| id != NO_SCHEME)
    }

    /// The distinct schemes of the base URLs (see [`Snapshot::base_url_scheme`]).
    pub fn schemes(&self) -> &[String] {
        &self.schemes
    }

    /// Whether base URL `idx` has one of `& < > " '` (true for an index out of range).
    pub fn base_url_has_markup(&self, idx: u32) -> bool {
        let idx = idx as usize;
        self.url_markup
            .get(idx / 64)
            .is_none_or(|word| word >> (idx % 64) & 1 == 1)
    }

    /// This snapshot as install number `sequence` (from 1 at start-up): given once, while the
    /// snapshot is still owned by whoever built it, never after it is shared.
    pub fn numbered(mut self, sequence: u64) -> Snapshot {
        self.sequence = sequence;
        self.label = bytes::Bytes::from(format!("{}/{}", self.generated_at(), sequence));
        self
    }

    /// Which install this is (0 for a snapshot never installed, as in `query`).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// A number no other snapshot of this process has (sequences can repeat: every
    /// `query` snapshot is 0), for what is kept beside one snapshot and must not be used
    /// with another.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// `<generated_at>/<sequence>`: which data answered, made once per snapshot so that each
    /// answer only clones it (the server sends it as `X-Mirrorlist-Generation`).
    pub fn label(&self) -> bytes::Bytes {
        self.label.clone()
    }

    /// Lets go of the resident pages of a mapped snapshot, which keeps serving (see
    /// [`BodyBytes::release_resident`]).
    pub fn release_resident_pages(&self) {
        self.archive.borrow_owner().release_resident();
    }

    /// The archived data.
    pub fn data(&self) -> &ArchivedSnapshotData {
        self.archive.borrow_dependent()
    }

    /// When the input data was generated, Unix seconds.
    pub fn generated_at(&self) -> u64 {
        self.data().meta.generated_at.to_native()
    }

    /// A host's [`HostTraits`], if the index is in range.
    #[inline]
    pub fn host_traits(&self, idx: HostIdx) -> Option<HostTraits> {
        self.host_traits.get(idx as usize).copied()
    }

    /// The family bits some host with known families lacks (0: every host with known
    /// families serves on both, or none is known).
    #[inline]
    pub fn families_lacked(&self) -> u8 {
        self.families_lacked
    }

    pub fn host(&self, idx: HostIdx) -> Option<&ArchivedHost> {
        self.data().hosts.get(idx as usize)
    }

    /// A base URL by index ("" if the index is out of range, which validate rules out).
    pub fn base_url(&self, idx: u32) -> &str {
        self.data()
            .base_urls
            .get(idx as usize)
            .map_or("", |s| s.as_str())
    }

    pub fn directory(&self, name: &str) -> Option<&ArchivedDirectory> {
        let dirs = &self.data().directories;
        dirs.binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .and_then(|i| dirs.get(i))
    }

    pub fn directory_at(&self, idx: u32) -> Option<&ArchivedDirectory> {
        self.data().directories.get(idx as usize)
    }

    /// The repo/arch entry for `"<repo>+<arch>"`.
    pub fn repo_arch(&self, repo: &str, arch: &str) -> Option<&ArchivedRepoArch> {
        let list = &self.data().repo_arch;
        let want = (repo.as_bytes(), &b"+"[..], arch.as_bytes());
        list.binary_search_by(|e| cmp_joined(e.key.as_bytes(), want))
            .ok()
            .and_then(|i| list.get(i))
    }

    /// The repository `repo` is an alias for, if any (one level only, as MirrorManager).
    pub fn repo_redirect(&self, repo: &str) -> Option<&str> {
        let list = &self.data().repo_redirects;
        list.binary_search_by(|e| e.from.as_str().cmp(repo))
            .ok()
            .and_then(|i| list.get(i))
            .map(|e| e.to.as_str())
    }

    pub fn is_disabled(&self, repo: &str) -> bool {
        self.data()
            .disabled_repos
            .binary_search_by(|r| r.as_str().cmp(repo))
            .is_ok()
    }

    /// Every host netblock containing `ip`, as `(prefix length, hosts)`, least specific first.
    pub fn netblocks_of<'s>(&'s self, ip: IpAddr, out: &mut Vec<(u8, &'s [ArchivedIdx])>) {
        let mut found = Vec::new();
        self.host_nets.covering(ip.to_canonical(), &mut found);
        if found.is_empty() {
            return;
        }
        let data = self.data();
        out.extend(found.into_iter().filter_map(|(len, i)| {
            data.host_netblocks
                .get(i as usize)
                .map(|e| (len, archived_u32s(&e.hosts)))
        }));
    }

    /// The ASN of the longest global prefix containing `ip`.
    pub fn asn_of(&self, ip: IpAddr) -> Option<u32> {
        self.asn_nets.longest(ip.to_canonical()).copied()
    }

    /// Hosts that serve clients of `asn`.
    pub fn asn_hosts(&self, asn: u32) -> &[ArchivedIdx] {
        let list = &self.data().asn_hosts;
        list.binary_search_by(|e| e.asn.to_native().cmp(&asn))
            .ok()
            .and_then(|i| list.get(i))
            .map_or(&[], |e| archived_u32s(&e.hosts))
    }

    /// The client's country: the most specific admin override, else the geo database.
    pub fn country_of(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        let data = self.data();
        if let Some(&i) = self.country_nets.longest(ip) {
            if let Some(e) = data.netblock_countries.get(i as usize) {
                return Some(e.country.as_str().to_string());
            }
        }
        self.geo.country_of(data, ip)
    }

    /// [`Snapshot::country_of`], with how it was found: `netblock` (an admin override) or
    /// `geoip`.
    pub fn country_source_of(&self, ip: IpAddr) -> Option<(String, &'static str)> {
        let ip = ip.to_canonical();
        let data = self.data();
        if let Some(&i) = self.country_nets.longest(ip) {
            if let Some(e) = data.netblock_countries.get(i as usize) {
                return Some((e.country.as_str().to_string(), "netblock"));
            }
        }
        self.geo.country_of(data, ip).map(|c| (c, "geoip"))
    }

    /// Every host netblock containing `ip`, as `addr/len`, least specific first.
    pub fn netblock_prefixes_of(&self, ip: IpAddr) -> Vec<String> {
        let mut found = Vec::new();
        self.host_nets.covering(ip.to_canonical(), &mut found);
        let data = self.data();
        found
            .into_iter()
            .filter_map(|(_, i)| data.host_netblocks.get(i as usize))
            .map(|e| net_text(&e.net))
            .collect()
    }

    /// The continent of a country (uppercase code).
    pub fn continent_of(&self, country: &str) -> Option<&str> {
        let list = &self.data().countries;
        list.binary_search_by(|e| e.country.as_str().cmp(country))
            .ok()
            .and_then(|i| list.get(i))
            .map(|e| e.continent.as_str())
    }

    /// The continent of a country (uppercase code) as a number: equal for two countries
    /// exactly when [`Snapshot::continent_of`] is; an array read for a two-letter code.
    #[inline]
    pub fn continent_key(&self, country: &str) -> Option<u32> {
        match self.continent_keys.table_key(country) {
            Some(key) => key,
            None => self.continent_key_by_name(country),
        }
    }

    #[cold]
    #[inline(never)]
    fn continent_key_by_name(&self, country: &str) -> Option<u32> {
        self.continent_of(country)
            .and_then(|continent| self.continent_keys.number(continent))
    }
}

/// A host index as archived (little-endian `u32`); `.to_native()` gives the [`HostIdx`].
pub type ArchivedIdx = rkyv::Archived<u32>;

fn archived_u32s(v: &rkyv::vec::ArchivedVec<ArchivedIdx>) -> &[ArchivedIdx] {
    v.as_slice()
}

/// The scheme index of every base URL and the schemes (see [`Snapshot::base_url_scheme`]).
fn scheme_ids(data: &ArchivedSnapshotData) -> (Vec<u8>, Vec<String>) {
    let mut schemes: Vec<String> = Vec::new();
    let ids = data
        .base_urls
        .iter()
        .map(|url| {
            let Some((scheme, _)) = url.as_str().split_once(':') else {
                return NO_SCHEME;
            };
            match schemes.iter().position(|s| s == scheme) {
                Some(id) => id as u8,
                None if schemes.len() < usize::from(NO_SCHEME) => {
                    schemes.push(scheme.to_string());
                    (schemes.len() - 1) as u8
                }
                None => NO_SCHEME,
            }
        })
        .collect();
    (ids, schemes)
}

/// The bits of [`Snapshot::base_url_has_markup`].
fn markup_bits(data: &ArchivedSnapshotData) -> Vec<u64> {
    let mut bits = vec![0u64; data.base_urls.len().div_ceil(64)];
    for (i, url) in data.base_urls.iter().enumerate() {
        if url
            .as_bytes()
            .iter()
            .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
        {
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
}

/// Compares `key` with the concatenation of `parts` without building the concatenation,
/// a slice compare per part (as `key.iter().cmp(parts chained)`, without going byte by byte).
fn cmp_joined(key: &[u8], parts: (&[u8], &[u8], &[u8])) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let mut key = key;
    for part in [parts.0, parts.1, parts.2] {
        let n = part.len().min(key.len());
        match key[..n].cmp(&part[..n]) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if key.len() < part.len() {
            return Ordering::Less;
        }
        key = &key[n..];
    }
    if key.is_empty() {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Snapshot>();
}

/// Both family bits.
const FAMILIES_ALL: u8 = model::FAMILY_IPV4 | model::FAMILY_IPV6;

/// A stored prefix as `addr/len`.
fn net_text(net: &model::ArchivedNet) -> String {
    net.to_ipnet().map_or_else(String::new, |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::cmp_joined;

    #[test]
    fn joined_compare_is_the_compare_of_the_concatenation() {
        let words = [
            "",
            "a",
            "b",
            "ab",
            "a+",
            "+",
            "fedora-41",
            "fedora-41+x86_64",
            "x86_64",
        ];
        for key in words {
            for a in words {
                for b in ["", "+"] {
                    for c in words {
                        let joined = format!("{a}{b}{c}");
                        assert_eq!(
                            cmp_joined(key.as_bytes(), (a.as_bytes(), b.as_bytes(), c.as_bytes())),
                            key.as_bytes().cmp(joined.as_bytes()),
                            "{key:?} vs {a:?} {b:?} {c:?}"
                        );
                    }
                }
            }
        }
    }
}
