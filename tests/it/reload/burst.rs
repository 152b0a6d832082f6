//! A burst of reload requests becomes one or two reloads, never a queue, and the newest input
//! wins: 50 SIGHUPs spread over about half a second (within one second), with the bundle
//! replaced by a newer one halfway through the burst. The server logs `reload started` once per
//! reload; at most two may follow the burst, and afterwards the newest bundle is served.
//!
//! A reload of the sample takes milliseconds, so without the reloader's minimum interval
//! between reload starts (default 1 s) such a burst would run a reload per signal; the
//! interval is what makes "at most two" hold for any burst shorter than it. The server runs
//! with the default.

use std::time::{Duration, Instant};

use crate::support::reload::{
    bundle_bytes, count_messages, generation, log_lines, serve, wait_generation, Hosts,
    SAMPLE_GENERATED_AT,
};
use crate::support::{arg, replace_atomically, send_signal, tempdir, MIRRORLIST};

const GEN_1: u64 = SAMPLE_GENERATED_AT + 100;
const GEN_2: u64 = SAMPLE_GENERATED_AT + 200;
const GEN_3: u64 = SAMPLE_GENERATED_AT + 300;
const SIGNALS: usize = 50;

/// How long the server must stay quiet after the newest input is served before the reloads
/// are counted. A fixed wait is the only way to see that nothing more happens; a third reload
/// would start one minimum interval (1 s) after the second.
const QUIET: Duration = Duration::from_millis(2500);

/// Time between two signals of the burst.
const SPACING: Duration = Duration::from_millis(10);

/// A burst that took longer than this (a loaded machine can stall the sender) is not the burst
/// the test is about; it is sent again, up to three rounds.
const BURST_LIMIT: Duration = Duration::from_millis(900);

#[test]
fn fifty_sighups_in_a_second_run_at_most_two_reloads_of_the_newest_input() {
    let work = tempdir();
    let first = bundle_bytes(work.path(), GEN_1, Hosts::Sample);
    let live = work.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let path = live.join("current.bundle");
    std::fs::write(&path, &first).unwrap();
    let server = serve(&["--bundle", &arg(&path)]);
    let mut sequence = wait_generation(&server, GEN_1, 0);

    // Round 1 replaces GEN_1 with GEN_2 then GEN_3 (Sample, Renamed hosts); a retried round
    // goes on from what is served, so "newest" always means the second bundle of the round.
    let rounds = [
        (GEN_2, GEN_3),
        (GEN_3 + 100, GEN_3 + 200),
        (GEN_3 + 300, GEN_3 + 400),
    ];
    for (attempt, (mid, last)) in rounds.into_iter().enumerate() {
        let mid_bytes = bundle_bytes(work.path(), mid, Hosts::Sample);
        let last_bytes = bundle_bytes(work.path(), last, Hosts::Renamed);
        replace_atomically(&path, &mid_bytes);
        let skip = log_lines(&server).len();

        let started = Instant::now();
        for i in 0..SIGNALS {
            if i == SIGNALS / 2 {
                replace_atomically(&path, &last_bytes);
            }
            send_signal(server.pid(), libc::SIGHUP);
            std::thread::sleep(SPACING);
        }
        let sent_in = started.elapsed();

        let newest = wait_generation(&server, last, sequence);
        std::thread::sleep(QUIET);
        let started_reloads = count_messages(&server, skip, "reload started");
        let installed = count_messages(&server, skip, "snapshot installed");
        let r = server.get(MIRRORLIST);
        eprintln!(
            "round {attempt}: {SIGNALS} SIGHUPs in {sent_in:?}: {started_reloads} reloads, \
             {installed} installed, now {:?}",
            generation(&r)
        );
        if sent_in > BURST_LIMIT && attempt + 1 < rounds.len() {
            sequence = generation(&r).map_or(newest, |(_, s)| s);
            continue; // the sender stalled mid-burst: not a burst; try again
        }
        assert!(
            sent_in < Duration::from_secs(1),
            "{SIGNALS} signals took {sent_in:?}"
        );
        assert!(
            (1..=2).contains(&started_reloads),
            "{started_reloads} reloads ran for one burst of {SIGNALS} SIGHUPs"
        );
        assert_eq!(
            installed, started_reloads,
            "every reload of good input installs"
        );
        // The newest input is what is served, by the last reload, and nothing came after it.
        assert_eq!(r.status, 200);
        let (generated_at, now) = generation(&r).expect("generation header");
        assert_eq!(generated_at, last);
        assert!(now >= newest);
        assert_eq!(now, sequence + installed as u64, "one sequence per install");
        assert!(Hosts::Renamed.matches(&r.text()), "{}", r.text());
        return;
    }
    unreachable!("the last round asserts");
}
