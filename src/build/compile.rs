//! Validation and compilation: [`RawData`] in, a dense, sorted [`SnapshotData`] out.
//!
//! This is where source ids become dense indices, lists that requests search get sorted, and
//! data that would break a request at serve time is reported (decision 9): a repo/arch that
//! names a missing directory, a host without bandwidth, a URL id that does not exist. Problems
//! that lose nothing a client could use are warnings; a reference to a host that does not
//! exist is an error, because the data is then not what its producer meant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use super::host_marks::HostMarks;
use super::id_index::IdIndex;
use crate::inputs::first_wins::FirstWins;
use crate::inputs::raw::{
    DecodeDirectory, DeferredDirectories, FileDetails, RawData, RawDirectory, RawGeo, RawHost,
    RawRepoArch, DECODE_THREADS,
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
    // Only directories still encoded pay for threads: decoding them is most of the work, while
    // compiling decoded ones on another thread is slower than on this one (`build/compile`
    // against `build/compile_one_thread`: 1.12x; the encoded ones 0.81x).
    let threads = directory_threads(raw.deferred_len());
    compile_with(raw, source_kind, built_at, threads)
}

/// [`compile`] with the directories compiled on `threads` threads (at least one). The output,
/// warnings and errors included, is the same for any count.
pub fn compile_with(
    raw: RawData,
    source_kind: &str,
    built_at: u64,
    threads: usize,
) -> Result<Compiled, CompileError> {
    let RawData {
        mut file_details,
        mut warnings,
        ..
    } = raw;

    let hosts = HostTable::build(raw.hosts, &mut warnings);
    let urls = UrlTable::build(raw.base_urls);
    let directories = compile_directories(
        raw.directories,
        raw.deferred,
        (&hosts, &urls),
        &mut file_details,
        &mut warnings,
        threads,
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
        }
    }

    /// Appends to `urls` the dense indices of `url_ids` as host `host_id` (index `host`) lists
    /// them in directory `dir`; an unusable or missing URL is skipped with a warning.
    fn resolve(
        &self,
        dir: &str,
        (host_id, host): (i64, HostIdx),
        url_ids: &[i64],
        hosts: &HostTable,
        notes: &mut Notes,
        urls: &mut Vec<u32>,
    ) {
        for url_id in url_ids {
            match self.index.get(*url_id) {
                Some(u) => urls.push(u),
                None => match self.unusable.get(url_id) {
                    Some((url, why)) => notes.name_once((host_id, *url_id), || {
                        let host_name = hosts
                            .hosts
                            .get(host as usize)
                            .map_or("?", |h: &Host| h.name.as_str());
                        format!("host {host_name:?} ({host_id}): base URL {url:?} {why}; skipped")
                    }),
                    None => notes.list.push(format!(
                        "directory {dir:?}: host {host_id} names URL id {url_id}, which does not exist; skipped"
                    )),
                },
            }
        }
    }
}

/// Directories, sorted by name; the first of two with one name wins. Deferred ones are decoded
/// one at a time per thread, each into one `RawDirectory` reused for all. File details are taken
/// out of `file_details` by directory name; those left over name no directory and are warned
/// about.
///
/// With `threads` above one, the sorted directories are cut into that many runs, compiled
/// side by side, and joined in order: decoding and compiling are nearly all of a drop-in
/// start, and each directory needs only the read-only host and URL tables. Warnings and the
/// first error come out as one thread would give them (decision 25).
fn compile_directories(
    raw_dirs: Vec<RawDirectory>,
    deferred: Option<DeferredDirectories>,
    tables: (&HostTable, &UrlTable),
    file_details: &mut BTreeMap<String, BTreeMap<String, Vec<FileDetails>>>,
    warnings: &mut Vec<String>,
    threads: usize,
) -> Result<Vec<Directory>, CompileError> {
    let mut listed: Vec<(String, Pending<'_>)> = raw_dirs
        .into_iter()
        .map(|dir| (dir.name.clone(), Pending::Decoded(dir)))
        .collect();
    let (names, sizes, decode) = match deferred {
        Some(d) => (d.names, d.sizes, Some(d.decode)),
        None => Default::default(),
    };
    if let Some(decode) = &decode {
        // A size missing (a source that gave none) only makes the runs less even.
        listed.extend(names.into_iter().enumerate().map(|(i, name)| {
            let size = sizes.get(i).copied().unwrap_or(1);
            (name, Pending::Deferred(&**decode, i, size))
        }));
    }
    // Stable, so that of two with one name the first listed comes first (and is kept).
    if !listed.is_sorted_by(|a, b| a.0 < b.0) {
        listed.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut pending: Vec<Job<'_>> = Vec::with_capacity(listed.len());
    for (name, dir) in listed {
        if pending.last().is_some_and(|job| job.name == name) {
            warnings.push(format!("directory {name:?}: listed twice; first kept"));
            continue;
        }
        let files = file_details.remove(&name).unwrap_or_default();
        pending.push(Job { name, dir, files });
    }
    for dir in file_details.keys() {
        warnings.push(format!(
            "file details for directory {dir:?}, which is not in the directory list; skipped"
        ));
    }

    // Runs of about equal work: directories differ in size by orders of magnitude, and
    // names sort the large ones together.
    let total: usize = pending.iter().map(|job| job.dir.size()).sum();
    let share = total.div_ceil(threads.max(1)).max(1);
    let mut runs: Vec<Vec<Job<'_>>> = vec![Vec::new()];
    let mut in_run = 0;
    for job in pending {
        if in_run >= share {
            runs.push(Vec::new());
            in_run = 0;
        }
        in_run += job.dir.size();
        if let Some(run) = runs.last_mut() {
            run.push(job);
        }
    }
    // Each run waits in a slot that its thread takes it from, or this one when no thread
    // could be started (then the runs go one after the other).
    let slots: Vec<Mutex<Option<Vec<Job<'_>>>>> =
        runs.into_iter().map(|run| Mutex::new(Some(run))).collect();
    let take = |slot: &Mutex<Option<Vec<Job<'_>>>>| {
        slot.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .map(|run| compile_run(run, tables))
    };
    let results: Vec<RunResult> = std::thread::scope(|scope| {
        let others: Vec<_> = slots
            .iter()
            .skip(1)
            .map(|slot| {
                std::thread::Builder::new()
                    .name("compile".into())
                    .spawn_scoped(scope, move || take(slot))
                    .ok()
            })
            .collect();
        let mut results: Vec<RunResult> = slots.first().and_then(take).into_iter().collect();
        for (slot, other) in slots.iter().skip(1).zip(others) {
            let result = match other {
                Some(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                None => take(slot),
            };
            results.extend(result);
        }
        results
    });

    let mut directories = Vec::new();
    let mut named_earlier: HashSet<(i64, i64)> = HashSet::new();
    for result in results {
        let (compiled, notes) = result?;
        // A (host, URL) pair an earlier run named is not named again.
        let repeated: HashSet<usize> = notes
            .named
            .iter()
            .filter(|(pair, _)| named_earlier.contains(*pair))
            .map(|(_, at)| *at)
            .collect();
        warnings.extend(
            notes
                .list
                .into_iter()
                .enumerate()
                .filter(|(at, _)| !repeated.contains(at))
                .map(|(_, w)| w),
        );
        named_earlier.extend(notes.named.into_keys());
        if directories.is_empty() {
            directories = compiled;
        } else {
            directories.extend(compiled);
        }
    }
    Ok(directories)
}

/// How many threads compile `directories` encoded directories: one per core up to
/// [`DECODE_THREADS`], and
/// one for small data (threads cost more than a few hundred directories take).
fn directory_threads(directories: usize) -> usize {
    const PER_THREAD: usize = 2_000;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .min(DECODE_THREADS)
        .min(directories / PER_THREAD)
        .max(1)
}

/// A directory as compile first meets it: decoded by its source, or still encoded (the
/// decoder, its place, its encoded size).
enum Pending<'d> {
    Decoded(RawDirectory),
    Deferred(&'d DecodeDirectory, usize, usize),
}

impl Pending<'_> {
    /// About how much work compiling it is, in bytes of its encoded form.
    fn size(&self) -> usize {
        match self {
            Pending::Decoded(dir) => {
                let ids = dir.global.len()
                    + dir
                        .by_country
                        .iter()
                        .map(|(_, ids)| 1 + ids.len())
                        .sum::<usize>()
                    + dir
                        .by_host
                        .iter()
                        .map(|(_, urls)| 1 + urls.len())
                        .sum::<usize>();
                // About what an id takes encoded.
                dir.name.len() + 3 * ids
            }
            Pending::Deferred(_, _, size) => *size,
        }
    }
}

/// One directory to compile, with its file details.
struct Job<'d> {
    name: String,
    dir: Pending<'d>,
    files: BTreeMap<String, Vec<FileDetails>>,
}

/// A run's directories in order and what it noted, or its first error.
type RunResult = Result<(Vec<Directory>, Notes), CompileError>;

/// Compiles one run of directories, in order, stopping at the first error.
fn compile_run(run: Vec<Job<'_>>, (hosts, urls): (&HostTable, &UrlTable)) -> RunResult {
    let mut directories = Vec::with_capacity(run.len());
    let mut notes = Notes::default();
    let mut marks = Marks {
        carried: HostMarks::new(hosts.hosts.len()),
        listed: HostMarks::new(hosts.hosts.len()),
    };
    let mut decoded = RawDirectory::default();
    for Job { name, dir, files } in run {
        let dir = match dir {
            Pending::Decoded(dir) => {
                decoded = dir;
                &decoded
            }
            Pending::Deferred(decode, i, _) => {
                decode(i, &mut decoded)?;
                &decoded
            }
        };
        directories.push(compile_directory(
            name, dir, files, hosts, urls, &mut marks, &mut notes,
        )?);
    }
    Ok((directories, notes))
}

/// The warnings one run of directories gathers, in order, and the (host id, URL id) pairs it
/// named as unusable, each with the place of its warning in `list`.
#[derive(Default)]
struct Notes {
    list: Vec<String>,
    named: HashMap<(i64, i64), usize>,
}

impl Notes {
    /// Adds the warning `say` makes unless `pair` was named already.
    fn name_once(&mut self, pair: (i64, i64), say: impl FnOnce() -> String) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.named.entry(pair) {
            slot.insert(self.list.len());
            self.list.push(say());
        }
    }
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
    urls: &UrlTable,
    marks: &mut Marks,
    notes: &mut Notes,
) -> Result<Directory, CompileError> {
    let (mut by_host, host_urls) =
        compile_by_host(&name, &dir.by_host, hosts, urls, &mut marks.carried, notes)?;
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
    let order = country_order(&codes);
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

/// The places of `codes` in code order, equal codes in source order. MirrorManager's cache
/// lists a directory's countries in no order, and 0.7 million lists are sorted in a drop-in
/// start: integer keys when every code has one, strings otherwise.
fn country_order(codes: &[CountryCode]) -> Vec<usize> {
    let keys: Option<Vec<(u128, usize)>> = codes
        .iter()
        .enumerate()
        .map(|(at, c)| c.order_key().map(|k| (k, at)))
        .collect();
    match keys {
        Some(mut keys) => {
            // Unstable is stable here: no two entries have the same place.
            if !keys.is_sorted() {
                keys.sort_unstable();
            }
            keys.into_iter().map(|(_, at)| at).collect()
        }
        None => {
            let mut order: Vec<usize> = (0..codes.len()).collect();
            order.sort_by(|&a, &b| codes[a].as_str().cmp(codes[b].as_str()));
            order
        }
    }
}

/// A directory's `ByHostId` table: each host with the run of its URLs' dense indices in the
/// returned list, sorted by host; a host listed twice keeps its first entry. On return
/// `carried` marks each host with its place in the table.
fn compile_by_host(
    name: &str,
    raw_by_host: &[(i64, Vec<i64>)],
    hosts: &HostTable,
    urls: &UrlTable,
    carried: &mut HostMarks,
    notes: &mut Notes,
) -> Result<(Vec<HostUrls>, Vec<u32>), CompileError> {
    let mut by_host: Vec<HostUrls> = Vec::with_capacity(raw_by_host.len());
    let mut listed: Vec<u32> = Vec::with_capacity(raw_by_host.iter().map(|(_, u)| u.len()).sum());
    carried.clear();
    for (host_id, url_ids) in raw_by_host {
        let host = hosts.of(name, "ByHostId", *host_id)?;
        let start = listed.len();
        urls.resolve(name, (*host_id, host), url_ids, hosts, notes, &mut listed);
        if !carried.mark(host, 0) {
            notes.list.push(format!(
                "directory {name:?}: host {host_id} listed twice in ByHostId; first kept"
            ));
            listed.truncate(start);
            continue;
        }
        if listed.len() - start > usize::from(u16::MAX) {
            notes.list.push(format!(
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
    use super::{check_base_url, compile_with, country_order, CompileError};
    use crate::inputs::raw::{FileDetails, RawData, RawDirectory, RawHost};
    use crate::snapshot::bundle::encode_body;
    use crate::snapshot::model::CountryCode;

    /// Forty directories over three hosts, with what warns on the way: host 1's URL 11 is
    /// unusable and named in many directories (in every run), directory 7 names a URL id that
    /// does not exist, directory 20 is listed twice, and a file detail names no directory.
    /// The directories `unknown_host_at` name, in their global lists, a host no table has.
    fn raw(unknown_host_at: &[usize]) -> RawData {
        let mut raw = RawData::default();
        for id in 1..=3 {
            raw.hosts.insert(
                id,
                RawHost {
                    country: ["DE", "us", "JP"][id as usize - 1].into(),
                    bandwidth: Some(id * 10),
                    ..Default::default()
                },
            );
        }
        raw.base_urls.insert(10, "https://one.example/pub".into());
        raw.base_urls.insert(11, "one.example/no-scheme".into());
        raw.base_urls.insert(20, "https://two.example/pub".into());
        raw.base_urls.insert(30, "http://three.example/pub".into());
        // Out of name order, as MirrorManager's cache lists them.
        for i in (0..40).rev() {
            let mut by_host = vec![(1, vec![10, 11]), (2, vec![20]), (3, vec![30])];
            if i == 7 {
                by_host[1].1.push(99);
            }
            by_host.truncate(1 + i % 3);
            let mut global: Vec<i64> = by_host.iter().map(|(h, _)| *h).collect();
            if unknown_host_at.contains(&i) {
                global.push(77);
            }
            let dir = RawDirectory {
                name: format!("pub/dir{i:02}"),
                subpath: format!("dir{i:02}"),
                global,
                by_country: vec![("us".into(), vec![2]), ("DE".into(), vec![1])],
                by_host,
            };
            if i == 20 {
                raw.directories.push(dir.clone());
            }
            raw.directories.push(dir);
        }
        for dir in ["pub/dir05", "pub/nowhere"] {
            raw.file_details.entry(dir.into()).or_default().insert(
                "repomd.xml".into(),
                vec![FileDetails {
                    size: 1,
                    ..Default::default()
                }],
            );
        }
        raw
    }

    #[test]
    fn directories_compile_the_same_on_any_number_of_threads() {
        let one = compile_with(raw(&[]), "test", 0, 1).unwrap();
        assert_eq!(one.data.directories.len(), 40);
        let named = |w: &Vec<String>| w.iter().filter(|w| w.contains("no-scheme")).count();
        assert_eq!(named(&one.warnings), 1, "{:?}", one.warnings);
        assert!(one.warnings.iter().any(|w| w.contains("URL id 99")));
        assert!(one.warnings.iter().any(|w| w.contains("listed twice")));
        assert!(one.warnings.iter().any(|w| w.contains("pub/nowhere")));
        for threads in [2, 3, 7, 64] {
            let many = compile_with(raw(&[]), "test", 0, threads).unwrap();
            assert_eq!(many.warnings, one.warnings, "{threads} threads");
            assert_eq!(
                encode_body(&many.data).unwrap().as_slice(),
                encode_body(&one.data).unwrap().as_slice(),
                "{threads} threads"
            );
        }
        // The first bad directory in name order is the one reported, whichever run has it.
        for bad in [[2, 3], [21, 39], [39, 39], [0, 30]] {
            let at = bad[0];
            let message = |threads| match compile_with(raw(&bad), "test", 0, threads) {
                Err(e @ CompileError::UnknownHost { .. }) => e.to_string(),
                other => panic!(
                    "expected an unknown host, got {:?}",
                    other.map(|c| c.warnings)
                ),
            };
            assert!(
                message(1).contains(&format!("pub/dir{at:02}")),
                "{}",
                message(1)
            );
            for threads in [2, 3, 40] {
                assert_eq!(message(threads), message(1), "{threads} threads, at {at}");
            }
        }
    }

    #[test]
    fn countries_are_ordered_as_their_codes_with_source_order_among_equals() {
        let long = "a country code longer than fourteen bytes";
        for list in [
            vec![
                "US",
                "DE",
                "de",
                "AT",
                "DE",
                "A",
                "A\0",
                "A\0\0",
                "",
                "ZZZZZZZZZZZZZZ",
            ],
            vec!["US", long, "DE", "US", "AT"],
            vec![],
            vec!["AT", "BE", "BE", "CZ"],
        ] {
            let codes: Vec<CountryCode> = list.iter().map(|c| CountryCode::from(*c)).collect();
            let mut expected: Vec<usize> = (0..list.len()).collect();
            expected.sort_by(|&a, &b| list[a].cmp(list[b]));
            assert_eq!(country_order(&codes), expected, "{list:?}");
        }
    }

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
