//! The raw input model: what every source (MirrorManager's cache, the native format) produces
//! before `compile` validates it and turns it into a dense, indexed [`SnapshotData`].
//!
//! Hosts, base URLs and directories still use the sources' own external ids here; `compile`
//! assigns dense indices. Nothing defined here is archived or seen by the request path (the
//! two archived types the sources fill in, file details and input digests, are the bundle's,
//! in `snapshot::model`).
//!
//! [`SnapshotData`]: crate::snapshot::model::SnapshotData

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

pub use crate::snapshot::model::{FileDetails, InputDigest};

use super::InputError;

/// Everything one build reads, in source terms.
#[derive(Debug, Default, Clone)]
pub struct RawData {
    /// When the data was generated, Unix seconds (MirrorManager: the cache's `Time`).
    pub generated_at: u64,
    /// Hosts by external id (MirrorManager host id).
    pub hosts: BTreeMap<i64, RawHost>,
    /// Base URLs ("host category URLs") by external id.
    pub base_urls: BTreeMap<i64, String>,
    /// One entry per directory, in source order.
    pub directories: Vec<RawDirectory>,
    /// Directories a source left encoded, compiled after `directories` (a source fills one or
    /// the other).
    pub deferred: Option<DeferredDirectories>,
    /// directory -> file name -> details, newest first.
    pub file_details: BTreeMap<String, BTreeMap<String, Vec<FileDetails>>>,
    /// `(repo, arch)` -> directory name.
    pub repo_arch: Vec<RawRepoArch>,
    /// `from_repo` -> `to_repo`.
    pub repo_redirects: Vec<(String, String)>,
    /// Repository names that are disabled.
    pub disabled_repos: Vec<String>,
    /// Netblocks that prefer some hosts (HostNetblockCache), with host external ids.
    pub host_netblocks: Vec<(IpNet, Vec<i64>)>,
    /// ASN -> hosts that serve clients of that ASN (HostAsnCache).
    pub asn_hosts: Vec<(u32, Vec<i64>)>,
    /// The global prefix -> ASN table (global_netblocks.txt).
    pub global_asn: Vec<(IpNet, u32)>,
    /// Admin overrides of GeoIP: netblock -> country (NetblockCountryCache), uppercase.
    pub netblock_countries: Vec<(IpNet, String)>,
    /// Country -> continent, both uppercase, with any redirects already applied.
    pub country_continent: BTreeMap<String, String>,
    /// How a client address becomes a country.
    pub geo: RawGeo,
    /// What was read, for `inspect`.
    pub inputs: Vec<InputDigest>,
    /// Lines or keys that were skipped, for the build summary.
    pub warnings: Vec<String>,
}

/// One mirror host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawHost {
    /// A readable name (native format) or empty (MirrorManager has none in its cache).
    pub name: String,
    /// ISO country code of the host, uppercase; may be empty when unknown.
    pub country: String,
    /// Bandwidth in Mbit/s, the shuffle weight. `None` when the source has none.
    pub bandwidth: Option<i64>,
    /// If non-empty, only clients from these countries (uppercase) may be sent to this host.
    pub allowed_countries: Vec<String>,
    /// The address families the host serves on, as `snapshot::model::FAMILY_*` bits; 0 when
    /// unknown (MirrorManager's cache has no such field).
    pub families: u8,
}

/// One directory and who carries it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawDirectory {
    /// Path relative to the master mirror root, no leading or trailing slash.
    pub name: String,
    /// `name` without the category's top directory; appended to base URLs. May be empty.
    pub subpath: String,
    /// Public hosts carrying this directory, in source order.
    pub global: Vec<i64>,
    /// Country (uppercase) -> public hosts of that country carrying this directory.
    pub by_country: Vec<(String, Vec<i64>)>,
    /// Every host (public and private) carrying this directory -> its base URL ids, in order.
    pub by_host: Vec<(i64, Vec<i64>)>,
}

/// Directories still encoded in their source, by name, each decoded when compile reaches it.
///
/// MirrorManager's cache is nearly all directories; decoding them one at a time, each into the
/// vectors of the one before, keeps the decoded form of all of them from being in memory at
/// once (with the XL cache, 410 MB of small allocations; loadtest/RESULTS.md, "Load path").
#[derive(Clone)]
pub struct DeferredDirectories {
    /// The directory names, in source order, each once (the source applied first-wins).
    pub names: Vec<String>,
    /// How much work each is, in the same order (its encoded size): what compile shares out
    /// between threads by.
    pub sizes: Vec<usize>,
    /// Decodes directory `i` of `names` into the given one, replacing what it held (and
    /// reusing its vectors: one `RawDirectory` serves for all).
    pub decode: Arc<DecodeDirectory>,
}

/// How many threads may call [`DeferredDirectories::decode`] at once without waiting on each
/// other: compile uses at most this many, and a source keeps this many decoders.
pub const DECODE_THREADS: usize = 4;

/// [`DeferredDirectories::decode`].
pub type DecodeDirectory = dyn Fn(usize, &mut RawDirectory) -> Result<(), InputError> + Send + Sync;

impl DeferredDirectories {
    /// Every directory, decoded (for tests and tools that look at all of them).
    pub fn decode_all(&self) -> Result<Vec<RawDirectory>, InputError> {
        (0..self.names.len())
            .map(|i| {
                let mut dir = RawDirectory::default();
                (self.decode)(i, &mut dir).map(|()| dir)
            })
            .collect()
    }
}

impl fmt::Debug for DeferredDirectories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredDirectories")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl RawData {
    /// How many directories are still encoded.
    pub fn deferred_len(&self) -> usize {
        self.deferred.as_ref().map_or(0, |d| d.names.len())
    }

    /// `directories` and the deferred ones, decoded, in that order.
    pub fn all_directories(&self) -> Result<Vec<RawDirectory>, InputError> {
        let mut all = self.directories.clone();
        if let Some(deferred) = &self.deferred {
            all.extend(deferred.decode_all()?);
        }
        Ok(all)
    }
}

/// A `repo`/`arch` pair and the directory it names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RawRepoArch {
    pub repo: String,
    pub arch: String,
    pub directory: String,
}

/// The geo database a build embeds.
#[derive(Debug, Default, Clone)]
pub enum RawGeo {
    /// No geo data: every client's country is unknown.
    #[default]
    None,
    /// The bytes of a MaxMind GeoIP2/GeoLite2 Country database.
    Mmdb(Vec<u8>),
    /// A list of networks and their countries (uppercase), e.g. from a `network,country` CSV.
    Networks(Vec<(IpNet, String)>),
}
