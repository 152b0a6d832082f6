//! `mirrorlist build`: inputs to a bundle, with progress and a summary of skipped lines.

use std::time::Instant;

use anyhow::Context;

use super::args::BuildArgs;
use crate::build::{read_and_compile, Inputs};
use crate::inputs::mirrormanager::MmPaths;
use crate::snapshot::{bundle, Snapshot};

const WARNINGS_SHOWN: usize = 20;

pub fn run(args: &BuildArgs) -> anyhow::Result<()> {
    let inputs = match (&args.source, &args.mm_cache) {
        (Some(dir), None) => Inputs::Native(dir.clone()),
        (None, Some(cache)) => Inputs::MirrorManager(MmPaths {
            cache: cache.clone(),
            global_netblocks: args.global_netblocks.clone().context("--global-netblocks is required with --mm-cache")?,
            cccsv: args.cccsv.clone().context("--cccsv is required with --mm-cache")?,
            geoip: args.geoip.clone().context("--geoip is required with --mm-cache")?,
        }),
        _ => anyhow::bail!("give either --source DIR or --mm-cache FILE with --global-netblocks, --cccsv and --geoip"),
    };
    let started = Instant::now();
    eprintln!("reading and compiling inputs...");
    let compiled = read_and_compile(&inputs)?;
    let data = &compiled.data;
    eprintln!(
        "compiled {} hosts, {} directories, {} repo/arch pairs, {} host netblocks, {} ASN prefixes in {:.2}s",
        data.hosts.len(),
        data.directories.len(),
        data.repo_arch.len(),
        data.host_netblocks.len(),
        data.global_asn.len(),
        started.elapsed().as_secs_f64()
    );
    let shown = if args.verbose {
        usize::MAX
    } else {
        WARNINGS_SHOWN
    };
    for w in compiled.warnings.iter().take(shown) {
        eprintln!("warning: {w}");
    }
    if compiled.warnings.len() > shown {
        eprintln!(
            "... and {} more (use --verbose to see all)",
            compiled.warnings.len() - shown
        );
    }
    if !compiled.warnings.is_empty() {
        eprintln!("{} input lines or keys skipped", compiled.warnings.len());
    }
    let bytes = bundle::write(&args.output, data)?;
    drop(compiled); // before the bundle is mapped: the two would add up to this command's peak
                    // Read it back exactly as `serve` will, so a bundle that builds is a bundle that loads.
    Snapshot::load(&args.output).with_context(|| {
        format!(
            "{}: the bundle just written does not load",
            args.output.display()
        )
    })?;
    eprintln!(
        "wrote {} ({} bytes) in {:.2}s",
        args.output.display(),
        bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
