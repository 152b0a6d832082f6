//! Helpers shared by the fuzz targets.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use mirrorlist::answer::{answer, Client, Reply, Settings};
use mirrorlist::answer::request::{Mode, Params};
use mirrorlist::snapshot::Snapshot;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// A fixed "now", so runs are reproducible.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// Answers one request the way the server does (with a seeded RNG), and checks the status is
/// one the server may send for it: never a 500, whatever the data.
pub fn ask(snapshot: &Snapshot, mode: Mode, query: &str, client: Client) -> Reply {
    let params = Params::parse(query);
    let mut rng = SmallRng::seed_from_u64(7);
    let reply = answer(
        snapshot,
        mode,
        &params,
        client,
        &Settings::default(),
        &mut rng,
        now(),
    );
    assert!(
        matches!(reply.status, 200 | 302 | 400 | 404),
        "status {} for {query:?}",
        reply.status
    );
    reply
}

/// Asks a snapshot that loaded (or compiled) a few requests of every kind, for the first
/// repo/arch pairs and directories it holds, from a few kinds of client.
pub fn serve_a_few(snapshot: &Snapshot) {
    let clients: [IpAddr; 4] = [
        "198.51.100.70".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        "2001:db8:840:cafe::10".parse().unwrap(),
        "89.160.20.115".parse().unwrap(),
    ];
    let data = snapshot.data();
    let mut queries = vec!["".to_string(), "path=nowhere".to_string()];
    for entry in data.repo_arch.iter().take(3) {
        if let Some((repo, arch)) = entry.key.as_str().split_once('+') {
            queries.push(format!("repo={repo}&arch={arch}"));
            queries.push(format!(
                "repo={repo}&arch={arch}&country=global&protocol=https,http"
            ));
            queries.push(format!("repo={repo}&arch={arch}&redirect=1&netblock=0"));
        }
    }
    for dir in data.directories.iter().take(2) {
        queries.push(format!("path={}", dir.name.as_str()));
    }
    for query in &queries {
        for (i, ip) in clients.iter().enumerate() {
            let mode = if i % 2 == 0 {
                Mode::Mirrorlist
            } else {
                Mode::Metalink
            };
            ask(snapshot, mode, query, Client::Addr(*ip));
        }
    }
    ask(snapshot, Mode::Mirrorlist, "repo=a&arch=b", Client::BadIp);
}
