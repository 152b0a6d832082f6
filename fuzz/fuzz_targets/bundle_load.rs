//! Fuzz target: loading a bundle (`snapshot::Snapshot::load`) from arbitrary bytes.
//!
//! Byte 0 picks the mode. Even: the rest is the whole file, as found on disk (bad magic,
//! short header, wrong length or checksum must all be refused cleanly). Odd: the rest is a
//! bundle *body*, and the harness writes a valid header for it (magic, version, length,
//! BLAKE3), so the fuzzer gets past the checksum and exercises archive validation,
//! `validate::check`, the index building and the embedded GeoIP reader: whatever loads
//! must also answer lookups without panicking.

#![no_main]

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mirrorlist::snapshot::bundle::{FORMAT_VERSION, HEADER_LEN, MAGIC};
use mirrorlist::snapshot::Snapshot;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("mirrorlist-fuzz-{}.bundle", std::process::id()))
    })
}

fn header_for(body: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    h[16..24].copy_from_slice(&(body.len() as u64).to_le_bytes());
    h[24..32].copy_from_slice(&1_700_000_000u64.to_le_bytes());
    h[32..64].copy_from_slice(blake3::hash(body).as_bytes());
    h
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = scratch();
    {
        let mut file = std::fs::File::create(path).expect("scratch file");
        if mode & 1 == 1 {
            file.write_all(&header_for(rest)).unwrap();
        }
        file.write_all(rest).unwrap();
    }
    let Ok(snapshot) = Snapshot::load(path) else {
        return;
    };
    // It loaded, so every lookup a request makes must work, and so must whole requests.
    for ip in [
        "198.51.100.70",
        "2001:db8:840:cafe::10",
        "127.0.0.1",
        "89.160.20.115",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        let mut nets = Vec::new();
        snapshot.netblocks_of(ip, &mut nets);
        let _ = snapshot.asn_of(ip);
        if let Some(country) = snapshot.country_of(ip) {
            let _ = snapshot.continent_of(&country);
        }
    }
    common::serve_a_few(&snapshot);
});
