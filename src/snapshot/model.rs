//! The compiled, archived data model: what a bundle holds and what a request reads.
//!
//! Everything is laid out for lookups without scans: hosts are dense `u32` indices, lists that are
//! searched are sorted by their key (binary search works on the archived form in place), and
//! prefix tables are stored flat and indexed into tries when a snapshot is loaded. Only
//! `build::compile` creates these values; a loaded snapshot never changes them.

use rkyv::{Archive, Serialize};

/// A dense host index into [`SnapshotData::hosts`].
pub type HostIdx = u32;

/// The root of a bundle.
#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct SnapshotData {
    pub meta: Meta,
    /// Hosts, indexed by [`HostIdx`].
    pub hosts: Vec<Host>,
    /// Base URLs, indexed by the `u32`s in [`Directory::urls`].
    pub base_urls: Vec<String>,
    /// Directories, sorted by name.
    pub directories: Vec<Directory>,
    /// Repository/arch pairs, sorted by `key` (`"<repo>+<arch>"`).
    pub repo_arch: Vec<RepoArch>,
    /// Repository aliases, sorted by `from`.
    pub repo_redirects: Vec<RepoRedirect>,
    /// Disabled repositories, sorted.
    pub disabled_repos: Vec<String>,
    /// The body lines listing every repo/arch pair, as sent with "invalid repo or arch".
    pub repo_listing: String,
    /// Host netblocks; each entry lists the hosts that prefer clients inside it.
    pub host_netblocks: Vec<NetHosts>,
    /// Global prefix -> ASN table.
    pub global_asn: Vec<NetAsn>,
    /// ASN -> hosts, sorted by ASN.
    pub asn_hosts: Vec<AsnHosts>,
    /// Admin overrides of the client country.
    pub netblock_countries: Vec<NetCountry>,
    /// Country -> continent, sorted by country.
    pub countries: Vec<CountryContinent>,
    /// Continent -> member countries (sorted by code), sorted by continent.
    pub continents: Vec<Continent>,
    pub geo: Geo,
}

/// Facts about the bundle itself.
#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct Meta {
    /// When the input data was generated, Unix seconds (the `time=` value and the generation
    /// half of `X-Mirrorlist-Generation`).
    pub generated_at: u64,
    /// When `build` ran, Unix seconds.
    pub built_at: u64,
    /// Which kind of input it came from: `mirrormanager` or `native`.
    pub source_kind: String,
    pub inputs: Vec<InputDigest>,
    /// How many input lines or keys `build` skipped.
    pub warnings: u64,
}

/// One mirror host.
#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct Host {
    /// The source's own id (MirrorManager host id), for operators.
    pub external_id: i64,
    /// A readable name, or empty.
    pub name: String,
    /// Country code, uppercase, or empty; the metalink `location`.
    pub country: String,
    /// Shuffle weight, at least 1.
    pub weight: u32,
    /// Countries allowed to use this host, sorted; empty means everyone.
    pub allowed_countries: Vec<String>,
    /// The address families the host is known to serve on: [`FAMILY_IPV4`] and
    /// [`FAMILY_IPV6`] bits; 0 when unknown.
    pub families: u8,
}

/// [`Host::families`]: the host serves over IPv4.
pub const FAMILY_IPV4: u8 = 1;
/// [`Host::families`]: the host serves over IPv6.
pub const FAMILY_IPV6: u8 = 2;

/// One directory on the mirrors.
#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct Directory {
    pub name: String,
    pub subpath: String,
    /// Public hosts carrying the directory, in source order.
    pub global: Vec<HostIdx>,
    /// Country -> public hosts of that country, sorted by country.
    pub by_country: Vec<CountryHosts>,
    /// The hosts of all of `by_country`; each country's are a run of them
    /// ([`CountryHosts::hosts_at`]), flat for the reason `urls` is.
    pub country_hosts: Vec<HostIdx>,
    /// Every host carrying the directory, sorted by host.
    pub by_host: Vec<HostUrls>,
    /// The URLs of all of `by_host`, as indices into [`SnapshotData::base_urls`]; each host's
    /// are a run of them ([`HostUrls::urls_at`]). One flat list rather than one per host: the
    /// XL data has 1.9 million host entries, and a list each was most of what compiling it
    /// allocated (decision 22).
    pub urls: Vec<u32>,
    /// Files with metalink details, sorted by name.
    pub files: Vec<FileEntry>,
}

impl Directory {
    /// Sets `by_host` and `urls` from hosts given with their own URL lists (tests, tools).
    pub fn with_hosts(
        mut self,
        hosts: impl IntoIterator<Item = (HostIdx, bool, Vec<u32>)>,
    ) -> Self {
        self.by_host.clear();
        self.urls.clear();
        for (host, public, urls) in hosts {
            self.by_host
                .push(HostUrls::at(host, public, &self.urls, urls.len()));
            self.urls.extend(urls);
        }
        self
    }

    /// Sets `by_country` and `country_hosts` from countries given with their own host lists,
    /// in order (tests, tools).
    pub fn with_countries<'c>(
        mut self,
        countries: impl IntoIterator<Item = (&'c str, Vec<HostIdx>)>,
    ) -> Self {
        self.by_country.clear();
        self.country_hosts.clear();
        for (country, hosts) in countries {
            self.by_country.push(CountryHosts {
                country: country.into(),
                hosts_at: self.country_hosts.len() as u32,
                hosts_len: hosts.len() as u32,
            });
            self.country_hosts.extend(hosts);
        }
        self
    }
}

impl SnapshotData {
    /// Sets `countries` from (country, continent) pairs, in order (tests, tools).
    pub fn with_country_continents<C: Into<String>, K: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (C, K)>,
    ) -> Self {
        self.countries = pairs
            .into_iter()
            .map(|(country, continent)| CountryContinent {
                country: country.into(),
                continent: continent.into(),
            })
            .collect();
        self
    }
}

impl ArchivedDirectory {
    /// The URLs of `entry`, one of this directory's `by_host` (empty if its run is out of
    /// range, which a validated snapshot rules out).
    pub fn urls_of(&self, entry: &ArchivedHostUrls) -> &[rkyv::rend::u32_le] {
        let at = entry.urls_at.to_native() as usize;
        let len = usize::from(entry.urls_len.to_native());
        self.urls.get(at..at + len).unwrap_or(&[])
    }
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct CountryHosts {
    pub country: CountryCode,
    /// Where this country's hosts start in [`Directory::country_hosts`].
    pub hosts_at: u32,
    /// How many there are.
    pub hosts_len: u32,
}

impl ArchivedDirectory {
    /// The hosts of `entry`, one of this directory's `by_country` (empty if its run is out of
    /// range, which a validated snapshot rules out).
    pub fn hosts_of(&self, entry: &ArchivedCountryHosts) -> &[rkyv::rend::u32_le] {
        let at = entry.hosts_at.to_native() as usize;
        let len = entry.hosts_len.to_native() as usize;
        self.country_hosts.get(at..at + len).unwrap_or(&[])
    }
}

/// A country code as compile holds it, archived as a plain string: up to 14 bytes (every ISO
/// code) inline, longer ones on the heap. The XL data has 0.7 million by-country lists; with a
/// heap string and a host list each they were 58 MB of a drop-in start's peak (214 MB, 156 MB
/// without; loadtest/RESULTS.md, "Load path").
#[derive(Clone, PartialEq, Eq)]
pub enum CountryCode {
    Inline { len: u8, bytes: [u8; 14] },
    Heap(Box<str>),
}

impl CountryCode {
    pub fn as_str(&self) -> &str {
        match self {
            // Only `From<&str>` fills `bytes`, with a whole `str` of `len` bytes.
            CountryCode::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            CountryCode::Heap(s) => s,
        }
    }

    /// An integer that orders inline codes as their strings order (the bytes, zero-padded,
    /// then the length: a shorter code that is a prefix of a longer one sorts first even when
    /// the longer one goes on with NUL bytes). `None` for a code on the heap. Sorting the
    /// directories' countries as strings was 16 % of compiling the XL cache; by these keys it
    /// no longer shows in the profile (loadtest/RESULTS.md, "Load path").
    pub fn order_key(&self) -> Option<u128> {
        match self {
            CountryCode::Inline { len, bytes } => {
                let mut key = [0u8; 16];
                key[..14].copy_from_slice(bytes);
                key[14] = *len;
                Some(u128::from_be_bytes(key))
            }
            CountryCode::Heap(_) => None,
        }
    }
}

impl From<&str> for CountryCode {
    fn from(s: &str) -> Self {
        let mut bytes = [0u8; 14];
        match bytes.get_mut(..s.len()) {
            Some(prefix) => {
                prefix.copy_from_slice(s.as_bytes());
                CountryCode::Inline {
                    len: s.len() as u8,
                    bytes,
                }
            }
            None => CountryCode::Heap(s.into()),
        }
    }
}

impl Default for CountryCode {
    fn default() -> Self {
        CountryCode::from("")
    }
}

impl std::fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl Archive for CountryCode {
    type Archived = rkyv::string::ArchivedString;
    type Resolver = rkyv::string::StringResolver;

    fn resolve(&self, resolver: Self::Resolver, out: rkyv::Place<Self::Archived>) {
        rkyv::string::ArchivedString::resolve_from_str(self.as_str(), resolver, out);
    }
}

impl<S: rkyv::rancor::Fallible + ?Sized> Serialize<S> for CountryCode
where
    S::Error: rkyv::rancor::Source,
    str: rkyv::SerializeUnsized<S>,
{
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        rkyv::string::ArchivedString::serialize_from_str(self.as_str(), serializer)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Archive, Serialize)]
pub struct HostUrls {
    pub host: HostIdx,
    /// Where this host's URLs start in [`Directory::urls`]; they are in source order.
    pub urls_at: u32,
    /// How many URLs it has there.
    pub urls_len: u16,
    /// Whether the host is in this directory's `global` list (public); private otherwise.
    pub public: bool,
}

impl HostUrls {
    /// An entry whose `len` URLs are appended to `urls` next (so start at its current end).
    pub fn at(host: HostIdx, public: bool, urls: &[u32], len: usize) -> HostUrls {
        HostUrls {
            host,
            urls_at: u32::try_from(urls.len()).unwrap_or(u32::MAX),
            urls_len: u16::try_from(len).unwrap_or(u16::MAX),
            public,
        }
    }
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct FileEntry {
    pub name: String,
    /// Newest first. The first describes the file; the rest become metalink alternates.
    pub details: Vec<FileDetails>,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct RepoArch {
    /// `"<repo>+<arch>"`.
    pub key: String,
    /// Index into [`SnapshotData::directories`].
    pub directory: u32,
    /// The directory's `repodata` subdirectory (metalink mode), if the data has it.
    pub repodata: Option<u32>,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct RepoRedirect {
    pub from: String,
    pub to: String,
}

/// An IPv4 or IPv6 network: the address bits left-aligned in a `u128` for IPv6, or in the
/// low 32 bits for IPv4.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Archive, Serialize)]
pub struct Net {
    pub v6: bool,
    pub bits: u128,
    pub len: u8,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct NetHosts {
    pub net: Net,
    pub hosts: Vec<HostIdx>,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct NetAsn {
    pub net: Net,
    pub asn: u32,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct AsnHosts {
    pub asn: u32,
    pub hosts: Vec<HostIdx>,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct NetCountry {
    pub net: Net,
    pub country: String,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct CountryContinent {
    pub country: String,
    pub continent: String,
}

#[derive(Debug, Default, Clone, Archive, Serialize)]
pub struct Continent {
    pub code: String,
    pub members: Vec<String>,
}

/// The geo database embedded in the bundle.
#[derive(Debug, Default, Clone, Archive, Serialize)]
pub enum Geo {
    #[default]
    None,
    /// MaxMind DB bytes, read in place.
    Mmdb(Vec<u8>),
    /// Networks and countries, indexed into a trie at load.
    Networks(Vec<NetCountry>),
}

impl From<ipnet::IpNet> for Net {
    fn from(net: ipnet::IpNet) -> Self {
        match net {
            ipnet::IpNet::V4(n) => Net {
                v6: false,
                bits: u128::from(u32::from(n.network())),
                len: n.prefix_len(),
            },
            ipnet::IpNet::V6(n) => Net {
                v6: true,
                bits: u128::from(n.network()),
                len: n.prefix_len(),
            },
        }
    }
}

impl ArchivedNet {
    /// The network as an `ipnet` value, or `None` if the stored length is out of range.
    pub fn to_ipnet(&self) -> Option<ipnet::IpNet> {
        let bits = self.bits.to_native();
        if self.v6 {
            ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(bits), self.len)
                .ok()
                .map(ipnet::IpNet::V6)
        } else {
            let v4 = u32::try_from(bits).ok()?;
            ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(v4), self.len)
                .ok()
                .map(ipnet::IpNet::V4)
        }
    }
}

/// Checksums, size and time of one version of a file (MirrorManager's FileDetailsType).
#[derive(Debug, Default, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize)]
pub struct FileDetails {
    pub timestamp: u64,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// One input file and its digest, recorded in the bundle.
#[derive(Debug, Default, Clone, rkyv::Archive, rkyv::Serialize)]
pub struct InputDigest {
    /// The file's path as given on the command line.
    pub path: String,
    /// Its length in bytes.
    pub bytes: u64,
    /// BLAKE3 of its contents, lowercase hex.
    pub blake3: String,
}

impl InputDigest {
    /// Digest of a file's bytes under the name it was read from.
    pub fn of(path: &std::path::Path, contents: &[u8]) -> Self {
        InputDigest {
            path: path.display().to_string(),
            bytes: contents.len() as u64,
            blake3: blake3::hash(contents).to_hex().to_string(),
        }
    }
}
