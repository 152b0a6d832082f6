//! The command line: `serve`, `build`, `inspect`, `query`, `probe`. Each command turns its arguments
//! into calls on the library and reports errors once, with the file and what to do.

pub mod args;
pub mod build;
pub mod config;
pub mod inspect;
pub mod probe;
pub mod query;
pub mod serve;

use std::path::PathBuf;

use crate::build::source::Source;
use crate::build::Inputs;
use crate::inputs::mirrormanager::MmPaths;
use args::InputArgs;

/// MirrorManager's default locations, used for any of `-c -g --cccsv --geoip` not given.
pub const MM_DEFAULT_CACHE: &str = "/var/lib/mirrormanager/mirrorlist_cache.proto";
pub const MM_DEFAULT_NETBLOCKS: &str = "/var/lib/mirrormanager/global_netblocks.txt";
pub const MM_DEFAULT_CCCSV: &str = "/var/lib/mirrormanager/country_continent.csv";
pub const MM_DEFAULT_GEOIP: &str = "/usr/share/GeoIP/GeoLite2-Country.mmdb";

impl InputArgs {
    /// The source these flags name; with none, the native sample in `data/`.
    pub fn source(&self) -> anyhow::Result<Source> {
        let mm_given = self.cache.is_some()
            || self.global_netblocks.is_some()
            || self.cccsv.is_some()
            || self.geoip.is_some();
        let chosen = [self.bundle.is_some(), self.source.is_some(), mm_given]
            .iter()
            .filter(|b| **b)
            .count();
        if chosen > 1 {
            anyhow::bail!(
                "give one input: --bundle, --source, or MirrorManager's -c/-g/--cccsv/--geoip"
            );
        }
        if let Some(b) = &self.bundle {
            return Ok(Source::Bundle(b.clone()));
        }
        if mm_given {
            let or = |p: &Option<PathBuf>, d: &str| p.clone().unwrap_or_else(|| PathBuf::from(d));
            return Ok(Source::Inputs(Inputs::MirrorManager(MmPaths {
                cache: or(&self.cache, MM_DEFAULT_CACHE),
                global_netblocks: or(&self.global_netblocks, MM_DEFAULT_NETBLOCKS),
                cccsv: or(&self.cccsv, MM_DEFAULT_CCCSV),
                geoip: or(&self.geoip, MM_DEFAULT_GEOIP),
            })));
        }
        let dir = self.source.clone().unwrap_or_else(|| PathBuf::from("data"));
        if !dir.join("mirrors.toml").exists() {
            anyhow::bail!(
                "{}: no mirrors.toml here; run from the project directory to serve the sample, or give --bundle, --source or -c",
                dir.display()
            );
        }
        Ok(Source::Inputs(Inputs::Native(dir)))
    }
}
