//! Validation and compilation: [`RawData`] in, a dense, sorted [`SnapshotData`] out.
//!
//! This is where source ids become dense indices, lists that requests search get sorted, and
//! data that would break a request at serve time is reported (decision 9): a repo/arch that
//! names a missing directory, a host without bandwidth, a URL id that does not exist. Problems
//! that lose nothing a client could use are warnings; a reference to a host that does not
//! exist is an error, because the data is then not what its producer meant.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::host_marks::HostMarks;
use super::id_index::IdIndex;
use crate::inputs::first_wins::FirstWins;
use crate::inputs::raw::{
    DeferredDirectories, FileDetails, RawData, RawDirectory, RawGeo, RawHost, RawRepoArch,
};
use crate::inputs::InputError;
use crate::snapshot::model::{
    AsnHosts, Continent, CountryCode, CountryContinent, CountryHosts, Directory, FileEntry, Geo,
    Host, HostIdx, HostUrls, Meta, Net, NetAsn, NetCountry, NetHosts, RepoArch, RepoRedirect,
    SnapshotData,
};

/// Why a build was refused.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("directory {directory:?}: {list} names host {host}, which no host table describes")]
    UnknownHost {
        directory: String,
        list: &'static str,
        host: i64,
    },
    #[error("{0}")]
    Invalid(String),
    /// A directory left encoded by its source did not decode.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// The compiled data and the warnings gathered on the way (the sources' and compile's own).
pub struct Compiled {
    pub data: SnapshotData,
    pub warnings: Vec<String>,
}

/// Compiles raw input into snapshot data. `source_kind` is recorded for `inspect`;
/// `built_at` is the build time in Unix seconds.
///
/// The steps run in a fixed order, so the warnings come out in the same order for the same
/// input: hosts, base URLs, directories, repo/arch and redirects, netblocks and ASNs, countries,
/// geo, and finally the meta record (which counts the warnings).
pub fn compile(raw: RawData, source_kind: &str, built_at: u64) -> Result<Compiled, CompileError> {
    let RawData {
        mut file_details,
        mut warnings,
        ..
    } = raw;

    let hosts = HostTable::build(raw.hosts, &mut warnings);
    let mut urls = UrlTable::build(raw.base_urls);
    let directories = compile_directories(
        raw.directories,
        raw.deferred,
        &hosts,
        &mut urls,
        &mut file_details,
        &mut warnings,
    )?;
    let (repo_arch, repo_listing) = compile_repo_arch(raw.repo_arch, &directories, &mut warnings);
    let repo_redirects = compile_redirects(raw.repo_redirects, &mut warnings);
    let mut disabled_repos = raw.disabled_repos;
    disabled_repos.sort();
    disabled_repos.dedup();

    // Host netblocks and ASNs: one entry per network (or ASN), hosts merged in order.
    let host_netblocks = merge_host_lists(
        raw.host_netblocks
            .into_iter()
            .map(|(net, ids)| (NetKey::from(net), ids)),
        &hosts,
        "(host netblocks)",
        "HostNetblockCache",
    )?
    .into_iter()
    .map(|(k, hosts)| NetHosts { net: k.0, hosts })
    .collect();
    let asn_hosts = merge_host_lists(raw.asn_hosts, &hosts, "(host ASNs)", "HostAsnCache")?
        .into_iter()
        .map(|(asn, hosts)| AsnHosts { asn, hosts })
        .collect();
    let global_asn = compile_global_asn(raw.global_asn);
    let netblock_countries = net_countries(raw.netblock_countries);
    let (countries, continents) = compile_countries(&raw.country_continent);
    let geo = match raw.geo {
        RawGeo::None => Geo::None,
        RawGeo::Mmdb(bytes) => Geo::Mmdb(bytes),
        RawGeo::Networks(list) => Geo::Networks(net_countries(list)),
    };

    let data = SnapshotData {
        meta: Meta {
            generated_at: raw.generated_at,
            built_at,
            source_kind: source_kind.to_string(),
            inputs: raw.inputs,
            warnings: warnings.len() as u64,
        },
        hosts: hosts.hosts,
        base_urls: urls.base_urls,
        directories,
        repo_arch,
        repo_redirects,
        disabled_repos,
        repo_listing,
        host_netblocks,
        global_asn,
        asn_hosts,
        netblock_countries,
        countries,
        continents,
        geo,
    };
    Ok(Compiled { data, warnings })
}

/// The hosts with dense indices in external-id order, and the map from external id to index.
struct HostTable {
    hosts: Vec<Host>,
    index: IdIndex,
}

impl HostTable {
    /// Gives every host its dense index; a host without a usable bandwidth gets weight 1 (and a
    /// warning), so that selection can still weigh it.
    fn build(raw_hosts: BTreeMap<i64, RawHost>, warnings: &mut Vec<String>) -> HostTable {
        let mut ids = Vec::with_capacity(raw_hosts.len());
        let mut hosts = Vec::with_capacity(raw_hosts.len());
        for (external_id, raw_host) in raw_hosts {
            let weight = match raw_host.bandwidth {
                Some(b) if b >= 1 => u32::try_from(b).unwrap_or(u32::MAX),
                Some(b) => {
                    warnings.push(format!(
                        "host {external_id}: bandwidth {b} < 1; weight 1 used"
                    ));
                    1
                }
                None => {
                    warnings.push(format!("host {external_id}: no bandwidth; weight 1 used"));
                    1
                }
            };
            let mut allowed: Vec<String> = raw_host
                .allowed_countries
                .iter()
                .map(|c| c.to_ascii_uppercase())
                .collect();
            allowed.sort();
            allowed.dedup();
            ids.push((external_id, index_of(hosts.len())));
            hosts.push(Host {
                external_id,
                name: raw_host.name,
                country: raw_host.country.to_ascii_uppercase(),
                weight,
                allowed_countries: allowed,
                families: raw_host.families,
            });
        }
        HostTable {
            hosts,
            index: IdIndex::new(&ids),
        }
    }

    /// The dense index of host `id`, or the error naming the `directory` and `list` that
    /// referred to a host no host table describes.
    fn of(&self, directory: &str, list: &'static str, id: i64) -> Result<HostIdx, CompileError> {
        self.index.get(id).ok_or_else(|| CompileError::UnknownHost {
            directory: directory.to_string(),
            list,
            host: id,
        })
    }
}

/// The base URLs with dense indices in external-id order.
///
/// One that could not stand in a `Location` header is left out, and named (with the host that
/// lists it) once per host and URL when a directory refers to it, where the host is known.
struct UrlTable {
    base_urls: Vec<String>,
    index: IdIndex,
    unusable: HashMap<i64, (String, &'static str)>,
    /// (host id, URL id) pairs already warned about.
    named: HashSet<(i64, i64)>,
}

impl UrlTable {
    fn build(raw_urls: BTreeMap<i64, String>) -> UrlTable {
        let mut ids = Vec::with_capacity(raw_urls.len());
        let mut base_urls = Vec::with_capacity(raw_urls.len());
        let mut unusable = HashMap::new();
        for (id, url) in raw_urls {
            if let Err(why) = check_base_url(&url) {
                unusable.insert(id, (url, why));
                continue;
            }
            ids.push((id, index_of(base_urls.len())));
            base_urls.push(url);
        }
        UrlTable {
            base_urls,
            index: IdIndex::new(&ids),
            unusable,
            named: HashSet::new(),
        }
    }

    /// Appends to `urls` the dense indices of `url_ids` as host `host_id` (index `host`) lists
    /// them in directory `dir`; an unusable or missing URL is skipped with a warning.
    fn resolve(
        &mut self,
        dir: &str,
        (host_id, host): (i64, HostIdx),
        url_ids: &[i64],
        hosts: &HostTable,
        warnings: &mut Vec<String>,
        urls: &mut Vec<u32>,
    ) {
        for url_id in url_ids {
            match self.index.get(*url_id) {
                Some(u) => urls.push(u),
                None if self.unusable.contains_key(url_id) => {
                    if self.named.insert((host_id, *url_id)) {
                        let (url, why) = &self.unusable[url_id];
                        let host_name = hosts
                            .hosts
                            .get(host as usize)
                            .map_or("?", |h: &Host| h.name.as_str());
                        warnings.push(format!(
                            "host {host_name:?} ({host_id}): base URL {url:?} {why}; skipped"
                        ));
                    }
                }
                None => warnings.push(format!(
                    "directory {dir:?}: host {host_id} names URL id {url_id}, which does not exist; skipped"
                )),
            }
        }
    }
}

/// Directories, sorted by name; the first of two with one name wins. Deferred ones are decoded
/// one at a time, into one `RawDirectory` reused for all. File details are taken out of `file_details` by
/// directory name; those left over name no directory and are warned about.
fn compile_directories(
    raw_dirs: Vec<RawDirectory>,
    deferred: Option<DeferredDirectories>,
    hosts: &HostTable,
    urls: &mut UrlTable,
    file_details: &mut BTreeMap<String, BTreeMap<String, Vec<FileDetails>>>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Directory>, CompileError> {
    enum Pending<'d> {
        Decoded(RawDirectory),
        Deferred(&'d DeferredDirectories, usize),
    }
    let mut listed: Vec<(String, Pending<'_>)> = raw_dirs
        .into_iter()
        .map(|dir| (dir.name.clone(), Pending::Decoded(dir)))
        .collect();
    if let Some(d) = &deferred {
        listed.extend(
            d.names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), Pending::Deferred(d, i))),
        );
    }
    // Stable, so that of two with one name the first listed comes first (and is kept).
    if !listed.is_sorted_by(|a, b| a.0 < b.0) {
        listed.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut pending = Vec::with_capacity(listed.len());
    for (name, dir) in listed {
        if pending
            .last()
            .is_some_and(|(kept, _): &(String, _)| *kept == name)
        {
            warnings.push(format!("directory {name:?}: listed twice; first kept"));
            continue;
        }
        pending.push((name, dir));
    }
    let mut directories = Vec::with_capacity(pending.len());
    let mut marks = Marks {
        carried: HostMarks::new(hosts.hosts.len()),
        listed: HostMarks::new(hosts.hosts.len()),
    };
    let mut decoded = RawDirectory::default();
    for (name, dir) in pending {
        let dir = match dir {
            Pending::Decoded(dir) => {
                decoded = dir;
                &decoded
            }
            Pending::Deferred(d, i) => {
                (d.decode)(i, &mut decoded)?;
                &decoded
            }
        };
        let files = file_details.remove(&name).unwrap_or_default();
        directories.push(compile_directory(
            name, dir, files, hosts, urls, &mut marks, warnings,
        )?);
    }
    for dir in file_details.keys() {
        warnings.push(format!(
            "file details for directory {dir:?}, which is not in the directory list; skipped"
        ));
    }
    Ok(directories)
}

/// One directory: its hosts with their URLs (sorted by host), and its global and per-country
/// lists.
///
/// A public host that has no URLs here could never be answered; keeping it out of the lists
/// means selection counts only hosts that can serve (as the production server counts after
/// building URLs).
fn compile_directory(
    name: String,
    dir: &RawDirectory,
    files: BTreeMap<String, Vec<FileDetails>>,
    hosts: &HostTable,
    urls: &mut UrlTable,
    marks: &mut Marks,
    warnings: &mut Vec<String>,
) -> Result<Directory, CompileError> {
    let (mut by_host, host_urls) = compile_by_host(
        &name,
        &dir.by_host,
        hosts,
        urls,
        &mut marks.carried,
        warnings,
    )?;
    let Marks { carried, listed } = marks;
    let mut carried_list =
        |ids: &[i64], list: &'static str| -> Result<Vec<HostIdx>, CompileError> {
            listed.clear();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let h = hosts.of(&name, list, *id)?;
                if carried.get(h).is_some() && listed.mark(h, 0) {
                    out.push(h);
                }
            }
            Ok(out)
        };

    let global = carried_list(&dir.global, "Global")?;
    for h in &global {
        if let Some(at) = carried.get(*h) {
            by_host[at as usize].public = true;
        }
    }
    let (by_country, country_hosts) = compile_by_country(&name, dir, hosts, carried, listed)?;
    let files = files
        .into_iter()
        .map(|(name, details)| FileEntry { name, details })
        .collect();
    Ok(Directory {
        name,
        subpath: dir.subpath.clone(),
        global,
        by_country,
        country_hosts,
        by_host,
        urls: host_urls,
        files,
    })
}

/// A directory's `ByCountry` lists, sorted by country code (uppercase), each with the run of
/// its hosts in the returned list: the hosts the directory carries, each once. A country
/// listed twice gets one list, the first's hosts and then the second's new ones.
fn compile_by_country(
    name: &str,
    dir: &RawDirectory,
    hosts: &HostTable,
    carried: &HostMarks,
    listed: &mut HostMarks,
) -> Result<(Vec<CountryHosts>, Vec<HostIdx>), CompileError> {
    let codes: Vec<CountryCode> = dir
        .by_country
        .iter()
        .map(|(c, _)| {
            if c.bytes().any(|b| b.is_ascii_lowercase()) {
                CountryCode::from(c.to_ascii_uppercase().as_str())
            } else {
                CountryCode::from(c.as_str())
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..codes.len()).collect();
    // Sources mostly list countries in order already; stable, so equals keep source order.
    if !codes.is_sorted_by(|a, b| a.as_str() < b.as_str()) {
        order.sort_by(|&a, &b| codes[a].as_str().cmp(codes[b].as_str()));
    }
    let mut by_country = Vec::with_capacity(order.len());
    let mut country_hosts =
        Vec::with_capacity(dir.by_country.iter().map(|(_, ids)| ids.len()).sum());
    let mut next = 0;
    while let Some(&first) = order.get(next) {
        let code = &codes[first];
        let start = country_hosts.len();
        listed.clear();
        while let Some(&at) = order.get(next).filter(|&&at| codes[at] == *code) {
            for id in &dir.by_country[at].1 {
                let h = hosts.of(name, "ByCountry", *id)?;
                if carried.get(h).is_some() && listed.mark(h, 0) {
                    country_hosts.push(h);
                }
            }
            next += 1;
        }
        by_country.push(CountryHosts {
            country: code.clone(),
            hosts_at: index_of(start),
            hosts_len: index_of(country_hosts.len() - start),
        });
    }
    Ok((by_country, country_hosts))
}

/// A directory's `ByHostId` table: each host with the run of its URLs' dense indices in the
/// returned list, sorted by host; a host listed twice keeps its first entry. On return
/// `carried` marks each host with its place in the table.
fn compile_by_host(
    name: &str,
    raw_by_host: &[(i64, Vec<i64>)],
    hosts: &HostTable,
    urls: &mut UrlTable,
    carried: &mut HostMarks,
    warnings: &mut Vec<String>,
) -> Result<(Vec<HostUrls>, Vec<u32>), CompileError> {
    let mut by_host: Vec<HostUrls> = Vec::with_capacity(raw_by_host.len());
    let mut listed: Vec<u32> = Vec::with_capacity(raw_by_host.iter().map(|(_, u)| u.len()).sum());
    carried.clear();
    for (host_id, url_ids) in raw_by_host {
        let host = hosts.of(name, "ByHostId", *host_id)?;
        let start = listed.len();
        urls.resolve(
            name,
            (*host_id, host),
            url_ids,
            hosts,
            warnings,
            &mut listed,
        );
        if !carried.mark(host, 0) {
            warnings.push(format!(
                "directory {name:?}: host {host_id} listed twice in ByHostId; first kept"
            ));
            listed.truncate(start);
            continue;
        }
        if listed.len() - start > usize::from(u16::MAX) {
            warnings.push(format!(
                "directory {name:?}: host {host_id} lists {} URLs; the first {} kept",
                listed.len() - start,
                u16::MAX
            ));
            listed.truncate(start + usize::from(u16::MAX));
        }
        let len = listed.len() - start;
        by_host.push(HostUrls::at(host, false, &listed[..start], len));
    }
    if !by_host.is_sorted_by_key(|h| h.host) {
        by_host.sort_by_key(|h| h.host);
    }
    carried.clear();
    for (at, h) in by_host.iter().enumerate() {
        carried.mark(h.host, index_of(at));
    }
    Ok((by_host, listed))
}

/// The marks one directory's compilation uses, made once for all directories.
struct Marks {
    /// Hosts the directory carries, with their place in its `by_host`.
    carried: HostMarks,
    /// Hosts already in the list being built.
    listed: HostMarks,
}

/// Repo/arch pairs, sorted by their `repo+arch` key, with the `repodata` directory found for
/// each; and the `# repo=…&arch=…` listing that an unknown-repo answer prints.
fn compile_repo_arch(
    raw_repo_arch: Vec<RawRepoArch>,
    directories: &[Directory],
    warnings: &mut Vec<String>,
) -> (Vec<RepoArch>, String) {
    let dir_index = |name: &str| {
        directories
            .binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .map(index_of)
    };
    let mut repo_arch: Vec<RepoArch> = Vec::with_capacity(raw_repo_arch.len());
    for pair in raw_repo_arch {
        let key = format!("{}+{}", pair.repo, pair.arch);
        let Some(directory) = dir_index(&pair.directory) else {
            warnings.push(format!(
                "repo/arch {key:?}: directory {:?} is not in the directory list; skipped",
                pair.directory
            ));
            continue;
        };
        let repodata = if pair.directory.ends_with("/repodata") {
            Some(directory)
        } else {
            dir_index(&format!("{}/repodata", pair.directory))
        };
        repo_arch.push(RepoArch {
            key,
            directory,
            repodata,
        });
    }
    repo_arch.sort_by(|a, b| a.key.cmp(&b.key));
    dedup_sorted(&mut repo_arch, |e| e.key.clone(), "repo/arch", warnings);
    let repo_listing = repo_arch
        .iter()
        .filter_map(|e| {
            let mut parts = e.key.split('+');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(repo), Some(arch), None) => Some(format!("# repo={repo}&arch={arch}\n")),
                _ => None,
            }
        })
        .collect();
    (repo_arch, repo_listing)
}

/// Repo redirects sorted by the repo they redirect from; empty ends are dropped.
fn compile_redirects(
    raw_redirects: Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Vec<RepoRedirect> {
    let mut repo_redirects: Vec<RepoRedirect> = raw_redirects
        .into_iter()
        .filter(|(from, to)| !from.is_empty() && !to.is_empty())
        .map(|(from, to)| RepoRedirect { from, to })
        .collect();
    repo_redirects.sort_by(|a, b| a.from.cmp(&b.from));
    dedup_sorted(
        &mut repo_redirects,
        |e| e.from.clone(),
        "repo redirect",
        warnings,
    );
    repo_redirects
}

/// Host lists keyed by network or ASN: one entry per key, the hosts of repeated keys merged in
/// order. `what` and `list` name the table in the error for an unknown host.
fn merge_host_lists<K: Ord>(
    entries: impl IntoIterator<Item = (K, Vec<i64>)>,
    hosts: &HostTable,
    what: &str,
    list: &'static str,
) -> Result<BTreeMap<K, Vec<HostIdx>>, CompileError> {
    let mut map: BTreeMap<K, Vec<HostIdx>> = BTreeMap::new();
    for (key, ids) in entries {
        let merged = map.entry(key).or_default();
        for id in ids {
            push_unique(merged, hosts.of(what, list, id)?);
        }
    }
    Ok(map)
}

/// The global network-to-ASN table; the first ASN listed for a network wins.
fn compile_global_asn(raw_global_asn: Vec<(ipnet::IpNet, u32)>) -> Vec<NetAsn> {
    first_per_net(raw_global_asn)
        .into_iter()
        .map(|(net, asn)| NetAsn { net, asn })
        .collect()
}

/// `list` sorted by network (see [`NetKey`]), the first listed entry of each network kept. A
/// stable sort and a pass, rather than a map: the global table has tens of thousands.
fn first_per_net<T>(list: Vec<(ipnet::IpNet, T)>) -> Vec<(Net, T)> {
    let mut keyed: Vec<(NetKey, T)> = list
        .into_iter()
        .map(|(net, v)| (NetKey::from(net), v))
        .collect();
    if !keyed.is_sorted_by(|a, b| a.0 < b.0) {
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
    }
    keyed.dedup_by(|later, first| later.0 == first.0);
    keyed.into_iter().map(|(k, v)| (k.0, v)).collect()
}

/// The country-to-continent table and its inverse, each continent with its member countries.
fn compile_countries(
    country_continent: &BTreeMap<String, String>,
) -> (Vec<CountryContinent>, Vec<Continent>) {
    let countries = country_continent
        .iter()
        .map(|(c, k)| CountryContinent {
            country: c.clone(),
            continent: k.clone(),
        })
        .collect();
    let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (country, continent) in country_continent {
        members
            .entry(continent.as_str())
            .or_default()
            .push(country.clone());
    }
    let continents = members
        .into_iter()
        .map(|(code, members)| Continent {
            code: code.to_string(),
            members,
        })
        .collect();
    (countries, continents)
}

/// Appends `h` unless the list already has it (lists keep their first-seen order).
fn push_unique(list: &mut Vec<HostIdx>, h: HostIdx) {
    if !list.contains(&h) {
        list.push(h);
    }
}

/// Networks sorted so that equal networks are adjacent and the first listed one wins.
fn net_countries(list: Vec<(ipnet::IpNet, String)>) -> Vec<NetCountry> {
    first_per_net(list)
        .into_iter()
        .map(|(net, country)| NetCountry {
            net,
            country: country.to_ascii_uppercase(),
        })
        .collect()
}

/// Orders networks by family, address, then length, for stable output.
#[derive(PartialEq, Eq)]
struct NetKey(Net);

impl From<ipnet::IpNet> for NetKey {
    fn from(net: ipnet::IpNet) -> Self {
        NetKey(Net::from(net.trunc()))
    }
}

impl Ord for NetKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.v6, self.0.bits, self.0.len).cmp(&(other.0.v6, other.0.bits, other.0.len))
    }
}

impl PartialOrd for NetKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Drops later entries whose key repeats (in a list sorted by key, with source order kept).
fn dedup_sorted<T>(
    list: &mut Vec<T>,
    key: impl Fn(&T) -> String,
    what: &str,
    warnings: &mut Vec<String>,
) {
    let mut seen = FirstWins::new();
    list.retain(|item| {
        seen.admit(key(item), |k| {
            warnings.push(format!("{what} {k:?}: listed twice; first kept"))
        })
    });
}

/// Index of the next element; data with more than 4 billion items is not a mirror list.
fn index_of(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Why `url` cannot be a mirror's base URL, if it cannot: every URL of a host ends up in a
/// redirect's `Location` header as well as in bodies, so it must be an absolute URL made of
/// visible ASCII (RFC 3986 has no room for spaces, controls or raw non-ASCII bytes).
fn check_base_url(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("has no scheme (expected e.g. https://host/path)");
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("has a malformed scheme");
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host");
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("has a space, a control character or a non-ASCII byte, which a Location header cannot carry");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_base_url;

    #[test]
    fn base_urls_must_fit_a_location_header() {
        for good in [
            "https://mirror.example.org/pub/fedora/linux",
            "rsync://mirror.example.org/fedora",
            "ftp://[2001:db8::1]/pub",
            "http://m.example/~user/a%20b",
        ] {
            assert_eq!(check_base_url(good), Ok(()), "{good}");
        }
        for bad in [
            "mirror.example.org/pub",
            "https://",
            "https:///pub",
            "1http://m.example/",
            "https://m.example/a b",
            "https://m.example/a\r\nSet-Cookie: x",
            "https://m.example/\u{7f}",
            "https://m.example/caf\u{e9}",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad:?} accepted");
        }
    }
}
