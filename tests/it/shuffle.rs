//! Every answer over HTTP is a fresh weighted shuffle, though the server keeps each
//! directory's rendered lines from one answer to the next (`answer::render::lines`): over
//! thousands of requests, each host comes first as often as its bandwidth says; the kept lines
//! are the ones the answer would have made from its parts; and a reload that changes a URL is
//! answered with the new one on every connection.

use std::path::Path;

use super::support::reload::{generation, serve, wait_generation_of};
use super::support::{arg, send_signal, tempdir, KeepAlive, Response, Server};

/// The bandwidths of the hosts, `h0` to `h6`: their weights.
const BANDWIDTHS: [u64; 7] = [10_000, 5_000, 2_000, 1_000, 300, 100, 1];
const ASK: &str = "/mirrorlist?repo=shuffled&arch=x86_64&ip=192.0.2.7";

/// A native source: a host per bandwidth (`h0`, `h1`, ...), all of one country and public,
/// carrying one directory, each with an https and an http URL under `domain`; no geo data, so
/// every client gets the global list. The hosts in `left_out` are not there (so the others'
/// places in the data move).
fn write_source(
    dir: &Path,
    generated_at: u64,
    domain: &str,
    bandwidths: &[u64],
    left_out: &[usize],
) {
    std::fs::create_dir_all(dir).unwrap();
    let mut toml = format!(
        r#"generated_at = {generated_at}

[[category]]
name = "Fedora Linux"
topdir = "pub/fedora/linux"
directories = ["updates/42/Everything/x86_64"]

[[repo]]
repo = "shuffled"
arch = "x86_64"
category = "Fedora Linux"
directory = "updates/42/Everything/x86_64"
"#
    );
    for (i, bandwidth) in bandwidths.iter().enumerate() {
        if left_out.contains(&i) {
            continue;
        }
        toml.push_str(&format!(
            r#"
[[host]]
name = "h{i}.{domain}"
country = "SE"
bandwidth = {bandwidth}
  [[host.category]]
  name = "Fedora Linux"
  urls = ["http://h{i}.{domain}/fedora", "https://h{i}.{domain}/fedora"]
"#
        ));
    }
    std::fs::write(dir.join("mirrors.toml"), toml).unwrap();
}

/// The URL lines of a mirrorlist answer (after its header).
fn url_lines(r: &Response) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text());
    r.text().lines().skip(1).map(str::to_string).collect()
}

/// Which host (`h0`..`h6`) a line names.
fn host_of(line: &str) -> usize {
    let name = line
        .split("://h")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .unwrap_or_else(|| panic!("no host in {line:?}"));
    name.parse()
        .unwrap_or_else(|_| panic!("no host in {line:?}"))
}

/// Rewrites `source` (generation `generated_at`, hosts under `domain`, `left_out` left out)
/// and reloads `server` with SIGHUP; the new snapshot's sequence number, once it answers.
fn reload_to(
    server: &Server,
    source: &Path,
    (generated_at, after): (u64, u64),
    domain: &str,
    bandwidths: &[u64],
    left_out: &[usize],
) -> u64 {
    write_source(source, generated_at, domain, bandwidths, left_out);
    send_signal(server.pid(), libc::SIGHUP);
    wait_generation_of(server, ASK, generated_at, after)
}

/// Asserts that each connection's next `asks` answers come from `generation`, name only URLs
/// under `domain`, and list exactly the hosts `0..hosts` but `left_out`.
fn assert_answers_list(
    clients: &mut [KeepAlive],
    asks: usize,
    generation_of_answers: (u64, u64),
    domain: &str,
    (hosts, left_out): (usize, &[usize]),
) {
    let want_hosts: Vec<usize> = (0..hosts).filter(|i| !left_out.contains(i)).collect();
    let want = format!(".{domain}/");
    for client in clients {
        for _ in 0..asks {
            let r = client.get(ASK).unwrap();
            assert_eq!(generation(&r), Some(generation_of_answers));
            let lines = url_lines(&r);
            assert!(
                lines.iter().all(|l| l.contains(&want)),
                "{domain}: {lines:?}"
            );
            let mut listed: Vec<usize> = lines.iter().map(|l| host_of(l)).collect();
            listed.sort_unstable();
            assert_eq!(
                listed, want_hosts,
                "{domain} without {left_out:?}: {lines:?}"
            );
        }
    }
}

#[test]
fn each_answer_is_a_fresh_weighted_shuffle() {
    let tmp = tempdir();
    let source = tmp.path().join("source");
    write_source(&source, 1_767_225_600, "example.org", &BANDWIDTHS, &[]);
    let server = serve(&["--source", &arg(&source)]);

    // The kept lines are what the answer makes from its parts: `protocol=` takes the other
    // path, through the same hosts' https URLs.
    let mut client = KeepAlive::connect(server.addr()).unwrap();
    let plain = url_lines(&client.get(ASK).unwrap());
    let mut by_parts = url_lines(&client.get(&format!("{ASK}&protocol=https")).unwrap());
    let mut sorted = plain.clone();
    sorted.sort();
    by_parts.sort();
    assert_eq!(sorted, by_parts);
    assert_eq!(sorted.len(), BANDWIDTHS.len());
    for (i, line) in sorted.iter().enumerate() {
        assert_eq!(
            *line,
            format!("https://h{i}.example.org/fedora/updates/42/Everything/x86_64/")
        );
    }

    // First places over many answers, on a few connections (the server's threads each keep
    // their own lines): host i comes first with probability w_i / sum(w). The count is
    // binomial; a correct shuffle stays within 5 standard deviations with probability above
    // 1 - 1e-6 per host, while one answer reused, or an unweighted shuffle, is off by many.
    let draws = 4_000usize;
    let mut first = [0usize; BANDWIDTHS.len()];
    let mut orders = std::collections::HashSet::new();
    let mut clients: Vec<KeepAlive> = (0..4)
        .map(|_| KeepAlive::connect(server.addr()).unwrap())
        .collect();
    let connections = clients.len();
    for n in 0..draws {
        let lines = url_lines(&clients[n % connections].get(ASK).unwrap());
        let hosts: Vec<usize> = lines.iter().map(|l| host_of(l)).collect();
        let mut seen = hosts.clone();
        seen.sort();
        assert_eq!(seen, (0..BANDWIDTHS.len()).collect::<Vec<_>>(), "{lines:?}");
        first[hosts[0]] += 1;
        orders.insert(hosts);
    }
    let weights: Vec<f64> = BANDWIDTHS.iter().map(|b| *b as f64).collect();
    let total: f64 = weights.iter().sum();
    let n = draws as f64;
    for (i, w) in weights.iter().enumerate() {
        let p = w / total;
        let (mean, sd) = (n * p, (n * p * (1.0 - p)).sqrt());
        assert!(
            (first[i] as f64 - mean).abs() <= 5.0 * sd.max(1.0),
            "h{i} (weight {w}): first {} times in {draws}, expected {mean:.1} +- {:.1}; all {first:?}",
            first[i],
            5.0 * sd.max(1.0)
        );
    }
    // Whole orders vary too, not only the first place.
    assert!(orders.len() > 200, "{} distinct orders", orders.len());

    // Reloads that move every host to another domain, every other one also leaving a host out:
    // every connection's next answer has the new URLs and hosts, none of the kept old ones.
    // Several, so that a new snapshot is likely to be mapped where an earlier one was (what a
    // thread keeps for a directory, its lines and its hosts' places, must not be told apart
    // by address alone).
    let mut sequence = generation(&clients[0].get(ASK).unwrap()).unwrap().1;
    let rounds: [(&str, &[usize]); 6] = [
        ("example.net", &[1]),
        ("example.com", &[]),
        ("example.org", &[1]),
        ("example.net", &[]),
        ("example.com", &[4]),
        ("example.org", &[]),
    ];
    for (round, (domain, left_out)) in rounds.into_iter().enumerate() {
        let generated_at = 1_767_225_601 + round as u64;
        let at = (generated_at, sequence);
        sequence = reload_to(&server, &source, at, domain, &BANDWIDTHS, left_out);
        let hosts = (BANDWIDTHS.len(), left_out);
        assert_answers_list(&mut clients, 4, (generated_at, sequence), domain, hosts);
    }
}

/// Reloads between data whose directory has 39 of 40 hosts, a different one left out each
/// time: every answer lists exactly the new snapshot's hosts, so nothing a thread keeps for a
/// directory (its rendered lines; with this many hosts, `select`'s table of the hosts' places)
/// is taken from an older snapshot. The connections ask only after every other reload, so a
/// thread may last have answered from a snapshot two reloads back. (Kept lines that are never
/// dropped fail this; a positions table keyed by address alone passes it, since only the
/// thread's last table is kept and the new snapshot was not seen mapped at that one's address.)
#[test]
fn reloads_that_change_the_hosts_are_answered_with_the_new_hosts() {
    let bandwidths = [100u64; 40];
    let tmp = tempdir();
    let source = tmp.path().join("source");
    write_source(&source, 1_767_225_600, "example.org", &bandwidths, &[]);
    let server = serve(&["--source", &arg(&source)]);
    let mut clients: Vec<KeepAlive> = (0..4)
        .map(|_| KeepAlive::connect(server.addr()).unwrap())
        .collect();
    let mut sequence = generation(&clients[0].get(ASK).unwrap()).unwrap().1;
    for round in 0..12u64 {
        let left_out = [(round as usize * 7) % 40];
        let generated_at = 1_767_225_601 + round;
        let at = (generated_at, sequence);
        sequence = reload_to(&server, &source, at, "example.org", &bandwidths, &left_out);
        if round % 2 == 1 {
            let hosts = (bandwidths.len(), &left_out[..]);
            assert_answers_list(
                &mut clients,
                3,
                (generated_at, sequence),
                "example.org",
                hosts,
            );
        }
    }
}
