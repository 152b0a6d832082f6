//! MirrorManager inputs -> [`RawData`]: the protobuf cache plus its side files (global
//! netblocks, `country_continent.csv`, a GeoIP2 Country mmdb), as the production server reads
//! them, with the bugs docs/protocol.md section 12 lists fixed.
//!
//! Where MirrorManager's server would do something surprising with odd data (concatenate the
//! values of duplicate keys, stop a scan at the first bad netblock), we keep the first entry,
//! skip the bad one, and say so in `RawData::warnings`, naming the file and the key.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::first_wins::FirstWins;
use super::mm_cache::{self, MirrorList};
use super::mm_directory::{DirectoryDecoder, EntryError};
use super::{continents, geoip, netblocks, read_file, InputError};
use crate::inputs::raw::{
    DeferredDirectories, FileDetails, InputDigest, RawData, RawDirectory, RawGeo, RawHost,
    RawRepoArch, DECODE_THREADS,
};

/// Where MirrorManager's files are (the `-c`, `-g`, `--cccsv` and `--geoip` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmPaths {
    pub cache: PathBuf,
    pub global_netblocks: PathBuf,
    pub cccsv: PathBuf,
    pub geoip: PathBuf,
}

/// Where the reader learns which hosts exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostIds {
    /// The host tables, and every id a directory names: a host only a directory names is
    /// registered (compile gives it weight 1, with a warning). The first pass reads every
    /// directory's host ids.
    Everywhere,
    /// The host tables only: the first pass reads directory names and nothing else. Compile
    /// then refuses a directory naming any other host (`CompileError::UnknownHost`), and the
    /// caller reads again with `Everywhere`. MirrorManager's generator puts every host in the
    /// tables, so this saves a walk over the whole cache (decision 23).
    Tables,
}

/// Reads all four files into one [`RawData`]. The caller records the source kind.
pub fn read(paths: &MmPaths) -> Result<RawData, InputError> {
    read_with(paths, HostIds::Everywhere)
}

/// [`read`], learning host ids as `host_ids` says.
///
/// The side files do not depend on the cache, so they are read and parsed (and all four
/// files digested) on a second thread while this one walks the cache.
pub fn read_with(paths: &MmPaths, host_ids: HostIds) -> Result<RawData, InputError> {
    let cache_bytes = Bytes::from(read_file(&paths.cache)?);
    let list = mm_cache::decode(&paths.cache, cache_bytes.clone())?;
    let side_files = || SideFiles::read(paths, &cache_bytes);
    let (raw, side) = std::thread::scope(|scope| {
        let side = std::thread::Builder::new()
            .name("side-files".into())
            .spawn_scoped(scope, side_files);
        let raw = from_cache_with(&paths.cache, &list, host_ids);
        let side = match side {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => side_files(), // no thread to spare: one after the other
        };
        (raw, side)
    });
    let (mut raw, side) = (raw?, side?);
    raw.global_asn = side.global_asn;
    raw.warnings.extend(side.warnings);
    let mut continents = side.continents;
    apply_continent_redirects(
        &paths.cache,
        &list,
        &paths.cccsv,
        &mut continents,
        &mut raw.warnings,
    );
    raw.country_continent = continents;
    raw.inputs = side.inputs;
    raw.geo = RawGeo::Mmdb(side.mmdb);
    Ok(raw)
}

/// The global netblocks, the continents and the GeoIP database, parsed, and the digests of
/// all four files.
struct SideFiles {
    global_asn: Vec<(ipnet::IpNet, u32)>,
    continents: BTreeMap<String, String>,
    mmdb: Vec<u8>,
    inputs: Vec<InputDigest>,
    /// The netblocks' warnings, then the CSV's.
    warnings: Vec<String>,
}

impl SideFiles {
    fn read(paths: &MmPaths, cache_bytes: &[u8]) -> Result<SideFiles, InputError> {
        let global_bytes = read_file(&paths.global_netblocks)?;
        let csv_bytes = read_file(&paths.cccsv)?;
        let mmdb = geoip::read_mmdb(&paths.geoip)?;
        let mut warnings = Vec::new();
        let global_asn = netblocks::parse_global(
            &paths.global_netblocks,
            utf8(&paths.global_netblocks, &global_bytes)?,
            &mut warnings,
        )?;
        let continents =
            continents::parse_csv(&paths.cccsv, utf8(&paths.cccsv, &csv_bytes)?, &mut warnings)?;
        let inputs = vec![
            InputDigest::of(&paths.cache, cache_bytes),
            InputDigest::of(&paths.global_netblocks, &global_bytes),
            InputDigest::of(&paths.cccsv, &csv_bytes),
            InputDigest::of(&paths.geoip, &mmdb),
        ];
        Ok(SideFiles {
            global_asn,
            continents,
            mmdb,
            inputs,
            warnings,
        })
    }
}

/// Maps everything the cache alone describes: hosts, URLs, directories, file details, repos,
/// host netblocks and ASNs, netblock countries and `generated_at`. The side-file parts
/// (`global_asn`, `country_continent`, `geo`, `inputs`) are left empty. `file` names the cache
/// in warnings.
///
/// Fails only when the cache has no directory at all: protobuf has no framing, so a file cut
/// between two top-level fields decodes cleanly, and since generators write `MirrorListCache`
/// (field 16) last, an empty one is what such a cut looks like. A server with no directories
/// could answer nothing anyway.
pub fn from_cache(file: &Path, list: &MirrorList) -> Result<RawData, InputError> {
    from_cache_with(file, list, HostIds::Everywhere)
}

/// [`from_cache`], learning host ids as `host_ids` says.
pub fn from_cache_with(
    file: &Path,
    list: &MirrorList,
    host_ids: HostIds,
) -> Result<RawData, InputError> {
    if list.mirror_list_cache.is_empty() {
        return Err(InputError::new(
            file,
            "",
            "MirrorListCache is empty: no directory to serve (a truncated file?)",
        ));
    }
    let mut w = Warner {
        file,
        warnings: Vec::new(),
    };
    let mut raw = RawData {
        generated_at: list.time,
        ..RawData::default()
    };

    read_hosts(&mut w, list, &mut raw.hosts);
    w.each_first(
        "HCUrlCache",
        &list.hc_url_cache,
        |u| u.key,
        |_, url| {
            raw.base_urls.insert(url.key, url.value.clone());
        },
    );
    read_directories(&mut w, list, &mut raw, host_ids)?;
    read_file_details(&mut w, list, &mut raw);
    read_repos(&mut w, list, &mut raw);
    read_networks(&mut w, list, &mut raw);

    raw.warnings = w.warnings;
    Ok(raw)
}

/// MirrorListCache, first pass: the first entry of each directory name is kept, still encoded
/// (compile decodes each in turn), and with `HostIds::Everywhere` every host a directory names
/// is registered.
fn read_directories(
    w: &mut Warner<'_>,
    list: &MirrorList,
    raw: &mut RawData,
    host_ids: HostIds,
) -> Result<(), InputError> {
    let mut names = Vec::with_capacity(list.mirror_list_cache.len());
    let mut entries = Vec::with_capacity(list.mirror_list_cache.len());
    let mut seen = FirstWins::new();
    let mut registered = SeenIds::default();
    let (mut decoder, mut dir) = (DirectoryDecoder::default(), RawDirectory::default());
    for (index, entry) in list.mirror_list_cache.iter().enumerate() {
        match host_ids {
            HostIds::Everywhere => decoder.decode_host_ids(entry, &mut dir),
            HostIds::Tables => decoder.decode_name(entry, &mut dir),
        }
        .map_err(|e| invalid_entry(w.file, index, e))?;
        if !seen.admit(dir.name.clone(), |name| {
            w.duplicate("MirrorListCache", name)
        }) {
            continue;
        }
        let ids = dir
            .global
            .iter()
            .chain(dir.by_country.iter().flat_map(|(_, ids)| ids))
            .chain(dir.by_host.iter().map(|(id, _)| id))
            .filter(|id| registered.first(**id));
        register(&mut raw.hosts, ids);
        names.push(dir.name.clone());
        entries.push((index, entry.clone()));
    }
    let file = w.file.to_path_buf();
    // Compile decodes on up to `DECODE_THREADS` threads, each one directory at a time: each
    // call takes a decoder no other call holds, so no lock is waited on.
    let mut decoders: Vec<Mutex<DirectoryDecoder>> =
        (0..DECODE_THREADS).map(|_| Mutex::default()).collect();
    decoders[0] = Mutex::new(decoder);
    raw.deferred = Some(DeferredDirectories {
        names,
        sizes: entries.iter().map(|(_, entry)| entry.len()).collect(),
        decode: Arc::new(move |i, dir| {
            let Some((index, entry)) = entries.get(i) else {
                return Err(InputError::new(&file, "", format!("no directory {i}")));
            };
            let mut decoder = decoders
                .iter()
                .find_map(|d| d.try_lock().ok())
                .unwrap_or_else(|| decoders[0].lock().unwrap_or_else(|e| e.into_inner()));
            decoder
                .decode(entry, dir)
                .map_err(|e| invalid_entry(&file, *index, e))
        }),
    });
    Ok(())
}

fn invalid_entry(file: &Path, index: usize, e: EntryError) -> InputError {
    mm_cache::invalid(file, format!("MirrorListCache entry {}", index + 1), e)
}

/// The host ids a first pass has registered: each id recurs in thousands of directories, and
/// a bit per id (for ids in `0..2^24`, MirrorManager's row ids) spares a map lookup for each
/// recurrence. An id outside that range is always "first", which only costs the lookup.
#[derive(Default)]
struct SeenIds {
    bits: Vec<u64>,
}

impl SeenIds {
    const LIMIT: i64 = 1 << 24;

    fn first(&mut self, id: i64) -> bool {
        if !(0..Self::LIMIT).contains(&id) {
            return true;
        }
        let (word, bit) = ((id / 64) as usize, id % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let was = self.bits[word] & (1 << bit) != 0;
        self.bits[word] |= 1 << bit;
        !was
    }
}

/// FileDetailsCache: the checksums, size and time of each file, by directory and file name.
fn read_file_details(w: &mut Warner<'_>, list: &MirrorList, raw: &mut RawData) {
    for dir in &list.file_details_cache {
        let files = raw.file_details.entry(dir.directory.clone()).or_default();
        for f in &dir.file_details_cache_files {
            if files.contains_key(&f.filename) {
                // Keyed by directory and name together: not a `FirstWins` table.
                w.duplicate(
                    "FileDetailsCache",
                    format!("{}/{}", dir.directory, f.filename),
                );
                continue;
            }
            let details = f
                .file_details
                .iter()
                .map(|d| FileDetails {
                    timestamp: d.time_stamp,
                    size: d.size,
                    md5: d.md5.clone().unwrap_or_default(),
                    sha1: d.sha1.clone().unwrap_or_default(),
                    sha256: d.sha256.clone().unwrap_or_default(),
                    sha512: d.sha512.clone().unwrap_or_default(),
                })
                .collect();
            files.insert(f.filename.clone(), details);
        }
    }
}

/// The repository tables: RepoArchToDirectoryName, DisabledRepositoryCache and
/// RepositoryRedirectCache.
fn read_repos(w: &mut Warner<'_>, list: &MirrorList, raw: &mut RawData) {
    let pairs = &list.repo_arch_to_directory_name;
    w.each_first(
        "RepoArchToDirectoryName",
        pairs,
        |e| e.key.as_str(),
        |w, entry| {
            // The first `+` separates them: repo names never contain one, some arch-like
            // suffixes might.
            let Some((repo, arch)) = entry.key.split_once('+') else {
                w.skip(
                    "RepoArchToDirectoryName",
                    &entry.key,
                    "not of the form `repo+arch`",
                );
                return;
            };
            if repo.is_empty() || arch.is_empty() {
                w.skip("RepoArchToDirectoryName", &entry.key, "empty repo or arch");
                return;
            }
            raw.repo_arch.push(RawRepoArch {
                repo: repo.to_string(),
                arch: arch.to_string(),
                directory: entry.value.clone(),
            });
        },
    );

    // The production server looks these up by linear scan, so for a repeated key the first
    // entry decides. MirrorManager's generator writes one entry per disabled repository row,
    // i.e. per arch, so repeats with the same value are normal and not worth a warning.
    let mut seen = BTreeMap::new();
    for entry in &list.disabled_repository_cache {
        if let Some(&first) = seen.get(entry.key.as_str()) {
            if first != entry.value {
                w.duplicate("DisabledRepositoryCache", &entry.key);
            }
            continue;
        }
        seen.insert(entry.key.as_str(), entry.value);
        if entry.value {
            raw.disabled_repos.push(entry.key.clone());
        }
    }

    let redirects = &list.repository_redirect_cache;
    w.each_first(
        "RepositoryRedirectCache",
        redirects,
        |e| e.key.as_str(),
        |_, entry| {
            raw.repo_redirects
                .push((entry.key.clone(), entry.value.clone()));
        },
    );
}

/// The network tables: HostNetblockCache, NetblockCountryCache and HostAsnCache.
///
/// Unlike the production server, a bad key does not end the scan (docs/protocol.md section 12, bug 6).
fn read_networks(w: &mut Warner<'_>, list: &MirrorList, raw: &mut RawData) {
    for entry in &list.host_netblock_cache {
        let Some(net) = netblocks::parse_net(&entry.key) else {
            w.skip("HostNetblockCache", &entry.key, "not a network or address");
            continue;
        };
        register(&mut raw.hosts, &entry.value);
        raw.host_netblocks.push((net, entry.value.clone()));
    }
    for entry in &list.netblock_country_cache {
        let Some(net) = netblocks::parse_net(&entry.key) else {
            w.skip(
                "NetblockCountryCache",
                &entry.key,
                "not a network or address",
            );
            continue;
        };
        if entry.value.is_empty() {
            w.skip("NetblockCountryCache", &entry.key, "empty country");
            continue;
        }
        raw.netblock_countries
            .push((net, entry.value.to_ascii_uppercase()));
    }

    for entry in &list.host_asn_cache {
        let Ok(asn) = u32::try_from(entry.key) else {
            w.skip("HostAsnCache", entry.key, "not a 32-bit AS number");
            continue;
        };
        register(&mut raw.hosts, &entry.value);
        raw.asn_hosts.push((asn, entry.value.clone()));
    }
}

/// Hosts from the three per-host tables. Other tables only reference hosts; `register` adds
/// those, so compile sees every id the cache mentions.
fn read_hosts(w: &mut Warner<'_>, list: &MirrorList, hosts: &mut BTreeMap<i64, RawHost>) {
    w.each_first(
        "HostCountryCache",
        &list.host_country_cache,
        |e| e.key,
        |_, entry| {
            hosts.entry(entry.key).or_default().country = entry.value.to_ascii_uppercase();
        },
    );
    w.each_first(
        "HostBandwidthCache",
        &list.host_bandwidth_cache,
        |e| e.key,
        |_, entry| {
            hosts.entry(entry.key).or_default().bandwidth = Some(entry.value);
        },
    );
    let allowed = &list.host_country_allowed_cache;
    w.each_first(
        "HostCountryAllowedCache",
        allowed,
        |e| e.key,
        |_, entry| {
            hosts.entry(entry.key).or_default().allowed_countries =
                entry.value.iter().map(|c| c.to_ascii_uppercase()).collect();
        },
    );
}

fn register<'a>(hosts: &mut BTreeMap<i64, RawHost>, ids: impl IntoIterator<Item = &'a i64>) {
    for id in ids {
        hosts.entry(*id).or_default();
    }
}

/// Applies CountryContinentRedirectCache to the CSV's table. As in the production server, only
/// countries the CSV lists are redirected; a redirect for any other country is ignored (with a
/// warning, since it is probably a typo).
fn apply_continent_redirects(
    file: &Path,
    list: &MirrorList,
    cccsv: &Path,
    continents: &mut BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) {
    let mut w = Warner {
        file,
        warnings: Vec::new(),
    };
    let mut seen = FirstWins::new();
    for entry in &list.country_continent_redirect_cache {
        let country = entry.key.to_ascii_uppercase();
        if !seen.admit(country.clone(), |k| {
            w.duplicate("CountryContinentRedirectCache", k)
        }) {
            continue;
        }
        let continent = entry.value.to_ascii_uppercase();
        if continent.len() != 2 {
            w.skip(
                "CountryContinentRedirectCache",
                &entry.key,
                format!("invalid continent {continent:?}"),
            );
            continue;
        }
        match continents.get_mut(&country) {
            Some(c) => *c = continent,
            None => w.skip(
                "CountryContinentRedirectCache",
                &entry.key,
                format!("country not in {}", cccsv.display()),
            ),
        }
    }
    warnings.append(&mut w.warnings);
}

/// Side files are text; a binary file given by mistake is named here rather than reported as
/// "no usable line".
fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        InputError::new(path, format!("line {line} (byte {at})"), "not UTF-8 text")
    })
}

/// Formats warnings about one cache entry: `FILE: Section key "K": what; skipped`.
struct Warner<'a> {
    file: &'a Path,
    warnings: Vec<String>,
}

impl Warner<'_> {
    fn skip(&mut self, section: &str, key: impl Display, what: impl Display) {
        self.warnings.push(format!(
            "{}: {section} key {:?}: {what}; skipped",
            self.file.display(),
            key.to_string()
        ));
    }

    fn duplicate(&mut self, section: &str, key: impl Display) {
        self.skip(section, key, "duplicate key, the first entry is kept");
    }

    /// Calls `f` with each entry of `section` whose key (by `key`) is the first of its kind;
    /// a later one is warned about and skipped, because the production server's linear scans
    /// find the first.
    fn each_first<'t, T, K: Ord + Display>(
        &mut self,
        section: &str,
        entries: &'t [T],
        key: impl Fn(&'t T) -> K,
        mut f: impl FnMut(&mut Self, &'t T),
    ) {
        let mut seen = FirstWins::new();
        for entry in entries {
            if seen.admit(key(entry), |k| self.duplicate(section, k)) {
                f(self, entry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::mm_cache::{
        IntRepeatedIntMap, IntStringMap, MirrorListCacheType, StringBoolMap, StringRepeatedIntMap,
        StringStringMap,
    };

    fn mm_small() -> MmPaths {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mm-small");
        MmPaths {
            cache: dir.join("mirrorlist_cache.proto"),
            global_netblocks: dir.join("global_netblocks.txt"),
            cccsv: dir.join("country_continent.csv"),
            geoip: dir.join("GeoIP2-Country-Test.mmdb"),
        }
    }

    fn ss(key: &str, value: &str) -> StringStringMap {
        StringStringMap {
            key: key.into(),
            value: value.into(),
        }
    }

    fn sri(key: &str, value: &[i64]) -> StringRepeatedIntMap {
        StringRepeatedIntMap {
            key: key.into(),
            value: value.to_vec(),
        }
    }

    fn one_dir() -> MirrorListCacheType {
        MirrorListCacheType {
            directory: "d".into(),
            global: vec![1],
            by_host_id: vec![IntRepeatedIntMap {
                key: 1,
                value: vec![10],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn reads_mm_small() {
        let raw = read(&mm_small()).unwrap();
        println!(
            "hosts {} urls {} directories {} repo/arch {} file-detail dirs {} host netblocks {} asns {} global prefixes {} countries {} warnings {:?}",
            raw.hosts.len(),
            raw.base_urls.len(),
            raw.all_directories().unwrap().len(),
            raw.repo_arch.len(),
            raw.file_details.len(),
            raw.host_netblocks.len(),
            raw.asn_hosts.len(),
            raw.global_asn.len(),
            raw.country_continent.len(),
            raw.warnings,
        );
        assert_eq!(raw.generated_at, 1795439232);
        assert_eq!(raw.hosts.len(), 14);
        assert_eq!(
            raw.hosts.keys().copied().collect::<Vec<_>>(),
            (1..=14).collect::<Vec<_>>()
        );
        assert!(raw
            .hosts
            .values()
            .all(|h| h.bandwidth.is_some() && !h.country.is_empty()));
        assert_eq!(
            raw.hosts[&6],
            RawHost {
                name: String::new(),
                country: "CN".into(),
                bandwidth: Some(100),
                allowed_countries: vec!["CN".into()],
                families: 0,
            }
        );
        assert_eq!(raw.hosts[&9].bandwidth, Some(50));
        assert_eq!(raw.base_urls.len(), 61);
        assert_eq!(
            raw.base_urls[&40],
            "ftp://mirror.ph.example.org/pub/fedora/linux"
        );
        let directories = raw.all_directories().unwrap();
        assert_eq!(directories.len(), 15);
        let epel = directories
            .iter()
            .find(|d| d.name == "pub/epel/9/Everything/x86_64")
            .unwrap();
        assert_eq!(epel.subpath, "9/Everything/x86_64");
        assert_eq!(epel.global, vec![1, 2, 3, 5, 10, 12, 14]);
        assert_eq!(epel.by_country[0], ("DE".to_string(), vec![1, 14]));
        assert_eq!(epel.by_host[0], (1, vec![4, 5, 6]));
        assert_eq!(raw.repo_arch.len(), 7);
        assert_eq!(
            raw.repo_arch[0],
            RawRepoArch {
                repo: "fedora-41".into(),
                arch: "x86_64".into(),
                directory: "pub/fedora/linux/releases/41/Everything/x86_64/os".into(),
            }
        );
        assert_eq!(raw.file_details.len(), 7);
        let updates = &raw.file_details["pub/fedora/linux/updates/41/Everything/x86_64/repodata"]
            ["repomd.xml"];
        assert_eq!(
            updates.iter().map(|d| d.timestamp).collect::<Vec<_>>(),
            vec![1730013000, 1730009400, 1730005800]
        );
        assert_eq!(updates[0].sha1, "a21eb338064c334b1e24131c00c1bf80647e0dbe");
        assert_eq!(raw.disabled_repos, vec!["epel-8".to_string()]);
        assert_eq!(raw.repo_redirects.len(), 2);
        assert_eq!(
            raw.repo_redirects[0],
            ("fedora-install-41".to_string(), "fedora-41".to_string())
        );
        assert_eq!(raw.host_netblocks.len(), 9);
        assert!(raw
            .host_netblocks
            .contains(&("74.209.16.1/32".parse().unwrap(), vec![10])));
        assert_eq!(raw.asn_hosts.len(), 11);
        assert!(raw.asn_hosts.contains(&(2200, vec![8])));
        assert_eq!(raw.global_asn.len(), 16);
        assert_eq!(
            raw.netblock_countries,
            vec![("198.51.100.0/24".parse().unwrap(), "AU".to_string())]
        );
        assert_eq!(raw.country_continent.len(), 252);
        assert_eq!(raw.country_continent["IL"], "EU"); // redirected from AS
        assert_eq!(raw.country_continent["TR"], "EU");
        assert_eq!(raw.country_continent["BT"], "AS");
        assert!(matches!(&raw.geo, RawGeo::Mmdb(b) if !b.is_empty()));
        assert_eq!(raw.inputs.len(), 4);
        assert_eq!(raw.inputs[0].path, mm_small().cache.display().to_string());
        assert_eq!(raw.inputs[3].bytes, 19468);
        assert!(raw.warnings.is_empty(), "{:?}", raw.warnings);
    }

    #[test]
    fn bad_netblock_keys_are_skipped_and_the_scan_goes_on() {
        let list = MirrorList {
            time: 1,
            mirror_list_cache: vec![one_dir().to_entry()],
            host_netblock_cache: vec![
                sri("89.160.20.112/124", &[1]),
                sri("not-a-net", &[2]),
                sri("10.1.2.3/8", &[3]),
                sri("192.0.2.7", &[4]),
            ],
            netblock_country_cache: vec![
                ss("garbage", "de"),
                ss("198.51.100.0/24", "au"),
                ss("2001:db8::/32", ""),
            ],
            host_asn_cache: vec![
                IntRepeatedIntMap {
                    key: -1,
                    value: vec![5],
                },
                IntRepeatedIntMap {
                    key: 1 << 32,
                    value: vec![5],
                },
                IntRepeatedIntMap {
                    key: 680,
                    value: vec![6],
                },
            ],
            ..Default::default()
        };
        let raw = from_cache(Path::new("c.proto"), &list).unwrap();
        assert_eq!(
            raw.host_netblocks,
            vec![
                ("10.0.0.0/8".parse().unwrap(), vec![3]),
                ("192.0.2.7/32".parse().unwrap(), vec![4]),
            ]
        );
        assert_eq!(
            raw.netblock_countries,
            vec![("198.51.100.0/24".parse().unwrap(), "AU".to_string())]
        );
        assert_eq!(raw.asn_hosts, vec![(680, vec![6])]);
        assert_eq!(
            raw.warnings,
            vec![
                "c.proto: HostNetblockCache key \"89.160.20.112/124\": not a network or address; skipped",
                "c.proto: HostNetblockCache key \"not-a-net\": not a network or address; skipped",
                "c.proto: NetblockCountryCache key \"garbage\": not a network or address; skipped",
                "c.proto: NetblockCountryCache key \"2001:db8::/32\": empty country; skipped",
                "c.proto: HostAsnCache key \"-1\": not a 32-bit AS number; skipped",
                "c.proto: HostAsnCache key \"4294967296\": not a 32-bit AS number; skipped",
            ]
        );
        // Hosts referenced by kept entries exist; those only in skipped entries do not.
        assert_eq!(
            raw.hosts.keys().copied().collect::<Vec<_>>(),
            vec![1, 3, 4, 6]
        );
    }

    #[test]
    fn duplicate_keys_keep_the_first_entry() {
        let mut second = one_dir();
        second.global = vec![99];
        let list = MirrorList {
            time: 1,
            hc_url_cache: vec![
                IntStringMap {
                    key: 10,
                    value: "https://a/".into(),
                },
                IntStringMap {
                    key: 10,
                    value: "https://b/".into(),
                },
            ],
            mirror_list_cache: vec![one_dir().to_entry(), second.to_entry()],
            repo_arch_to_directory_name: vec![
                ss("fedora-41+x86_64", "d"),
                ss("fedora-41+x86_64", "other"),
                ss("noplus", "d"),
                ss("epel+x86_64+extra", "d"),
                ss("+x86_64", "d"),
            ],
            repository_redirect_cache: vec![ss("a", "b"), ss("a", "c")],
            country_continent_redirect_cache: vec![
                ss("il", "eu"),
                ss("IL", "AS"),
                ss("XX", "EU"),
                ss("DE", "Europe"),
            ],
            disabled_repository_cache: vec![
                StringBoolMap {
                    key: "x".into(),
                    value: false,
                },
                StringBoolMap {
                    key: "x".into(),
                    value: true,
                },
                StringBoolMap {
                    key: "y".into(),
                    value: true,
                },
                // One entry per arch, as MirrorManager writes them: no warning.
                StringBoolMap {
                    key: "y".into(),
                    value: true,
                },
            ],
            host_country_cache: vec![
                IntStringMap {
                    key: 1,
                    value: "de".into(),
                },
                IntStringMap {
                    key: 1,
                    value: "fr".into(),
                },
            ],
            ..Default::default()
        };
        let mut raw = from_cache(Path::new("c.proto"), &list).unwrap();
        assert_eq!(raw.base_urls[&10], "https://a/");
        let directories = raw.all_directories().unwrap();
        assert_eq!(directories.len(), 1);
        assert_eq!(directories[0].global, vec![1]);
        assert_eq!(
            raw.repo_arch,
            vec![
                RawRepoArch {
                    repo: "fedora-41".into(),
                    arch: "x86_64".into(),
                    directory: "d".into(),
                },
                RawRepoArch {
                    repo: "epel".into(),
                    arch: "x86_64+extra".into(),
                    directory: "d".into(),
                },
            ]
        );
        assert_eq!(raw.repo_redirects, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(raw.disabled_repos, vec!["y".to_string()]);
        assert_eq!(raw.hosts[&1].country, "DE");
        assert!(raw.hosts[&1].bandwidth.is_none());

        let mut continents: BTreeMap<String, String> = [("IL", "AS"), ("DE", "EU")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        apply_continent_redirects(
            Path::new("c.proto"),
            &list,
            Path::new("cc.csv"),
            &mut continents,
            &mut raw.warnings,
        );
        assert_eq!(continents["IL"], "EU");
        assert_eq!(continents["DE"], "EU");
        assert!(!continents.contains_key("XX"));

        let dup = "duplicate key, the first entry is kept; skipped";
        assert_eq!(
            raw.warnings,
            vec![
                format!("c.proto: HostCountryCache key \"1\": {dup}"),
                format!("c.proto: HCUrlCache key \"10\": {dup}"),
                format!("c.proto: MirrorListCache key \"d\": {dup}"),
                format!("c.proto: RepoArchToDirectoryName key \"fedora-41+x86_64\": {dup}"),
                "c.proto: RepoArchToDirectoryName key \"noplus\": not of the form `repo+arch`; skipped".to_string(),
                "c.proto: RepoArchToDirectoryName key \"+x86_64\": empty repo or arch; skipped".to_string(),
                format!("c.proto: DisabledRepositoryCache key \"x\": {dup}"),
                format!("c.proto: RepositoryRedirectCache key \"a\": {dup}"),
                format!("c.proto: CountryContinentRedirectCache key \"IL\": {dup}"),
                "c.proto: CountryContinentRedirectCache key \"XX\": country not in cc.csv; skipped".to_string(),
                "c.proto: CountryContinentRedirectCache key \"DE\": invalid continent \"EUROPE\"; skipped".to_string(),
            ]
        );
    }

    #[test]
    fn a_cache_without_directories_is_an_error() {
        let list = MirrorList {
            time: 1,
            ..Default::default()
        };
        let err = from_cache(Path::new("c.proto"), &list).unwrap_err();
        assert!(
            err.to_string().contains("MirrorListCache is empty"),
            "{err}"
        );
    }

    #[test]
    fn a_cut_cache_is_refused_unless_cut_between_directories() {
        // Protobuf has no framing: a cut between two MirrorListCache entries is a valid,
        // shorter cache. Every other cut must be refused, and none may panic.
        let path = mm_small().cache;
        let bytes = std::fs::read(&path).unwrap();
        let accepted: Vec<usize> = (0..bytes.len())
            .filter_map(|cut| {
                let list = mm_cache::decode(&path, Bytes::copy_from_slice(&bytes[..cut])).ok()?;
                let raw = from_cache(&path, &list).ok()?;
                Some(raw.all_directories().ok()?.len())
            })
            .collect();
        assert_eq!(accepted, (1..15).collect::<Vec<_>>());
    }

    #[test]
    fn missing_side_file_is_an_error_naming_it() {
        let mut paths = mm_small();
        paths.cccsv = PathBuf::from("/nonexistent/cc.csv");
        let err = read(&paths).unwrap_err();
        assert_eq!(err.file, PathBuf::from("/nonexistent/cc.csv"));
        let mut paths = mm_small();
        paths.global_netblocks = paths.geoip.clone();
        let err = read(&paths).unwrap_err();
        assert_eq!(err.file, paths.geoip);
    }
}
