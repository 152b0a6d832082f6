//! `mirrorlist inspect`: what a bundle holds, and what a running server serves and how its
//! reloads went (read from its `/metrics`: the public port on this host, or --admin-listen).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::args::InspectArgs;
use crate::health::{Applied, Health};
use crate::snapshot::{bundle, Snapshot};

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.bundle {
        describe_bundle(path)?;
        if let Some(health) = &args.health {
            println!();
            describe_health(path, health)?;
        }
    }
    if let Some(addr) = args.server {
        if args.bundle.is_some() {
            println!();
        }
        describe_server(addr)?;
    }
    Ok(())
}

/// Each host of the bundle with its state and reason in the health file, and whether the file
/// would be applied.
fn describe_health(bundle: &Path, file: &Path) -> anyhow::Result<()> {
    let snapshot = Snapshot::load(bundle)?;
    let health = Health::load(file)?;
    println!("health file:     {}", file.display());
    println!(
        "generated at:    {} (valid until {})",
        health.generated_at, health.valid_until
    );
    match Applied::new(&health, &snapshot, crate::clock::unix_now()) {
        Ok(_) => println!("applied:         yes"),
        Err(why) => println!("applied:         no: {why}"),
    }
    for host in snapshot.data().hosts.iter() {
        let key = crate::health::host_key(host.name.as_str(), host.external_id.to_native());
        match health.hosts.get(&key) {
            Some(h) => println!("  {key}: {} ({})", h.state, h.reason),
            None => println!("  {key}: not probed"),
        }
    }
    Ok(())
}

fn describe_bundle(path: &Path) -> anyhow::Result<()> {
    let header = bundle::peek_header(path)?;
    let snapshot = Snapshot::load(path)?;
    let data = snapshot.data();
    let meta = &data.meta;
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!("bundle:          {}", path.display());
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

/// Prints the served generation and the reload record of the server whose `/metrics` is
/// at `addr`.
fn describe_server(addr: SocketAddr) -> anyhow::Result<()> {
    let text = fetch_metrics(addr).with_context(|| {
        format!("cannot read http://{addr}/metrics (is a server listening there, on this host or as --admin-listen?)")
    })?;
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l[name.len()..].trim().parse().ok())
    };
    let count = |v: Option<f64>| v.map_or(0, |v| v as u64);
    let time = |v: Option<f64>| match v {
        Some(t) if t > 0.0 => format!("{} ({})", t as u64, when(t as u64)),
        _ => "never".to_string(),
    };
    println!("server:          http://{addr}");
    let ready = value("mirrorlist_ready").is_some_and(|v| v > 0.0);
    println!("ready:           {}", if ready { "yes" } else { "no" });
    println!(
        "serving:         generation {}, sequence {}",
        time(value("mirrorlist_snapshot_generated_timestamp_seconds")),
        count(value("mirrorlist_snapshot_sequence"))
    );
    println!(
        "reloads:         {} ok, {} failed",
        count(value("mirrorlist_reloads_total{result=\"ok\"}")),
        count(value("mirrorlist_reloads_total{result=\"failed\"}"))
    );
    println!(
        "last success:    {}, took {:.3} s",
        time(value("mirrorlist_reload_last_success_timestamp_seconds")),
        value("mirrorlist_reload_last_duration_seconds").unwrap_or(0.0)
    );
    println!(
        "last failure:    {} (the server's log says why)",
        time(value("mirrorlist_reload_last_failure_timestamp_seconds"))
    );
    Ok(())
}

/// A plain HTTP/1.1 GET of `/metrics`; the server is local and answers at once.
fn fetch_metrics(addr: SocketAddr) -> std::io::Result<String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: mirrorlist\r\nConnection: close\r\n\r\n")?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(std::io::Error::other("no 200 answer from /metrics")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn when(unix: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
}
