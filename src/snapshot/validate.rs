//! Internal consistency of an archived snapshot, checked once per load before it can serve:
//! every index points inside its table and every list that is binary-searched is sorted.
//! After this, the request path may index without checking more than `get`.

use super::model::ArchivedSnapshotData;

/// Returns a description of the first inconsistency found.
pub fn check(data: &ArchivedSnapshotData) -> Result<(), String> {
    let hosts = data.hosts.len();
    let urls = data.base_urls.len();
    let dirs = data.directories.len();
    let host_ok = |h: u32, what: &dyn Fn() -> String| {
        if (h as usize) < hosts {
            Ok(())
        } else {
            Err(format!("{} names host #{h}, but there are {hosts} hosts", what()))
        }
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
        let name = || format!("directory {:?}", d.name.as_str());
        for h in d.global.iter() {
            host_ok(h.to_native(), &name)?;
        }
        sorted(d.by_country.iter().map(|c| c.country.as_str()), name)?;
        for c in d.by_country.iter() {
            for h in c.hosts.iter() {
                host_ok(h.to_native(), &name)?;
            }
        }
        sorted(d.by_host.iter().map(|e| e.host.to_native()), name)?;
        for e in d.by_host.iter() {
            host_ok(e.host.to_native(), &name)?;
            for u in e.urls.iter() {
                if u.to_native() as usize >= urls {
                    return Err(format!("{} names URL #{u}, but there are {urls}", name()));
                }
            }
        }
        sorted(d.files.iter().map(|f| f.name.as_str()), name)?;
    }
    sorted(data.repo_arch.iter().map(|e| e.key.as_str()), || {
        "repo/arch pairs".to_string()
    })?;
    for e in data.repo_arch.iter() {
        let in_range = |d: u32| (d as usize) < dirs;
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
    })?;
    for e in data.host_netblocks.iter() {
        if e.net.to_ipnet().is_none() {
            return Err("a host netblock has an invalid prefix length".into());
        }
        for h in e.hosts.iter() {
            host_ok(h.to_native(), &|| "a host netblock".to_string())?;
        }
    }
    sorted(data.asn_hosts.iter().map(|e| e.asn.to_native()), || {
        "ASN host lists".to_string()
    })?;
    for e in data.asn_hosts.iter() {
        for h in e.hosts.iter() {
            host_ok(h.to_native(), &|| format!("ASN {}", e.asn))?;
        }
    }
    if data.global_asn.iter().any(|e| e.net.to_ipnet().is_none())
        || data
            .netblock_countries
            .iter()
            .any(|e| e.net.to_ipnet().is_none())
    {
        return Err("a prefix table has an invalid prefix length".into());
    }
    sorted(data.countries.iter().map(|e| e.country.as_str()), || {
        "countries".to_string()
    })?;
    sorted(data.continents.iter().map(|e| e.code.as_str()), || {
        "continents".to_string()
    })?;
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
