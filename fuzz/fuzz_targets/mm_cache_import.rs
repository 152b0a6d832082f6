//! Fuzz target: importing MirrorManager's cache, as `build` and `serve -c` do:
//! `mm_cache::decode`, then `mirrormanager::from_cache`, then `build::compile` (with small,
//! fixed side tables standing in for the netblocks file, the continent CSV and GeoIP).
//!
//! Checked (decision 9): anything `compile` accepts loads as a snapshot, and that snapshot
//! answers requests with the statuses the protocol allows, never a 500 and never a panic.

#![no_main]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mirrorlist::build::compile;
use mirrorlist::inputs::raw::RawGeo;
use mirrorlist::snapshot::Snapshot;
use mirrorlist::inputs::{mirrormanager, mm_cache};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz/mirrorlist_cache.proto");
    let Ok(list) = mm_cache::decode(path, data.to_vec()) else {
        return;
    };
    let Ok(mut raw) = mirrormanager::from_cache(path, &list) else {
        return;
    };
    raw.global_asn = vec![
        ("198.51.100.0/24".parse().unwrap(), 64497),
        ("2001:db8::/32".parse().unwrap(), 64498),
    ];
    raw.country_continent = BTreeMap::from([
        ("DE".to_string(), "EU".to_string()),
        ("SE".to_string(), "EU".to_string()),
        ("US".to_string(), "NA".to_string()),
        ("CN".to_string(), "AS".to_string()),
    ]);
    raw.geo = RawGeo::Networks(vec![
        ("127.0.0.0/8".parse().unwrap(), "DE".to_string()),
        ("89.160.20.0/24".parse().unwrap(), "SE".to_string()),
    ]);
    let Ok(compiled) = compile(raw, "mirrormanager", 0) else {
        return;
    };
    let snapshot = Snapshot::from_data(&compiled.data)
        .unwrap_or_else(|e| panic!("compile accepted data that does not load: {e}"));
    common::serve_a_few(&snapshot);
});
