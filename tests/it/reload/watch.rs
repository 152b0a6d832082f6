//! `--watch` beyond a single bundle: in drop-in mode (`-c -g --cccsv --geoip`) the directories
//! of all four inputs are watched and a change to any of them reloads all four; with
//! `--source DIR` the source directory is. Writes to other files in those directories do not
//! reload, a deleted input fails the reload with a log line naming it (the old snapshot stays),
//! and its return reloads.

use std::path::Path;

use crate::support::reload::{
    count_messages, generation, log_lines, serve, wait_generation, wait_log, write_source, Hosts,
    SAMPLE_GENERATED_AT,
};
use crate::support::{
    arg, mm_small, replace_atomically, tempdir, wait_for, Server, LIMIT, MIRRORLIST,
};

const FAILED: &str = "reload failed; still serving the previous snapshot";

/// A request the mm-small fixture answers with a list.
const MM_MIRRORLIST: &str = "/mirrorlist?repo=fedora-41&arch=x86_64";

/// The sequence the server answers with now.
fn sequence(server: &Server) -> u64 {
    let r = server.get(MIRRORLIST);
    generation(&r).map_or(0, |(_, s)| s)
}

/// Waits for an install after log line `skip` and returns the new sequence.
fn wait_install(server: &Server, skip: usize, before: u64) -> u64 {
    wait_log(server, skip, &["snapshot installed"]);
    wait_for("a higher sequence", LIMIT, || {
        let s = sequence(server);
        (s > before).then_some(s)
    })
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

#[test]
fn drop_in_inputs_are_watched_in_every_directory() {
    let work = tempdir();
    // Two directories, as on a real host (/var/lib/mirrormanager, /usr/share/GeoIP).
    let mm = work.path().join("mm");
    let geo = work.path().join("geo");
    std::fs::create_dir_all(&mm).unwrap();
    std::fs::create_dir_all(&geo).unwrap();
    let cache = mm.join("mirrorlist_cache.proto");
    let netblocks = mm.join("global_netblocks.txt");
    let cccsv = geo.join("country_continent.csv");
    let geoip = geo.join("GeoIP2-Country-Test.mmdb");
    copy(&mm_small("mirrorlist_cache.proto"), &cache);
    copy(&mm_small("global_netblocks.txt"), &netblocks);
    copy(&mm_small("country_continent.csv"), &cccsv);
    copy(&mm_small("GeoIP2-Country-Test.mmdb"), &geoip);

    let server = serve(&[
        "-c",
        &arg(&cache),
        "-g",
        &arg(&netblocks),
        "--cccsv",
        &arg(&cccsv),
        "--geoip",
        &arg(&geoip),
        "--watch",
        "--reload-interval-ms",
        "50",
    ]);
    let (_, watching) = wait_log(&server, 0, &["watching the input files for changes"]);
    assert!(
        watching.contains(&arg(&mm)) && watching.contains(&arg(&geo)),
        "{watching}"
    );
    let mut seq = wait_for("the first snapshot", LIMIT, || {
        let s = sequence(&server);
        (s > 0).then_some(s)
    });

    // Each input, replaced atomically, reloads.
    for input in [&cache, &netblocks, &cccsv, &geoip] {
        let skip = log_lines(&server).len();
        replace_atomically(input, &std::fs::read(input).unwrap());
        seq = wait_install(&server, skip, seq);
    }

    // Another file in a watched directory does not.
    let skip = log_lines(&server).len();
    std::fs::write(mm.join("notes.txt"), "not an input").unwrap();
    // Nothing may happen; waiting well past the debounce (200 ms) is how to see that.
    std::thread::sleep(std::time::Duration::from_secs(1));
    // Then a real change: the only reload after `skip` must be this one's.
    replace_atomically(&cccsv, &std::fs::read(&cccsv).unwrap());
    seq = wait_install(&server, skip, seq);
    assert_eq!(count_messages(&server, skip, "reload started"), 1);

    // The GeoIP database deleted: refused, named, old snapshot serving; back: reloaded.
    let skip = log_lines(&server).len();
    let saved = std::fs::read(&geoip).unwrap();
    std::fs::remove_file(&geoip).unwrap();
    wait_log(&server, skip, &[FAILED, &arg(&geoip)]);
    let r = server.get(MM_MIRRORLIST);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(generation(&r).map(|(_, s)| s), Some(seq));
    let skip = log_lines(&server).len();
    replace_atomically(&geoip, &saved);
    wait_install(&server, skip, seq);
}

#[test]
fn a_source_directory_is_watched() {
    let work = tempdir();
    let src = work.path().join("src");
    write_source(&src, SAMPLE_GENERATED_AT + 10, Hosts::Sample);
    let server = serve(&["--source", &arg(&src), "--watch"]);
    wait_generation(&server, SAMPLE_GENERATED_AT + 10, 0);

    // New content in mirrors.toml (written elsewhere, renamed in): the new data is served.
    let next = work.path().join("next");
    write_source(&next, SAMPLE_GENERATED_AT + 20, Hosts::Renamed);
    replace_atomically(
        &src.join("mirrors.toml"),
        &std::fs::read(next.join("mirrors.toml")).unwrap(),
    );
    wait_generation(&server, SAMPLE_GENERATED_AT + 20, 1);
    let r = server.get(MIRRORLIST);
    assert!(Hosts::Renamed.matches(&r.text()), "{}", r.text());
}
