//! Live reload under load: while client threads send mirrorlist and metalink requests without
//! pause over loopback keep-alive connections, the test switches the served data between two
//! bundles 100 times (`--allow-older`), half by SIGHUP and half by replacing the file under
//! `--watch`. It proves no request fails or gets a 5xx during a swap, and that every answer is
//! the one its `X-Mirrorlist-Generation` names: bundle A lists only `*.example.*` hosts,
//! bundle B only `*.exampleb.*` hosts, so a body that mixed the two, or came from the other
//! snapshot than its header says, is caught.
//!
//! Layout, so both triggers can run on one server: the served path `watched/current.bundle` is
//! a symlink into `store/`. A watch step writes a new file in `store/` and renames a new symlink
//! over `watched/current.bundle` (an atomic replace of the name the watch follows). A SIGHUP step
//! renames new content over the symlink's target in `store/`, which nothing watches, and sends
//! SIGHUP: only the signal can make the server see it.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::reload::{
    bundle_bytes, count_messages, generation, serve, wait_generation, Hosts, SAMPLE_GENERATED_AT,
};
use crate::support::{
    arg, replace_atomically, send_signal, tempdir, wait_for, KeepAlive, LIMIT, METALINK, MIRRORLIST,
};

const STEPS: usize = 100;
const CLIENTS: usize = 4;
/// Bounds on the load, whichever comes first (the driver normally stops it much earlier).
const MAX_REQUESTS_PER_CLIENT: u64 = 2_000_000;
const MAX_LOAD_TIME: Duration = Duration::from_secs(400);

const GEN_A: u64 = SAMPLE_GENERATED_AT + 1_000;
const GEN_B: u64 = SAMPLE_GENERATED_AT + 2_000;

/// What the clients saw.
#[derive(Default)]
struct Seen {
    failures: Vec<String>,
    /// Responses per data generation.
    by_generation: BTreeMap<u64, u64>,
    /// Which generation each sequence answered with (must be one per sequence).
    sequence_generation: BTreeMap<u64, u64>,
}

fn hosts_of(generated_at: u64) -> Option<Hosts> {
    match generated_at {
        GEN_A => Some(Hosts::Sample),
        GEN_B => Some(Hosts::Renamed),
        _ => None,
    }
}

/// One client: requests in a loop until told to stop, checking every answer.
fn client(
    addr: std::net::SocketAddr,
    id: usize,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
    seen: Arc<Mutex<Seen>>,
) {
    let started = Instant::now();
    let mut local = Seen::default();
    let mut conn = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed)
        && n < MAX_REQUESTS_PER_CLIENT
        && started.elapsed() < MAX_LOAD_TIME
    {
        let target = if (n + id as u64) % 3 == 0 {
            METALINK
        } else {
            MIRRORLIST
        };
        n += 1;
        if conn.is_none() {
            match KeepAlive::connect(addr) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    local.failures.push(format!("client {id}: connect: {e}"));
                    continue;
                }
            }
        }
        let response = match conn.as_mut().map(|c| c.get(target)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                local.failures.push(format!("client {id}: {target}: {e}"));
                conn = None;
                continue;
            }
            None => continue,
        };
        total.fetch_add(1, Ordering::Relaxed);
        if response.status != 200 {
            local.failures.push(format!(
                "client {id}: {target}: status {}: {}",
                response.status,
                response.text()
            ));
            continue;
        }
        let Some((generated_at, sequence)) = generation(&response) else {
            local
                .failures
                .push(format!("client {id}: {target}: no generation header"));
            continue;
        };
        let body = response.text();
        match hosts_of(generated_at) {
            Some(hosts) if hosts.matches(&body) => {}
            _ => {
                local.failures.push(format!(
                    "client {id}: {target}: generation {generated_at}/{sequence} answered with a body of other data:\n{body}"
                ));
                continue;
            }
        }
        *local.by_generation.entry(generated_at).or_default() += 1;
        if let Some(before) = local.sequence_generation.insert(sequence, generated_at) {
            if before != generated_at {
                local.failures.push(format!(
                    "client {id}: sequence {sequence} answered as {before} and as {generated_at}"
                ));
            }
        }
    }
    let mut all = seen.lock().unwrap();
    all.failures.extend(local.failures);
    for (g, c) in local.by_generation {
        *all.by_generation.entry(g).or_default() += c;
    }
    for (s, g) in local.sequence_generation {
        if let Some(before) = all.sequence_generation.insert(s, g) {
            if before != g {
                all.failures
                    .push(format!("sequence {s} answered as {before} and as {g}"));
            }
        }
    }
}

/// Writes `bytes` as a new file in `store` and returns its path.
fn new_store_file(store: &Path, step: usize, bytes: &[u8]) -> PathBuf {
    let path = store.join(format!("v{step}.bundle"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn alternating_bundles_under_load_never_fail_or_mix() {
    let work = tempdir();
    let a = bundle_bytes(work.path(), GEN_A, Hosts::Sample);
    let b = bundle_bytes(work.path(), GEN_B, Hosts::Renamed);
    let store = work.path().join("store");
    let watched = work.path().join("watched");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&watched).unwrap();
    let current = watched.join("current.bundle");
    let mut target = new_store_file(&store, 0, &a);
    symlink(&target, &current).unwrap();

    // A short minimum interval between reloads (default 1 s) keeps 100 swaps quick.
    let server = serve(&[
        "--bundle",
        &arg(&current),
        "--watch",
        "--allow-older",
        "--reload-interval-ms",
        "20",
    ]);
    let mut sequence = wait_generation(&server, GEN_A, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (stop, total, seen) = (stop.clone(), total.clone(), seen.clone());
            let addr = server.addr();
            std::thread::spawn(move || client(addr, id, stop, total, seen))
        })
        .collect();
    // The load is running before the first swap.
    wait_for("the clients' first answers", LIMIT, || {
        (total.load(Ordering::Relaxed) >= CLIENTS as u64).then_some(())
    });

    let (mut by_hup, mut by_watch) = (0, 0);
    let started = Instant::now();
    for step in 1..=STEPS {
        let (bytes, generated_at) = if step % 2 == 1 {
            (&b, GEN_B)
        } else {
            (&a, GEN_A)
        };
        // Steps 1,2 by SIGHUP, 3,4 by the watch, ...: each way loads both bundles.
        if (step - 1) / 2 % 2 == 0 {
            replace_atomically(&target, bytes);
            send_signal(server.pid(), libc::SIGHUP);
            by_hup += 1;
        } else {
            target = new_store_file(&store, step, bytes);
            let link = watched.join(".next.link");
            let _ = std::fs::remove_file(&link);
            symlink(&target, &link).unwrap();
            std::fs::rename(&link, &current).unwrap();
            by_watch += 1;
        }
        sequence = wait_generation(&server, generated_at, sequence);
    }
    let swaps_took = started.elapsed();
    let before_stop = total.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }

    let seen = seen.lock().unwrap();
    let total = total.load(Ordering::Relaxed);
    eprintln!(
        "{STEPS} swaps ({by_hup} by SIGHUP, {by_watch} by --watch) in {swaps_took:?}; \
         {total} responses: {:?}; last sequence {sequence}",
        seen.by_generation
    );
    assert!(
        seen.failures.is_empty(),
        "{} failed or inconsistent responses, first: {:#?}",
        seen.failures.len(),
        &seen.failures[..seen.failures.len().min(5)]
    );
    assert_eq!((by_hup, by_watch), (STEPS / 2, STEPS / 2));
    assert!(
        sequence > STEPS as u64,
        "{STEPS} swaps, last sequence {sequence}"
    );
    // The load really overlapped the swaps, and both snapshots answered it.
    assert!(
        before_stop >= (STEPS * CLIENTS) as u64,
        "only {before_stop} responses"
    );
    assert!(seen.by_generation.get(&GEN_A).copied().unwrap_or(0) > 0);
    assert!(seen.by_generation.get(&GEN_B).copied().unwrap_or(0) > 0);
    assert!(
        seen.sequence_generation.len() > STEPS / 4,
        "answers came from only {} of the {sequence} snapshots",
        seen.sequence_generation.len()
    );
    // Every trigger installed; none failed.
    assert_eq!(
        count_messages(
            &server,
            0,
            "reload failed; still serving the previous snapshot"
        ),
        0
    );
    assert!(count_messages(&server, 0, "snapshot installed") > STEPS);
}
