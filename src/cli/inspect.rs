//! `mirrorlist inspect`: what a bundle holds.

use super::args::InspectArgs;
use crate::snapshot::{bundle, Snapshot};

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let header = bundle::peek_header(&args.bundle)?;
    let snapshot = Snapshot::load(&args.bundle)?;
    let data = snapshot.data();
    let meta = &data.meta;
    let file_len = std::fs::metadata(&args.bundle)
        .map(|m| m.len())
        .unwrap_or(0);
    println!("bundle:          {}", args.bundle.display());
    println!("format version:  {}", header.version);
    println!("size:            {file_len} bytes");
    println!("checksum:        blake3:{}", hex(&header.checksum));
    println!("source kind:     {}", meta.source_kind.as_str());
    println!(
        "generated at:    {} ({})",
        meta.generated_at,
        when(meta.generated_at.to_native())
    );
    println!(
        "built at:        {} ({})",
        meta.built_at,
        when(meta.built_at.to_native())
    );
    println!("skipped inputs:  {}", meta.warnings);
    println!("hosts:           {}", data.hosts.len());
    println!("base URLs:       {}", data.base_urls.len());
    println!("directories:     {}", data.directories.len());
    println!("repo/arch pairs: {}", data.repo_arch.len());
    println!("repo redirects:  {}", data.repo_redirects.len());
    println!("disabled repos:  {}", data.disabled_repos.len());
    println!("host netblocks:  {}", data.host_netblocks.len());
    println!("ASN prefixes:    {}", data.global_asn.len());
    println!("ASNs with hosts: {}", data.asn_hosts.len());
    println!("countries:       {}", data.countries.len());
    let geo = match &data.geo {
        crate::snapshot::model::ArchivedGeo::None => "none".to_string(),
        crate::snapshot::model::ArchivedGeo::Mmdb(b) => format!("mmdb, {} bytes", b.len()),
        crate::snapshot::model::ArchivedGeo::Networks(n) => format!("{} networks", n.len()),
    };
    println!("geo:             {geo}");
    println!("inputs:");
    for input in meta.inputs.iter() {
        println!(
            "  {} ({} bytes, blake3:{})",
            input.path, input.bytes, input.blake3
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn when(unix: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
}
