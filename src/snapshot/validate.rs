//! Internal consistency of an archived snapshot, checked once per load before it can serve:
//! every index points inside its table and every list that is binary-searched is sorted.
//! After this, the request path may index without checking more than `get`.

use super::model::{ArchivedDirectory, ArchivedSnapshotData};

/// An archived index (little-endian `u32`).
type Idx = rkyv::Archived<u32>;

/// The largest index of `list`, in one pass the compiler vectorises (the lists of a large
/// snapshot hold tens of millions of indexes, checked on every reload).
fn max_index(list: &[Idx]) -> Option<u32> {
    if list.is_empty() {
        return None;
    }
    Some(list.iter().fold(0u32, |m, v| m.max(v.to_native())))
}

/// Returns a description of the first inconsistency found.
pub fn check(data: &ArchivedSnapshotData) -> Result<(), String> {
    let bounds = Bounds {
        hosts: data.hosts.len(),
        urls: data.base_urls.len(),
        dirs: data.directories.len(),
    };
    for (i, h) in data.hosts.iter().enumerate() {
        if h.weight.to_native() == 0 {
            return Err(format!("host #{i} has weight 0"));
        }
        sorted(h.allowed_countries.iter().map(|c| c.as_str()), || {
            format!("host #{i} allowed countries")
        })?;
    }
    sorted(data.directories.iter().map(|d| d.name.as_str()), || {
        "directories".to_string()
    })?;
    for d in data.directories.iter() {
        bounds.directory(d)?;
    }
    check_repos(data, &bounds)?;
    check_networks(data, &bounds)?;
    sorted(data.countries.iter().map(|e| e.country.as_str()), || {
        "countries".to_string()
    })?;
    sorted(data.continents.iter().map(|e| e.code.as_str()), || {
        "continents".to_string()
    })?;
    Ok(())
}

/// The table sizes that indexes must stay below.
struct Bounds {
    hosts: usize,
    urls: usize,
    dirs: usize,
}

impl Bounds {
    fn host_ok(&self, h: u32, what: &dyn Fn() -> String) -> Result<(), String> {
        let hosts = self.hosts;
        if (h as usize) < hosts {
            Ok(())
        } else {
            Err(format!(
                "{} names host #{h}, but there are {hosts} hosts",
                what()
            ))
        }
    }

    fn hosts_ok(&self, list: &[Idx], what: &dyn Fn() -> String) -> Result<(), String> {
        match max_index(list) {
            Some(h) => self.host_ok(h, what),
            None => Ok(()),
        }
    }

    /// One directory: its lists sorted and their indexes in range. One pass per list (these
    /// are most of a large snapshot): order and indexes together.
    fn directory(&self, d: &ArchivedDirectory) -> Result<(), String> {
        let name = || format!("directory {:?}", d.name.as_str());
        self.hosts_ok(d.global.as_slice(), &name)?;
        self.hosts_ok(d.country_hosts.as_slice(), &name)?;
        let runs = d.country_hosts.len();
        let mut prev_country: Option<&str> = None;
        for c in d.by_country.iter() {
            let country = c.country.as_str();
            if prev_country.is_some_and(|p| country <= p) {
                return Err(format!("{} are not sorted at {country:?}", name()));
            }
            prev_country = Some(country);
            let end = c.hosts_at.to_native() as u64 + u64::from(c.hosts_len.to_native());
            if end > runs as u64 {
                return Err(format!(
                    "{}: {country:?}'s hosts end at {end}, past the {runs} listed",
                    name()
                ));
            }
        }
        let urls = self.urls;
        if let Some(u) = max_index(d.urls.as_slice()).filter(|&u| u as usize >= urls) {
            return Err(format!("{} names URL #{u}, but there are {urls}", name()));
        }
        let runs = d.urls.len();
        let mut prev_host: Option<u32> = None;
        for e in d.by_host.iter() {
            let host = e.host.to_native();
            if prev_host.is_some_and(|p| host <= p) {
                return Err(format!("{} are not sorted at {host:?}", name()));
            }
            prev_host = Some(host);
            let end = e.urls_at.to_native() as usize + usize::from(e.urls_len.to_native());
            if end > runs {
                return Err(format!(
                    "{}: host #{host}'s URLs end at {end}, past the {runs} listed",
                    name()
                ));
            }
        }
        // Strictly increasing, so the last is the largest.
        if let Some(host) = prev_host {
            self.host_ok(host, &name)?;
        }
        sorted(d.files.iter().map(|f| f.name.as_str()), name)
    }
}

/// Repo/arch pairs (sorted, pointing at directories that exist), redirects, disabled repos.
fn check_repos(data: &ArchivedSnapshotData, bounds: &Bounds) -> Result<(), String> {
    sorted(data.repo_arch.iter().map(|e| e.key.as_str()), || {
        "repo/arch pairs".to_string()
    })?;
    for e in data.repo_arch.iter() {
        let in_range = |d: u32| (d as usize) < bounds.dirs;
        let repodata_ok = e.repodata.as_ref().is_none_or(|d| in_range(d.to_native()));
        if !in_range(e.directory.to_native()) || !repodata_ok {
            return Err(format!(
                "repo/arch {:?} points to a directory that does not exist",
                e.key.as_str()
            ));
        }
    }
    sorted(data.repo_redirects.iter().map(|e| e.from.as_str()), || {
        "repo redirects".to_string()
    })?;
    sorted(data.disabled_repos.iter().map(|e| e.as_str()), || {
        "disabled repos".to_string()
    })
}

/// Host netblocks, ASN host lists and the prefix tables: valid prefixes, hosts in range.
fn check_networks(data: &ArchivedSnapshotData, bounds: &Bounds) -> Result<(), String> {
    for e in data.host_netblocks.iter() {
        if e.net.to_ipnet().is_none() {
            return Err("a host netblock has an invalid prefix length".into());
        }
        bounds.hosts_ok(e.hosts.as_slice(), &|| "a host netblock".to_string())?;
    }
    sorted(data.asn_hosts.iter().map(|e| e.asn.to_native()), || {
        "ASN host lists".to_string()
    })?;
    for e in data.asn_hosts.iter() {
        bounds.hosts_ok(e.hosts.as_slice(), &|| format!("ASN {}", e.asn))?;
    }
    if data.global_asn.iter().any(|e| e.net.to_ipnet().is_none())
        || data
            .netblock_countries
            .iter()
            .any(|e| e.net.to_ipnet().is_none())
    {
        return Err("a prefix table has an invalid prefix length".into());
    }
    Ok(())
}

/// Strictly increasing, as binary search over unique keys needs.
fn sorted<T: Ord + std::fmt::Debug>(
    mut items: impl Iterator<Item = T>,
    what: impl Fn() -> String,
) -> Result<(), String> {
    let Some(mut prev) = items.next() else {
        return Ok(());
    };
    for item in items {
        if item <= prev {
            return Err(format!("{} are not sorted at {item:?}", what()));
        }
        prev = item;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::bundle;
    use super::super::model::{Directory, Host, SnapshotData};
    use super::check;

    /// Two hosts, one URL, one directory carried by both.
    fn good() -> SnapshotData {
        let host = |name: &str| Host {
            name: name.into(),
            weight: 1,
            ..Host::default()
        };
        SnapshotData {
            hosts: vec![host("a"), host("b")],
            base_urls: vec!["https://a.example.org/pub".into()],
            directories: vec![Directory {
                name: "pub/fedora".into(),
                global: vec![0, 1],
                ..Directory::default()
            }
            .with_hosts([(0, true, vec![0]), (1, true, vec![0])])
            .with_countries([("DE", vec![0]), ("SE", vec![1])])],
            ..SnapshotData::default()
        }
    }

    fn checked(data: &SnapshotData) -> Result<(), String> {
        let body = bundle::encode_body(data).unwrap();
        let archived = bundle::access(std::path::Path::new("t"), &body).unwrap();
        check(archived)
    }

    #[test]
    fn each_kind_of_bad_index_or_order_is_found() {
        assert_eq!(checked(&good()), Ok(()));
        type Break = fn(&mut Directory);
        let cases: [(Break, &str); 7] = [
            (|d| d.global[1] = 2, "names host #2, but there are 2 hosts"),
            (|d| d.country_hosts[1] = 7, "names host #7"),
            (
                |d| d.by_country[1].country = "AT".into(),
                "are not sorted at \"AT\"",
            ),
            (
                |d| d.by_country[1].hosts_len = 2,
                "\"SE\"'s hosts end at 3, past the 2",
            ),
            (|d| d.by_host[1].host = 0, "are not sorted at 0"),
            (|d| d.urls[1] = 3, "names URL #3, but there are 1"),
            (
                |d| d.by_host[1].urls_len = 2,
                "host #1's URLs end at 3, past the 2",
            ),
        ];
        for (break_it, expected) in cases {
            let mut data = good();
            break_it(&mut data.directories[0]);
            let err = checked(&data).unwrap_err();
            assert!(err.contains(expected), "{err:?} should say {expected:?}");
        }
        let mut data = good();
        data.directories[0].by_host[1].host = 2; // sorted, but past the last host
        assert!(checked(&data).unwrap_err().contains("names host #2"));
    }
}
