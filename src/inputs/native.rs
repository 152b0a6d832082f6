//! Reads the project's own source format: a directory with `mirrors.toml` and three text files.
//!
//! `data/README.md` describes the layout field by field, and `data/` itself is a sample. The
//! result is a [`RawData`] that says what MirrorManager's cache generator would say about the
//! same mirrors, so `compile` and everything after it cannot tell the two sources apart. Hosts
//! get external ids 1..n in file order. Every (host, category, URL) gets a base-URL id in file
//! order. Each directory gets Global / ByCountry / ByHostId lists. Every repository directory
//! also gets its `repodata` directory, because metalink requests look for `repomd.xml` there.
//!
//! [`RawData`]: crate::inputs::raw::RawData

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::lines::{parse_lines, Line};
use super::{continents, netblocks, read_file, InputError};
use crate::inputs::raw::{
    FileDetails, InputDigest, RawData, RawDirectory, RawGeo, RawHost, RawRepoArch,
};

/// Hosts, categories, repositories and file details.
pub const MIRRORS_FILE: &str = "mirrors.toml";
/// The global prefix -> ASN table, `PREFIX/LEN ASN` lines.
pub const ASN_FILE: &str = "asn.txt";
/// MirrorManager's country -> continent table.
pub const CONTINENTS_FILE: &str = "country_continent.csv";
/// Client network -> country, `network,country` lines.
pub const GEO_FILE: &str = "geo.csv";

/// Reads a native source directory. Only `mirrors.toml` must exist; a missing side file leaves
/// its table empty and adds a warning, because an operator may simply have no ASN or geo data.
pub fn read(dir: &Path) -> Result<RawData, InputError> {
    let mut raw = RawData::default();

    let mirrors_path = dir.join(MIRRORS_FILE);
    let bytes = read_file(&mirrors_path)?;
    raw.inputs.push(InputDigest::of(&mirrors_path, &bytes));
    let text = utf8(&mirrors_path, &bytes)?;
    let file: MirrorsFile =
        toml::from_str(text).map_err(|e| toml_error(&mirrors_path, text, &e))?;

    // Side files first: mapping mirrors.toml checks host countries against the continent table.
    if let Some(text) = read_optional(&dir.join(ASN_FILE), &mut raw, "no client matches by ASN")? {
        raw.global_asn = netblocks::parse_global(&dir.join(ASN_FILE), &text, &mut raw.warnings)?;
    }
    if let Some(text) = read_optional(
        &dir.join(CONTINENTS_FILE),
        &mut raw,
        "no continent fallback",
    )? {
        raw.country_continent =
            continents::parse_csv(&dir.join(CONTINENTS_FILE), &text, &mut raw.warnings)?;
    }
    if let Some(text) = read_optional(
        &dir.join(GEO_FILE),
        &mut raw,
        "every client's country is unknown",
    )? {
        raw.geo = RawGeo::Networks(parse_geo(&dir.join(GEO_FILE), &text, &mut raw.warnings)?);
    }

    Mapper {
        loc: Loc {
            path: &mirrors_path,
            text,
        },
        raw: &mut raw,
    }
    .map(file)?;
    Ok(raw)
}

/// Reads `network,country` lines: a CIDR (or bare address) and an ISO country code. Blank lines,
/// `#` comments and a `network,country` header are ignored; other unusable lines are skipped
/// with a warning. Fails if no line is usable, which means the file is not a geo CSV.
pub fn parse_geo(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(IpNet, String)>, InputError> {
    let none_usable = "no usable `network,country` line: is this a geo CSV?";
    parse_lines(path, text, warnings, none_usable, |line, _| {
        let Some((network, country)) = line.split_once(',') else {
            return Line::Skip("expected `network,country`".into());
        };
        let network = network.trim().trim_matches('"');
        let country = country.trim().trim_matches('"');
        let Some(net) = netblocks::parse_net(network) else {
            return if network.eq_ignore_ascii_case("network") {
                Line::Ignore // the header
            } else {
                Line::Skip(format!("invalid network {network:?}"))
            };
        };
        match country_code(country) {
            Some(country) => Line::Item((net, country)),
            None => Line::Skip(format!("invalid country {country:?}")),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The file as written. Names are singular where TOML's `[[name]]` repeats them.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorsFile {
    generated_at: u64,
    #[serde(default)]
    disabled_repos: Vec<Spanned<String>>,
    #[serde(default, rename = "category")]
    categories: Vec<CategoryEntry>,
    #[serde(default, rename = "repo")]
    repos: Vec<RepoEntry>,
    #[serde(default, rename = "repo_redirect")]
    repo_redirects: Vec<RedirectEntry>,
    #[serde(default, rename = "host")]
    hosts: Vec<HostEntry>,
    #[serde(default, rename = "file")]
    files: Vec<FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    name: Spanned<String>,
    topdir: String,
    directories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepoEntry {
    repo: Spanned<String>,
    arch: String,
    category: String,
    directory: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectEntry {
    from: Spanned<String>,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    name: Spanned<String>,
    country: String,
    bandwidth: i64,
    #[serde(default)]
    private: bool,
    asn: Option<u32>,
    #[serde(default)]
    asn_clients: bool,
    #[serde(default)]
    netblocks: Vec<String>,
    #[serde(default)]
    allowed_countries: Vec<String>,
    /// `ipv4`, `ipv6` or both; absent: unknown.
    families: Option<Vec<String>>,
    #[serde(default, rename = "category")]
    categories: Vec<HostCategoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostCategoryEntry {
    name: String,
    urls: Vec<String>,
    /// Absent: the host carries every directory of the category.
    only: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    directory: Spanned<String>,
    name: String,
    versions: Vec<VersionEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionEntry {
    timestamp: u64,
    size: u64,
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    sha512: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// From the file to RawData.

struct Category {
    name: String,
    topdir: String,
    /// Directories relative to `topdir`, in file order.
    dirs: Vec<String>,
    index: HashMap<String, usize>,
    /// Parallel to `dirs`: a repository points here, so its `repodata` directory is needed.
    needs_repodata: Vec<bool>,
}

impl Category {
    fn full_path(&self, rel: &str) -> String {
        join_path(&self.topdir, rel)
    }
}

struct HostPlan {
    id: i64,
    name: String,
    country: String,
    private: bool,
    categories: Vec<HostCategory>,
}

struct HostCategory {
    /// Index into the category list.
    category: usize,
    url_ids: Vec<i64>,
    /// `None`: every directory of the category.
    only: Option<Vec<String>>,
}

/// Where each network and ASN already has its entry in `RawData` (the first host listing it
/// creates it; later ones join it).
#[derive(Default)]
struct NetworkSlots {
    netblock: HashMap<IpNet, usize>,
    asn: HashMap<u32, usize>,
}

/// A `[[host]]`'s `families` as `FAMILY_*` bits (0: absent, unknown).
fn host_families(entry: &HostEntry, err: &impl Fn(String) -> InputError) -> Result<u8, InputError> {
    use crate::snapshot::model::{FAMILY_IPV4, FAMILY_IPV6};
    let Some(list) = &entry.families else {
        return Ok(0);
    };
    if list.is_empty() {
        return Err(err(
            "`families`: empty; list \"ipv4\", \"ipv6\" or both, or leave it out (unknown)".into(),
        ));
    }
    let mut bits = 0;
    for f in list {
        let bit = match f.as_str() {
            "ipv4" => FAMILY_IPV4,
            "ipv6" => FAMILY_IPV6,
            _ => {
                return Err(err(format!(
                    "`families`: {f:?} is not \"ipv4\" or \"ipv6\""
                )))
            }
        };
        if bits & bit != 0 {
            return Err(err(format!("`families`: {f:?} is listed twice")));
        }
        bits |= bit;
    }
    Ok(bits)
}

/// A `[[host]]`'s own fields checked: its country and its allowed countries, upper-cased.
fn host_fields(
    entry: &HostEntry,
    err: &impl Fn(String) -> InputError,
) -> Result<(String, Vec<String>), InputError> {
    let country = country_code(&entry.country).ok_or_else(|| {
        err(format!(
            "`country`: {:?} is not a two-letter country code",
            entry.country
        ))
    })?;
    if entry.bandwidth < 1 {
        return Err(err(format!(
            "`bandwidth`: must be at least 1 (Mbit/s), got {}",
            entry.bandwidth
        )));
    }
    let mut allowed = Vec::new();
    for code in &entry.allowed_countries {
        allowed.push(country_code(code).ok_or_else(|| {
            err(format!(
                "`allowed_countries`: {code:?} is not a two-letter country code"
            ))
        })?);
    }
    if entry.asn_clients && entry.asn.is_none() {
        return Err(err("`asn_clients = true` needs `asn`".into()));
    }
    Ok((country, allowed))
}

/// Where an error in `mirrors.toml` is, kept apart from `Mapper::raw` so error closures can
/// borrow it while `raw` is being filled.
#[derive(Clone, Copy)]
struct Loc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Loc<'_> {
    fn error(self, span: Range<usize>, what: String, message: String) -> InputError {
        InputError::new(
            self.path,
            format!("line {}, {what}", line_of(self.text, span.start)),
            message,
        )
    }
}

struct Mapper<'a> {
    loc: Loc<'a>,
    raw: &'a mut RawData,
}

impl Mapper<'_> {
    fn map(mut self, file: MirrorsFile) -> Result<(), InputError> {
        self.raw.generated_at = file.generated_at;
        let mut categories = self.categories(&file.categories)?;
        let repo_names = self.repos(&file.repos, &mut categories)?;
        let hosts = self.hosts(&file.hosts, &categories)?;
        let directories = self.directories(&categories, &hosts);
        self.files(&file.files, &directories)?;
        self.redirects(&file.repo_redirects, &repo_names)?;
        for name in &file.disabled_repos {
            if !repo_names.contains(name.get_ref().as_str()) {
                self.warn(
                    name.span(),
                    format!("disabled_repos: {:?} names no [[repo]]", name.get_ref()),
                );
            }
            self.raw.disabled_repos.push(name.get_ref().clone());
        }
        Ok(())
    }

    fn categories(&mut self, entries: &[CategoryEntry]) -> Result<Vec<Category>, InputError> {
        let loc = self.loc;
        let mut out: Vec<Category> = Vec::new();
        // Full paths across categories: two categories must not claim one directory, or the
        // directory list would say two different things about it.
        let mut owners: HashMap<String, String> = HashMap::new();
        for entry in entries {
            let name = entry.name.get_ref();
            let err = |message: String| {
                loc.error(entry.name.span(), format!("category {name:?}"), message)
            };
            if name.is_empty() {
                return Err(err("`name` is empty".into()));
            }
            if out.iter().any(|c| &c.name == name) {
                return Err(err(
                    "`name`: a [[category]] with this name comes earlier".into()
                ));
            }
            let topdir = clean_path(&entry.topdir, true).ok_or_else(|| {
                err(format!(
                    "`topdir`: {:?} is not a relative path",
                    entry.topdir
                ))
            })?;
            let mut category = Category {
                name: name.clone(),
                topdir: topdir.to_string(),
                dirs: Vec::new(),
                index: HashMap::new(),
                needs_repodata: Vec::new(),
            };
            for dir in &entry.directories {
                let rel = clean_path(dir, false)
                    .ok_or_else(|| err(format!("`directories`: {dir:?} is not a relative path")))?;
                let full = category.full_path(rel);
                if let Some(owner) = owners.get(&full) {
                    return Err(err(format!(
                        "`directories`: {full:?} is already a directory of category {owner:?}"
                    )));
                }
                owners.insert(full, name.clone());
                category.index.insert(rel.to_string(), category.dirs.len());
                category.dirs.push(rel.to_string());
                category.needs_repodata.push(false);
            }
            out.push(category);
        }
        Ok(out)
    }

    /// Fills `repo_arch` and marks the directories whose `repodata` is needed. Returns the
    /// repository names, for checking redirects and disabled repositories.
    fn repos(
        &mut self,
        entries: &[RepoEntry],
        categories: &mut [Category],
    ) -> Result<HashSet<String>, InputError> {
        let loc = self.loc;
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut names = HashSet::new();
        for entry in entries {
            let repo = entry.repo.get_ref();
            let arch = &entry.arch;
            let err = |message: String| {
                loc.error(
                    entry.repo.span(),
                    format!("repo {repo:?} arch {arch:?}"),
                    message,
                )
            };
            // The cache keys pairs as "repo+arch", and [R] drops keys that do not split in two.
            for (field, value) in [("repo", repo), ("arch", arch)] {
                if value.is_empty() || value.contains('+') || value.contains(char::is_whitespace) {
                    return Err(err(format!(
                        "`{field}`: {value:?} must be non-empty, without `+` or spaces"
                    )));
                }
            }
            if !seen.insert((repo.clone(), arch.clone())) {
                return Err(err("this repo/arch pair is listed twice".into()));
            }
            let Some(category) = categories.iter_mut().find(|c| c.name == entry.category) else {
                return Err(err(format!(
                    "`category`: no [[category]] named {:?}",
                    entry.category
                )));
            };
            let index = clean_path(&entry.directory, false)
                .and_then(|rel| category.index.get(rel).copied())
                .ok_or_else(|| {
                    err(format!(
                        "`directory`: {:?} is not in the `directories` of category {:?}",
                        entry.directory, category.name
                    ))
                })?;
            let rel = &category.dirs[index];
            if rel != "repodata" && !rel.ends_with("/repodata") {
                category.needs_repodata[index] = true;
            }
            self.raw.repo_arch.push(RawRepoArch {
                repo: repo.clone(),
                arch: arch.clone(),
                directory: category.full_path(rel),
            });
            names.insert(repo.clone());
        }
        Ok(names)
    }

    fn hosts(
        &mut self,
        entries: &[HostEntry],
        categories: &[Category],
    ) -> Result<Vec<HostPlan>, InputError> {
        let loc = self.loc;
        let mut plans: Vec<HostPlan> = Vec::new();
        let mut networks = NetworkSlots::default();
        let mut next_url_id: i64 = 1;
        for (position, entry) in entries.iter().enumerate() {
            let id = position as i64 + 1;
            let name = entry.name.get_ref();
            let span = entry.name.span();
            let err = |message: String| loc.error(span.clone(), format!("host {name:?}"), message);
            if name.is_empty() {
                return Err(err("`name` is empty".into()));
            }
            if plans.iter().any(|p| &p.name == name) {
                return Err(err("`name`: a [[host]] with this name comes earlier".into()));
            }
            let (country, allowed) = host_fields(entry, &err)?;
            let families = host_families(entry, &err)?;

            let mut host_categories: Vec<HostCategory> = Vec::new();
            for served in &entry.categories {
                let hc =
                    self.host_category(served, categories, name, span.clone(), &mut next_url_id)?;
                if host_categories.iter().any(|c| c.category == hc.category) {
                    return Err(err(format!("category {:?} is listed twice", served.name)));
                }
                host_categories.push(hc);
            }

            self.host_networks(entry, id, &mut networks, &err)?;
            self.host_warnings(entry, name, span.clone(), &country);
            self.raw.hosts.insert(
                id,
                RawHost {
                    name: name.clone(),
                    country: country.clone(),
                    bandwidth: Some(entry.bandwidth),
                    allowed_countries: allowed,
                    families,
                },
            );
            plans.push(HostPlan {
                id,
                name: name.clone(),
                country,
                private: entry.private,
                categories: host_categories,
            });
        }
        Ok(plans)
    }

    /// A host's netblocks and, with `asn_clients`, its ASN: each network (or ASN) gets one
    /// entry, the first host to list it creates it (`networks` remembers where).
    fn host_networks(
        &mut self,
        entry: &HostEntry,
        id: i64,
        networks: &mut NetworkSlots,
        err: &impl Fn(String) -> InputError,
    ) -> Result<(), InputError> {
        for text in &entry.netblocks {
            let net = netblocks::parse_net(text)
                .ok_or_else(|| err(format!("`netblocks`: {text:?} is not a CIDR or an address")))?;
            // A /0 would make this host every client's preferred mirror: surely a typo.
            if net.prefix_len() == 0 {
                return Err(err(format!("`netblocks`: {text:?} covers every address")));
            }
            let slot = *networks.netblock.entry(net).or_insert_with(|| {
                self.raw.host_netblocks.push((net, Vec::new()));
                self.raw.host_netblocks.len() - 1
            });
            let hosts = &mut self.raw.host_netblocks[slot].1;
            if !hosts.contains(&id) {
                hosts.push(id);
            }
        }
        if let (true, Some(asn)) = (entry.asn_clients, entry.asn) {
            let slot = *networks.asn.entry(asn).or_insert_with(|| {
                self.raw.asn_hosts.push((asn, Vec::new()));
                self.raw.asn_hosts.len() - 1
            });
            self.raw.asn_hosts[slot].1.push(id);
        }
        Ok(())
    }

    /// Warnings for a host that loads but cannot be what was meant: it serves nothing, no
    /// client can reach it, or its country has no continent.
    fn host_warnings(&mut self, entry: &HostEntry, name: &str, span: Range<usize>, country: &str) {
        if entry.categories.is_empty() {
            self.warn(
                span.clone(),
                format!("host {name:?}: no [[host.category]]; it serves nothing"),
            );
        }
        if entry.private && entry.netblocks.is_empty() && !entry.asn_clients {
            self.warn(
                span.clone(),
                format!("host {name:?}: private without `netblocks` or `asn_clients`; no client can reach it"),
            );
        }
        if !self.raw.country_continent.is_empty()
            && !self.raw.country_continent.contains_key(country)
        {
            self.warn(
                span,
                format!("host {name:?}: country {country} is not in {CONTINENTS_FILE}"),
            );
        }
    }

    /// One `[[host.category]]`: its URLs get the next base-URL ids.
    fn host_category(
        &mut self,
        hc: &HostCategoryEntry,
        categories: &[Category],
        host: &str,
        span: Range<usize>,
        next_url_id: &mut i64,
    ) -> Result<HostCategory, InputError> {
        let loc = self.loc;
        let err = |message: String| {
            loc.error(
                span.clone(),
                format!("host {host:?}"),
                format!("category {:?}: {message}", hc.name),
            )
        };
        let Some(category) = categories.iter().position(|c| c.name == hc.name) else {
            return Err(loc.error(
                span.clone(),
                format!("host {host:?}"),
                format!("`category.name`: no [[category]] named {:?}", hc.name),
            ));
        };
        if hc.urls.is_empty() {
            return Err(err("`urls` is empty".into()));
        }
        let url_ids = self.category_urls(&hc.urls, next_url_id, &err)?;
        let only = match &hc.only {
            None => None,
            Some(patterns) if patterns.is_empty() => {
                return Err(err(
                    "`only` is empty; leave it out to carry every directory".into(),
                ))
            }
            Some(patterns) => {
                let dirs = &categories[category].dirs;
                Some(self.only_patterns(patterns, dirs, host, &hc.name, span.clone(), &err)?)
            }
        };
        Ok(HostCategory {
            category,
            url_ids,
            only,
        })
    }

    /// A host category's base URLs, trailing slashes trimmed, each given the next base-URL id.
    fn category_urls(
        &mut self,
        urls: &[String],
        next_url_id: &mut i64,
        err: &impl Fn(String) -> InputError,
    ) -> Result<Vec<i64>, InputError> {
        let mut url_ids = Vec::new();
        let mut seen = HashSet::new();
        for url in urls {
            // Paths are appended as "/subpath", so a trailing slash would double it.
            let url = url.trim().trim_end_matches('/');
            let scheme_ok = url.split_once("://").is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '+')
                    && !rest.is_empty()
            });
            if !scheme_ok {
                return Err(err(format!("`urls`: {url:?} is not `scheme://host/path`")));
            }
            if !seen.insert(url) {
                return Err(err(format!("`urls`: {url:?} is listed twice")));
            }
            self.raw.base_urls.insert(*next_url_id, url.to_string());
            url_ids.push(*next_url_id);
            *next_url_id += 1;
        }
        Ok(url_ids)
    }

    /// A host category's `only` patterns, cleaned; one that matches none of the category's
    /// `dirs` is kept, with a warning (it may be meant for a directory still to come).
    fn only_patterns(
        &mut self,
        patterns: &[String],
        dirs: &[String],
        host: &str,
        category: &str,
        span: Range<usize>,
        err: &impl Fn(String) -> InputError,
    ) -> Result<Vec<String>, InputError> {
        let mut cleaned = Vec::new();
        for pattern in patterns {
            let p = clean_path(pattern, false)
                .ok_or_else(|| err(format!("`only`: {pattern:?} is not a relative path")))?;
            if !dirs.iter().any(|d| pattern_matches(p, d)) {
                self.warn(
                    span.clone(),
                    format!(
                        "host {host:?}: category {category:?}: `only` pattern {p:?} matches no directory"
                    ),
                );
            }
            cleaned.push(p.to_string());
        }
        Ok(cleaned)
    }

    /// Emits one RawDirectory per directory, in category order, each repository directory
    /// followed by its derived `repodata`. Returns every directory's full path.
    fn directories(&mut self, categories: &[Category], hosts: &[HostPlan]) -> HashSet<String> {
        let mut names = HashSet::new();
        for (cat_index, category) in categories.iter().enumerate() {
            for (dir_index, rel) in category.dirs.iter().enumerate() {
                let mut directory = RawDirectory {
                    name: category.full_path(rel),
                    subpath: rel.clone(),
                    ..RawDirectory::default()
                };
                let mut by_country: BTreeMap<String, Vec<i64>> = BTreeMap::new();
                for host in hosts {
                    let Some(hc) = host.categories.iter().find(|c| c.category == cat_index) else {
                        continue;
                    };
                    let carries = hc
                        .only
                        .as_ref()
                        .is_none_or(|patterns| patterns.iter().any(|p| pattern_matches(p, rel)));
                    if !carries {
                        continue;
                    }
                    if !host.private {
                        directory.global.push(host.id);
                        by_country
                            .entry(host.country.clone())
                            .or_default()
                            .push(host.id);
                    }
                    directory.by_host.push((host.id, hc.url_ids.clone()));
                }
                directory.by_country = by_country.into_iter().collect();

                let repodata = format!("{rel}/repodata");
                let derived = (category.needs_repodata[dir_index]
                    && !category.index.contains_key(&repodata))
                .then(|| RawDirectory {
                    name: category.full_path(&repodata),
                    subpath: repodata,
                    ..directory.clone()
                });
                names.insert(directory.name.clone());
                self.raw.directories.push(directory);
                if let Some(derived) = derived {
                    names.insert(derived.name.clone());
                    self.raw.directories.push(derived);
                }
            }
        }
        names
    }

    fn files(
        &mut self,
        entries: &[FileEntry],
        directories: &HashSet<String>,
    ) -> Result<(), InputError> {
        let loc = self.loc;
        for entry in entries {
            let dir_text = entry.directory.get_ref();
            let name = &entry.name;
            let err = |message: String| {
                loc.error(
                    entry.directory.span(),
                    format!("file {dir_text:?} {name:?}"),
                    message,
                )
            };
            let dir = clean_path(dir_text, false)
                .filter(|d| directories.contains(*d))
                .ok_or_else(|| {
                    err(format!(
                        "`directory`: {dir_text:?} is not a directory of any category (give the full path, topdir included)"
                    ))
                })?;
            if name.is_empty() || name.contains('/') {
                return Err(err(format!(
                    "`name`: {name:?} must be a file name without `/`"
                )));
            }
            if entry.versions.is_empty() {
                return Err(err("`versions` is empty".into()));
            }
            let mut versions = Vec::new();
            for (number, v) in entry.versions.iter().enumerate() {
                let digest = |field: &str, value: &Option<String>, len: usize| {
                    let value = value.as_deref().unwrap_or("");
                    if value.is_empty()
                        || (value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()))
                    {
                        Ok(value.to_ascii_lowercase())
                    } else {
                        Err(err(format!(
                            "versions[{number}].{field}: expected {len} hex digits, got {value:?}"
                        )))
                    }
                };
                versions.push(FileDetails {
                    timestamp: v.timestamp,
                    size: v.size,
                    md5: digest("md5", &v.md5, 32)?,
                    sha1: digest("sha1", &v.sha1, 40)?,
                    sha256: digest("sha256", &v.sha256, 64)?,
                    sha512: digest("sha512", &v.sha512, 128)?,
                });
            }
            // MirrorManager orders by timestamp, newest first; the first entry is the current
            // file and the rest become metalink alternates.
            versions.sort_by_key(|v| std::cmp::Reverse(v.timestamp));
            let files = self.raw.file_details.entry(dir.to_string()).or_default();
            if files.contains_key(name) {
                return Err(err("this directory and file name are listed twice".into()));
            }
            files.insert(name.clone(), versions);
        }
        Ok(())
    }

    fn redirects(
        &mut self,
        entries: &[RedirectEntry],
        repo_names: &HashSet<String>,
    ) -> Result<(), InputError> {
        let loc = self.loc;
        let mut seen = HashSet::new();
        for entry in entries {
            let from = entry.from.get_ref();
            let err = |message: String| {
                loc.error(
                    entry.from.span(),
                    format!("repo_redirect {from:?}"),
                    message,
                )
            };
            if from.is_empty() || entry.to.is_empty() {
                return Err(err("`from` and `to` must be non-empty".into()));
            }
            if from == &entry.to {
                return Err(err("`to` is the same as `from`".into()));
            }
            if !seen.insert(from.clone()) {
                return Err(err("`from`: this repository is redirected twice".into()));
            }
            if !repo_names.contains(&entry.to) {
                self.warn(
                    entry.from.span(),
                    format!(
                        "repo_redirect {from:?}: `to` {:?} names no [[repo]]",
                        entry.to
                    ),
                );
            }
            self.raw
                .repo_redirects
                .push((from.clone(), entry.to.clone()));
        }
        Ok(())
    }

    fn warn(&mut self, span: Range<usize>, message: String) {
        let line = line_of(self.loc.text, span.start);
        self.raw.warnings.push(format!(
            "{}: line {line}: {message}",
            self.loc.path.display()
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, InputError> {
    std::str::from_utf8(bytes)
        .map_err(|e| InputError::new(path, format!("byte {}", e.valid_up_to()), "not UTF-8"))
}

fn read_optional(
    path: &Path,
    raw: &mut RawData,
    consequence: &str,
) -> Result<Option<String>, InputError> {
    if !path.exists() {
        raw.warnings
            .push(format!("{}: absent; {consequence}", path.display()));
        return Ok(None);
    }
    let bytes = read_file(path)?;
    raw.inputs.push(InputDigest::of(path, &bytes));
    utf8(path, &bytes).map(|text| Some(text.to_string()))
}

fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> InputError {
    let at = error
        .span()
        .map(|span| format!("line {}", line_of(text, span.start)))
        .unwrap_or_default();
    InputError::new(path, at, error.message().trim())
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn country_code(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| text.to_ascii_uppercase())
}

fn join_path(top: &str, rel: &str) -> String {
    if top.is_empty() {
        rel.to_string()
    } else {
        format!("{top}/{rel}")
    }
}

/// Strips surrounding slashes and rejects empty, `.` and `..` components, so every path the
/// reader keeps is in MirrorManager's form (no leading or trailing slash). `allow_empty` is for
/// a category's topdir, which MirrorManager allows to be empty.
fn clean_path(text: &str, allow_empty: bool) -> Option<&str> {
    let path = text.trim().trim_matches('/');
    if path.is_empty() {
        return allow_empty.then_some(path);
    }
    path.split('/')
        .all(|c| !c.is_empty() && c != "." && c != "..")
        .then_some(path)
}

/// A host's `only` pattern against a directory relative to the category topdir: the pattern is
/// a path prefix compared component by component (`releases/42` matches `releases/42/Everything/x86_64/os`
/// but not `releases/420`), and `*` inside a component matches any run of characters in it.
fn pattern_matches(pattern: &str, dir: &str) -> bool {
    let mut parts = dir.split('/');
    pattern.split('/').all(|p| {
        parts
            .next()
            .is_some_and(|d| glob(p.as_bytes(), d.as_bytes()))
    })
}

/// `*`-only wildcard match over one path component.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and where in `text` it currently ends, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::IpAddr;

    use super::*;

    fn sample() -> RawData {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        read(&dir).unwrap_or_else(|e| panic!("data/ does not read: {e}"))
    }

    fn longest<T: Clone>(list: &[(IpNet, T)], ip: IpAddr) -> Option<T> {
        list.iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, _)| net.prefix_len())
            .map(|(_, v)| v.clone())
    }

    fn geo_networks(raw: &RawData) -> &[(IpNet, String)] {
        match &raw.geo {
            RawGeo::Networks(list) => list,
            other => panic!("expected geo networks, got {other:?}"),
        }
    }

    fn host_id(raw: &RawData, name: &str) -> i64 {
        raw.hosts
            .iter()
            .find(|(_, h)| h.name == name)
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    fn directory<'a>(raw: &'a RawData, name: &str) -> &'a RawDirectory {
        raw.directories
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no directory {name}"))
    }

    #[test]
    fn sample_reads_cleanly_with_every_input() {
        let raw = sample();
        assert!(raw.warnings.is_empty(), "{:#?}", raw.warnings);
        assert_eq!(raw.inputs.len(), 4, "{:?}", raw.inputs);
        assert!(raw.generated_at > 1_700_000_000);
        assert_eq!(raw.country_continent.len(), 252);
        assert!(!raw.global_asn.is_empty());
    }

    #[test]
    fn sample_has_enough_hosts_countries_continents_and_pairs() {
        let raw = sample();
        assert!(raw.hosts.len() >= 30, "{} hosts", raw.hosts.len());
        let ids: Vec<i64> = raw.hosts.keys().copied().collect();
        assert_eq!(ids, (1..=raw.hosts.len() as i64).collect::<Vec<_>>());
        let countries: BTreeSet<&str> = raw.hosts.values().map(|h| h.country.as_str()).collect();
        assert!(countries.len() >= 10, "{countries:?}");
        let continents: BTreeSet<&str> = countries
            .iter()
            .map(|c| {
                raw.country_continent
                    .get(*c)
                    .map(String::as_str)
                    .unwrap_or("?")
            })
            .collect();
        assert!(
            continents.len() >= 5 && !continents.contains("?"),
            "{continents:?}"
        );
        for host in raw.hosts.values() {
            assert!(
                [".example.org", ".example.com", ".example.net"]
                    .iter()
                    .any(|d| host.name.ends_with(d)),
                "{}",
                host.name
            );
        }
        let pairs: BTreeSet<(&str, &str)> = raw
            .repo_arch
            .iter()
            .map(|r| (r.repo.as_str(), r.arch.as_str()))
            .collect();
        assert!(pairs.len() >= 20, "{} pairs", pairs.len());
        for (repo, arch) in [
            ("fedora-42", "x86_64"),
            ("updates-released-f42", "aarch64"),
            ("updates-testing-f42", "x86_64"),
            ("fedora-source-42", "source"),
            ("fedora-42", "s390x"),
            ("epel-9", "ppc64le"),
            ("epel-10", "x86_64"),
        ] {
            assert!(pairs.contains(&(repo, arch)), "{repo}/{arch}");
        }
        let topdirs: BTreeSet<&str> = raw
            .repo_arch
            .iter()
            .filter_map(|r| r.directory.split("/releases/").next())
            .collect();
        assert!(topdirs.contains("pub/fedora/linux") && topdirs.contains("pub/fedora-secondary"));
        assert!(raw
            .repo_arch
            .iter()
            .any(|r| r.directory.starts_with("pub/epel/")));
    }

    #[test]
    fn every_repo_directory_exists_with_its_repodata_and_file_details() {
        let raw = sample();
        for pair in &raw.repo_arch {
            let dir = directory(&raw, &pair.directory);
            let repodata = directory(&raw, &format!("{}/repodata", pair.directory));
            assert_eq!(repodata.by_host, dir.by_host, "{}", pair.directory);
            assert_eq!(repodata.global, dir.global);
            assert_eq!(repodata.subpath, format!("{}/repodata", dir.subpath));
            assert!(!dir.by_host.is_empty(), "nobody carries {}", pair.directory);
            let versions = raw
                .file_details
                .get(&repodata.name)
                .and_then(|files| files.get("repomd.xml"))
                .unwrap_or_else(|| panic!("no repomd.xml in {}", repodata.name));
            assert!(versions
                .windows(2)
                .all(|w| w[0].timestamp >= w[1].timestamp));
            for v in versions {
                assert_eq!(
                    (v.md5.len(), v.sha1.len(), v.sha256.len(), v.sha512.len()),
                    (32, 40, 64, 128)
                );
            }
            if pair.repo.starts_with("updates-") {
                assert!(versions.len() >= 2, "no alternates for {}", pair.repo);
            }
        }
        // A directory without a repository (only `path=` reaches it) has no derived repodata.
        let iso = "pub/fedora/linux/releases/42/Workstation/x86_64/iso";
        directory(&raw, iso);
        assert!(!raw
            .directories
            .iter()
            .any(|d| d.name == format!("{iso}/repodata")));
    }

    #[test]
    fn sample_has_protocol_mixes_partial_hosts_redirects_and_a_disabled_repo() {
        let raw = sample();
        let url_schemes = |host: i64| -> BTreeSet<String> {
            let mut schemes = BTreeSet::new();
            for dir in &raw.directories {
                for (h, urls) in &dir.by_host {
                    if *h == host {
                        for u in urls {
                            let url = &raw.base_urls[u];
                            schemes.insert(url.split(':').next().unwrap_or("").to_string());
                        }
                    }
                }
            }
            schemes
        };
        let mixes: Vec<BTreeSet<String>> = raw.hosts.keys().map(|&h| url_schemes(h)).collect();
        let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert!(mixes.contains(&set(&["https", "http", "rsync"])));
        assert!(mixes.contains(&set(&["http", "ftp"])));

        // Some host carries only part of a category it serves.
        let partial = host_id(&raw, "ftp.de-isp.example.net");
        let carried = |name: &str| {
            directory(&raw, name)
                .by_host
                .iter()
                .any(|(h, _)| *h == partial)
        };
        assert!(carried("pub/fedora/linux/updates/42/Everything/x86_64"));
        assert!(!carried("pub/fedora/linux/updates/42/Everything/aarch64"));
        assert!(!carried(
            "pub/fedora/linux/updates/testing/42/Everything/x86_64"
        ));

        let repos: BTreeSet<&str> = raw.repo_arch.iter().map(|r| r.repo.as_str()).collect();
        assert!(raw
            .repo_redirects
            .iter()
            .any(|(from, to)| from == "fedora-rawhide" && repos.contains(to.as_str())));
        assert_eq!(raw.disabled_repos, ["updates-testing-f40"]);
        assert!(repos.contains("updates-testing-f40"));
        assert!(raw
            .hosts
            .values()
            .any(|h| h.allowed_countries == ["CN"] && h.country == "CN"));
    }

    #[test]
    fn private_host_is_only_in_by_host_and_reachable_by_netblock() {
        let raw = sample();
        let private = host_id(&raw, "mirror.corp-intranet.example.com");
        let mut in_by_host = 0;
        for dir in &raw.directories {
            assert!(!dir.global.contains(&private), "{}", dir.name);
            assert!(dir
                .by_country
                .iter()
                .all(|(_, hosts)| !hosts.contains(&private)));
            in_by_host += dir.by_host.iter().filter(|(h, _)| *h == private).count();
        }
        assert!(in_by_host > 0);
        let mine: Vec<&IpNet> = raw
            .host_netblocks
            .iter()
            .filter(|(_, hosts)| hosts.contains(&private))
            .map(|(net, _)| net)
            .collect();
        assert!(mine.iter().any(|n| matches!(n, IpNet::V4(_))));
        assert!(mine.iter().any(|n| matches!(n, IpNet::V6(_))));
    }

    #[test]
    fn sample_has_ipv4_and_ipv6_netblocks_asn_clients_and_geo() {
        let raw = sample();
        assert!(raw
            .host_netblocks
            .iter()
            .any(|(n, _)| matches!(n, IpNet::V4(_))));
        assert!(raw
            .host_netblocks
            .iter()
            .any(|(n, _)| matches!(n, IpNet::V6(_))));
        let jp = host_id(&raw, "ftp.jp.example.org");
        assert!(raw.asn_hosts.contains(&(64500, vec![jp])));
        // A host with an ASN but asn_clients = false is not an ASN host.
        assert!(!raw.asn_hosts.iter().any(|(asn, _)| *asn == 64510));
        let geo = geo_networks(&raw);
        assert!(geo.iter().any(|(n, _)| matches!(n, IpNet::V6(_))));
        let local = |ip: &str| longest(geo, ip.parse().expect("address"));
        assert_eq!(local("127.0.0.1").as_deref(), Some("DE"));
        assert_eq!(local("::1").as_deref(), Some("DE"));
    }

    /// `data/README.md` promises where each sample client lands; hold it to that.
    #[test]
    fn readme_client_tables_match_the_sample() {
        let raw = sample();
        let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/README.md");
        let readme = std::fs::read_to_string(readme_path).expect("data/README.md");
        let geo = geo_networks(&raw);
        let cells = |line: &str| -> Vec<String> {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        };
        let netblock_hosts = |ip: IpAddr| -> Vec<(IpNet, i64)> {
            raw.host_netblocks
                .iter()
                .filter(|(net, _)| net.contains(&ip))
                .flat_map(|(net, hosts)| hosts.iter().map(move |h| (*net, *h)))
                .collect()
        };

        // Per-country table: two (country, v4, v6) groups per row.
        let start = readme
            .find("| country | IPv4 client")
            .expect("per-country table");
        let mut countries_seen = 0;
        for line in readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
        {
            let row = cells(line);
            for group in row.chunks(4) {
                let [label, v4, v6, ..] = group else { continue };
                if label.is_empty() {
                    continue;
                }
                let (country, continent) = label
                    .split_once(" (")
                    .map(|(c, rest)| (c, rest.trim_end_matches(')')))
                    .expect("`CC (CONT)`");
                assert_eq!(
                    raw.country_continent.get(country).map(String::as_str),
                    Some(continent)
                );
                for (address, asn) in [(v4, 64496), (v6, 64498)] {
                    let ip: IpAddr = address.parse().expect(address);
                    assert_eq!(longest(geo, ip).as_deref(), Some(country), "{address}");
                    assert_eq!(longest(&raw.global_asn, ip), Some(asn), "{address}");
                    assert!(netblock_hosts(ip).is_empty(), "{address}");
                }
                countries_seen += 1;
            }
        }
        let host_countries: BTreeSet<&str> =
            raw.hosts.values().map(|h| h.country.as_str()).collect();
        assert_eq!(countries_seen, host_countries.len());

        // Special cases: address | country | netblock (host) | ASN | note.
        let start = readme
            .find("<!-- sample-clients")
            .expect("sample-clients marker");
        let end = readme.find("<!-- /sample-clients -->").expect("end marker");
        let mut rows = 0;
        for line in readme[start..end].lines().filter(|l| l.starts_with("| `")) {
            let row = cells(line);
            let ip: IpAddr = row[0].parse().expect(&row[0]);
            let country = (row[1] != "-").then(|| row[1].clone());
            assert_eq!(longest(geo, ip), country, "{}", row[0]);
            let found = netblock_hosts(ip);
            if row[2] == "-" {
                assert!(found.is_empty(), "{}: {found:?}", row[0]);
            } else {
                let (net, host) = row[2].split_once(" (").expect("`NET (host)`");
                let net: IpNet = net.trim_matches('`').parse().expect(net);
                let host = host_id(&raw, host.trim_end_matches(')'));
                assert_eq!(found, [(net, host)], "{}", row[0]);
            }
            let asn = (row[3] != "-").then(|| row[3].parse::<u32>().expect("ASN"));
            assert_eq!(longest(&raw.global_asn, ip), asn, "{}", row[0]);
            rows += 1;
        }
        assert!(rows >= 10, "{rows} rows");
    }

    // --- mapping, on a small file --------------------------------------------------------------

    const SMALL: &str = r#"
generated_at = 100
disabled_repos = ["s"]

[[category]]
name = "C"
topdir = "/pub/c/"
directories = ["a/x86_64", "b/x86_64", "b/x86_64/repodata", "iso"]

[[repo]]
repo = "r"
arch = "x86_64"
category = "C"
directory = "a/x86_64"

[[repo]]
repo = "s"
arch = "x86_64"
category = "C"
directory = "b/x86_64/"

[[repo_redirect]]
from = "alias"
to = "r"

[[host]]
name = "one.example.org"
country = "de"
bandwidth = 10
asn = 64500
asn_clients = true
netblocks = ["10.1.2.3/8", "2001:db8::/32"]
  [[host.category]]
  name = "C"
  urls = ["https://one.example.org/c/", "http://one.example.org/c"]

[[host]]
name = "two.example.org"
country = "SE"
bandwidth = 5
private = true
netblocks = ["10.0.0.0/8"]
  [[host.category]]
  name = "C"
  urls = ["https://two.example.org/c"]
  only = ["b"]

[[host]]
name = "three.example.org"
country = "DE"
bandwidth = 1
allowed_countries = ["de", "at"]
  [[host.category]]
  name = "C"
  urls = ["http://three.example.org/c"]
  only = ["*/x86*"]

[[file]]
directory = "pub/c/a/x86_64/repodata"
name = "repomd.xml"
  [[file.versions]]
  timestamp = 1
  size = 2
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  [[file.versions]]
  timestamp = 5
  size = 3
"#;

    fn read_toml(toml: &str) -> Result<RawData, InputError> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MIRRORS_FILE), toml).expect("write");
        read(dir.path())
    }

    fn error_of(toml: &str) -> String {
        match read_toml(toml) {
            Ok(_) => panic!("expected an error for:\n{toml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn maps_a_small_file_as_mirrormanager_would() {
        let raw = read_toml(SMALL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.generated_at, 100);
        assert_eq!(raw.inputs.len(), 1);
        assert_eq!(
            raw.warnings.len(),
            3,
            "one per absent side file: {:?}",
            raw.warnings
        );
        assert!(matches!(raw.geo, RawGeo::None));

        let one = &raw.hosts[&1];
        assert_eq!(
            (one.name.as_str(), one.country.as_str(), one.bandwidth),
            ("one.example.org", "DE", Some(10))
        );
        assert_eq!(raw.hosts[&3].allowed_countries, ["DE", "AT"]);
        let urls: Vec<(i64, &str)> = raw
            .base_urls
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                (1, "https://one.example.org/c"),
                (2, "http://one.example.org/c"),
                (3, "https://two.example.org/c"),
                (4, "http://three.example.org/c"),
            ]
        );

        let names: Vec<&str> = raw.directories.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pub/c/a/x86_64",
                "pub/c/a/x86_64/repodata",
                "pub/c/b/x86_64",
                "pub/c/b/x86_64/repodata",
                "pub/c/iso",
            ]
        );
        let a = &raw.directories[0];
        assert_eq!(a.subpath, "a/x86_64");
        assert_eq!(a.global, [1, 3]);
        assert_eq!(a.by_country, [("DE".to_string(), vec![1, 3])]);
        assert_eq!(a.by_host, [(1, vec![1, 2]), (3, vec![4])]);
        assert_eq!(raw.directories[1].subpath, "a/x86_64/repodata");
        assert_eq!(raw.directories[1].by_host, a.by_host);
        let b = &raw.directories[2];
        assert_eq!(b.global, [1, 3]);
        assert_eq!(b.by_host, [(1, vec![1, 2]), (2, vec![3]), (3, vec![4])]);
        // Listed explicitly, so it follows the `only` patterns instead of copying its parent.
        let b_repodata = &raw.directories[3];
        assert_eq!(
            b_repodata.by_host,
            [(1, vec![1, 2]), (2, vec![3]), (3, vec![4])]
        );
        let iso = &raw.directories[4];
        assert_eq!(iso.by_host, [(1, vec![1, 2])]);

        assert_eq!(
            raw.repo_arch,
            [
                RawRepoArch {
                    repo: "r".into(),
                    arch: "x86_64".into(),
                    directory: "pub/c/a/x86_64".into()
                },
                RawRepoArch {
                    repo: "s".into(),
                    arch: "x86_64".into(),
                    directory: "pub/c/b/x86_64".into()
                },
            ]
        );
        assert_eq!(raw.repo_redirects, [("alias".to_string(), "r".to_string())]);
        assert_eq!(raw.disabled_repos, ["s"]);
        assert_eq!(
            raw.host_netblocks,
            [
                ("10.0.0.0/8".parse().expect("net"), vec![1, 2]),
                ("2001:db8::/32".parse().expect("net"), vec![1]),
            ]
        );
        assert_eq!(raw.asn_hosts, [(64500, vec![1])]);
        let versions = &raw.file_details["pub/c/a/x86_64/repodata"]["repomd.xml"];
        assert_eq!(
            versions.iter().map(|v| v.timestamp).collect::<Vec<_>>(),
            [5, 1]
        );
        assert_eq!(versions[1].sha256.len(), 64);
        assert!(versions[0].md5.is_empty());
    }

    #[test]
    fn only_patterns_compare_whole_components() {
        assert!(pattern_matches(
            "releases/42",
            "releases/42/Everything/x86_64/os"
        ));
        assert!(pattern_matches("releases/42", "releases/42"));
        assert!(!pattern_matches("releases/42", "releases/420/Everything"));
        assert!(!pattern_matches("releases/42/Everything", "releases/42"));
        assert!(pattern_matches("*/4*", "updates/41/Everything/x86_64"));
        assert!(!pattern_matches(
            "*/4*",
            "updates/testing/41/Everything/x86_64"
        ));
        assert!(pattern_matches(
            "updates/*/Everything/x86_64",
            "updates/42/Everything/x86_64"
        ));
        assert!(pattern_matches("a*c*e", "abcde"));
        assert!(!pattern_matches("a*c*e", "abcdef"));
        assert!(pattern_matches("*", "anything"));
    }

    // --- errors ----------------------------------------------------------------------------------

    const HEAD: &str =
        "generated_at = 1\n[[category]]\nname = \"C\"\ntopdir = \"pub\"\ndirectories = [\"a\"]\n";

    fn host(extra: &str) -> String {
        format!(
            "{HEAD}[[host]]\nname = \"h.example.org\"\ncountry = \"DE\"\nbandwidth = 1\n{extra}"
        )
    }

    #[test]
    fn toml_syntax_errors_name_the_file_and_line() {
        let err = error_of("generated_at = 1\n\n[[host]\nname = 1\n");
        assert!(err.contains("mirrors.toml: line 3:"), "{err}");
    }

    #[test]
    fn unknown_and_missing_fields_are_rejected() {
        let err = error_of(&host("colour = \"red\"\n"));
        assert!(
            err.contains("mirrors.toml: line 10:") && err.contains("colour"),
            "{err}"
        );
        let err = error_of(&host(
            "  [[host.category]]\n  name = \"C\"\n  url = [\"http://x\"]\n",
        ));
        assert!(
            err.contains("mirrors.toml: line 12:") && err.contains("`url`"),
            "{err}"
        );
        let err = error_of("[[category]]\nname = \"C\"\ntopdir = \"\"\ndirectories = []\n");
        assert!(err.contains("generated_at"), "{err}");
    }

    #[test]
    fn host_errors_name_the_host_line_and_field() {
        let cases = [
            ("bandwidth = 0\n", "`bandwidth`"),
            ("country = \"DEU\"\n", "`country`"),
            ("netblocks = [\"10.0.0.0/33\"]\n", "`netblocks`"),
            ("netblocks = [\"0.0.0.0/0\"]\n", "`netblocks`"),
            ("allowed_countries = [\"Germany\"]\n", "`allowed_countries`"),
            ("families = [\"ipv5\"]\n", "`families`"),
            ("families = []\n", "`families`"),
            ("families = [\"ipv4\", \"ipv4\"]\n", "`families`"),
            ("asn_clients = true\n", "`asn`"),
            (
                "[[host.category]]\nname = \"D\"\nurls = [\"http://x\"]\n",
                "`category.name`",
            ),
            (
                "[[host.category]]\nname = \"C\"\nurls = [\"x.example.org/pub\"]\n",
                "`urls`",
            ),
            (
                "[[host.category]]\nname = \"C\"\nurls = [\"http://x\"]\nonly = []\n",
                "`only`",
            ),
        ];
        for (extra, field) in cases {
            // A key given twice is a TOML error, so an override replaces the default line.
            let mut toml = host("");
            for key in ["country", "bandwidth"] {
                if extra.starts_with(key) {
                    let start = toml.find(&format!("{key} = ")).expect("default");
                    let end = start + toml[start..].find('\n').expect("line end") + 1;
                    toml.replace_range(start..end, "");
                }
            }
            let err = error_of(&(toml + extra));
            assert!(
                err.contains("mirrors.toml: line 7, host \"h.example.org\": "),
                "{err}"
            );
            assert!(err.contains(field), "{field}: {err}");
        }
        let twice =
            host("") + "[[host]]\nname = \"h.example.org\"\ncountry = \"SE\"\nbandwidth = 1\n";
        let err = error_of(&twice);
        assert!(
            err.contains("line 11, host \"h.example.org\"") && err.contains("earlier"),
            "{err}"
        );
    }

    #[test]
    fn repo_and_file_errors_name_the_entry_and_field() {
        let repo = |category: &str, directory: &str| {
            format!("{HEAD}[[repo]]\nrepo = \"r\"\narch = \"x86_64\"\ncategory = \"{category}\"\ndirectory = \"{directory}\"\n")
        };
        let err = error_of(&repo("D", "a"));
        assert!(
            err.contains("line 7, repo \"r\" arch \"x86_64\"") && err.contains("`category`"),
            "{err}"
        );
        let err = error_of(&repo("C", "b"));
        assert!(
            err.contains("repo \"r\" arch \"x86_64\"") && err.contains("`directory`"),
            "{err}"
        );
        let err = error_of(&format!(
            "{}{}",
            repo("C", "a"),
            "[[repo]]\nrepo = \"r\"\narch = \"x86_64\"\ncategory = \"C\"\ndirectory = \"a\"\n"
        ));
        assert!(err.contains("line 12") && err.contains("twice"), "{err}");

        let file = |directory: &str, digest: &str| {
            format!("{}[[file]]\ndirectory = \"{directory}\"\nname = \"repomd.xml\"\n[[file.versions]]\ntimestamp = 1\nsize = 1\nsha1 = \"{digest}\"\n", repo("C", "a"))
        };
        assert!(read_toml(&file("pub/a/repodata", &"a".repeat(40))).is_ok());
        let err = error_of(&file("a/repodata", &"a".repeat(40)));
        assert!(
            err.contains("file \"a/repodata\" \"repomd.xml\"") && err.contains("`directory`"),
            "{err}"
        );
        let err = error_of(&file("pub/a/repodata", "abc"));
        assert!(err.contains("versions[0].sha1"), "{err}");
    }

    #[test]
    fn category_errors_name_the_category() {
        let err = error_of(&format!(
            "{HEAD}[[category]]\nname = \"D\"\ntopdir = \"\"\ndirectories = [\"pub/a\"]\n"
        ));
        assert!(
            err.contains("line 7, category \"D\"") && err.contains("already"),
            "{err}"
        );
        let err = error_of("generated_at = 1\n[[category]]\nname = \"C\"\ntopdir = \"pub\"\ndirectories = [\"a//b\"]\n");
        assert!(err.contains("`directories`"), "{err}");
    }

    #[test]
    fn side_files_are_read_and_bad_lines_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(MIRRORS_FILE), HEAD).expect("write");
        std::fs::write(dir.path().join(ASN_FILE), "192.0.2.0/24 64496\nbad\n").expect("write");
        std::fs::write(
            dir.path().join(CONTINENTS_FILE),
            "\"iso\",\"cont\"\nDE,EU\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join(GEO_FILE),
            "network,country\n192.0.2.0/24,de\n# comment\nnot-a-net,DE\n10.0.0.0/8,Germany\nnocomma\n::1,DE\n",
        )
        .expect("write");
        let raw = read(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.inputs.len(), 4);
        assert_eq!(raw.global_asn.len(), 1);
        assert_eq!(raw.country_continent.len(), 1);
        let RawGeo::Networks(geo) = &raw.geo else {
            panic!("no geo")
        };
        assert_eq!(
            geo,
            &[
                ("192.0.2.0/24".parse().expect("net"), "DE".to_string()),
                ("::1/128".parse().expect("net"), "DE".to_string())
            ]
        );
        assert_eq!(raw.warnings.len(), 4, "{:#?}", raw.warnings);
        assert!(
            raw.warnings.iter().any(|w| w.contains("geo.csv: line 4:")),
            "{:?}",
            raw.warnings
        );

        std::fs::write(dir.path().join(GEO_FILE), "network,country\n").expect("write");
        let err = read(dir.path()).expect_err("empty geo");
        assert!(err.to_string().contains("geo.csv"), "{err}");
    }
}
