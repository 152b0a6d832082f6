//! One probe round: fetch `repodata/repomd.xml` from a few directories of every public host,
//! compare each with the published versions, and turn what came back, with the previous
//! round's file, into a new [`Health`].
//!
//! Bounded everywhere a mirror could hold it up: at most `concurrency` hosts at once, every
//! request under `timeout` (connect, headers and body), a host's `sample` requests made at the
//! same time (a host costs one timeout at most), and a body read only up to a limit.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ring::digest;

use super::file::FORMAT_VERSION;
use super::model::{host_key, Family, Health, HostHealth, State};
use crate::snapshot::model::{ArchivedDirectory, FileDetails};
use crate::snapshot::Snapshot;

/// The file every sampled directory is checked for.
pub const PROBED_FILE: &str = "repomd.xml";

/// How a round runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per request: connect, headers and body together.
    pub timeout: Duration,
    /// Hosts probed at once.
    pub concurrency: usize,
    /// Directories sampled per host per round.
    pub sample: usize,
    /// Failing rounds in a row before a host is marked down or missing.
    pub fail_after: u32,
    /// Time between rounds; the file is valid for [`VALIDITY_ROUNDS`] of them.
    pub interval: Duration,
}

/// A file stays valid for this many intervals after it is written: a probe that misses a round
/// or two does not take health away from the server, one that stopped does.
pub const VALIDITY_ROUNDS: u64 = 3;

/// A host the probe checks and every (directory, URL) it may sample, interleaved over its
/// categories so that any run of consecutive entries spreads over them.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host's [`host_key`].
    pub name: String,
    /// `(directory index, base URL index)` pairs.
    pub checks: Vec<(u32, u32)>,
}

/// One host's checks by category top directory.
type ByCategory<'s> = BTreeMap<&'s str, Vec<(u32, u32)>>;

/// The hosts of `snapshot` the probe checks, by [`host_key`]: public hosts that carry at least
/// one directory with `repomd.xml` details under an http or https URL. The server passes
/// these to [`Health::applicable`].
pub fn probed_host_names(snapshot: &Snapshot) -> Vec<String> {
    targets(snapshot).into_iter().map(|t| t.name).collect()
}

/// Every public host carrying at least one directory with `repomd.xml` details under an
/// https or http URL, sorted by name.
pub fn targets(snapshot: &Snapshot) -> Vec<Target> {
    // host -> category top directory -> checks, so that sampling can spread over categories.
    let mut by_host: BTreeMap<u32, ByCategory> = BTreeMap::new();
    for (dir_idx, dir) in snapshot.data().directories.iter().enumerate() {
        if probed_versions(dir).is_none() {
            continue;
        }
        let top = top_dir(dir);
        for entry in dir.by_host.iter().filter(|e| e.public) {
            let urls = dir.urls_of(entry).iter().map(|u| u.to_native());
            let Some(url) = pick_url(snapshot, urls) else {
                continue;
            };
            let host = entry.host.to_native();
            let checks = by_host.entry(host).or_default().entry(top).or_default();
            checks.push((dir_idx as u32, url));
        }
    }
    let mut targets: Vec<Target> = by_host
        .into_iter()
        .filter_map(|(host, categories)| {
            let h = snapshot.host(host)?;
            Some(Target {
                name: host_key(h.name.as_str(), h.external_id.to_native()),
                checks: interleave(categories.into_values().collect()),
            })
        })
        .collect();
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    targets
}

/// The directory's category top directory: its name without the subpath.
fn top_dir(dir: &ArchivedDirectory) -> &str {
    let name = dir.name.as_str();
    let top = name.strip_suffix(dir.subpath.as_str()).unwrap_or(name);
    top.strip_suffix('/').unwrap_or(top)
}

/// The published versions of the probed file in `dir`, newest first, if it has any.
fn probed_versions(
    dir: &ArchivedDirectory,
) -> Option<&[crate::snapshot::model::ArchivedFileDetails]> {
    let files = &dir.files;
    let at = files
        .binary_search_by(|f| f.name.as_str().cmp(PROBED_FILE))
        .ok()?;
    let details = files.get(at)?.details.as_slice();
    (!details.is_empty()).then_some(details)
}

/// The host's https URL if it has one, else its http one: what a client would most likely use,
/// and https also checks the certificate.
fn pick_url(snapshot: &Snapshot, urls: impl Iterator<Item = u32> + Clone) -> Option<u32> {
    let with = |scheme: &str| {
        urls.clone().find(|&u| {
            snapshot
                .base_url(u)
                .split_once(':')
                .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme))
        })
    };
    with("https").or_else(|| with("http"))
}

/// First of each list, then second of each, and so on.
fn interleave<T: Copy>(lists: Vec<Vec<T>>) -> Vec<T> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| lists.iter().filter_map(move |l| l.get(i).copied()))
        .collect()
}

/// Which of `len` checks round `round` samples: a window of `sample` that moves by `sample`
/// each round, so every check is made within `ceil(len / sample)` rounds.
fn window(len: usize, sample: usize, round: u64) -> impl Iterator<Item = usize> {
    let take = sample.min(len);
    let start = if len == 0 {
        0
    } else {
        ((round % len as u64) as usize * (sample % len)) % len
    };
    (0..take).map(move |i| (start + i) % len.max(1))
}

/// One request of a round: what to fetch and what it should be.
#[derive(Debug, Clone)]
pub struct Probe {
    pub url: String,
    /// Published versions, newest first.
    pub versions: Vec<FileDetails>,
}

/// One host's requests this round.
#[derive(Debug, Clone)]
pub struct HostPlan {
    pub name: String,
    pub probes: Vec<Probe>,
}

/// The requests of round `round`.
pub fn plan(snapshot: &Snapshot, targets: &[Target], round: u64, sample: usize) -> Vec<HostPlan> {
    targets
        .iter()
        .map(|t| HostPlan {
            name: t.name.clone(),
            probes: window(t.checks.len(), sample, round)
                .filter_map(|i| t.checks.get(i))
                .filter_map(|&(dir, url)| probe_of(snapshot, dir, url))
                .collect(),
        })
        .collect()
}

fn probe_of(snapshot: &Snapshot, dir_idx: u32, url_idx: u32) -> Option<Probe> {
    let dir = snapshot.directory_at(dir_idx)?;
    let versions = probed_versions(dir)?;
    let base = snapshot.base_url(url_idx).trim_end_matches('/');
    let subpath = dir.subpath.as_str();
    let url = if subpath.is_empty() {
        format!("{base}/{PROBED_FILE}")
    } else {
        format!("{base}/{subpath}/{PROBED_FILE}")
    };
    let versions = versions
        .iter()
        .map(|d| FileDetails {
            timestamp: d.timestamp.to_native(),
            size: d.size.to_native(),
            md5: d.md5.to_string(),
            sha1: d.sha1.to_string(),
            sha256: d.sha256.to_string(),
            sha512: d.sha512.to_string(),
        })
        .collect();
    Some(Probe { url, versions })
}

/// What one request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body matches version `n` (0 = newest).
    Matches(usize),
    /// The body matches no published version.
    Unknown { size: u64, sha256: String },
    /// 404 or 410.
    Gone(u16),
    /// Anything else that is not a file: no connection, TLS, timeout, other status.
    Failed(String),
}

/// One host's verdict for this round, before damping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    pub reason: String,
    pub families: Vec<Family>,
}

/// Builds the HTTP client: certificates verified against the system roots plus `ca_pem`, no
/// proxy from the environment (the probe must see the mirror, not a proxy), a few redirects.
pub fn client(settings: &Settings, ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("mirrorlist-probe/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no PEM certificate in it".into());
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| error_text(&e))
}

/// The innermost cause of an error, which says what happened ("Connection refused",
/// "invalid peer certificate: UnknownIssuer"), where the outer ones repeat the URL.
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Fetches one probe's URL and compares the body; the address it answered on, if any.
pub async fn check(
    client: &reqwest::Client,
    probe: &Probe,
    timeout: Duration,
) -> (Outcome, Option<SocketAddr>) {
    let response = match client.get(&probe.url).send().await {
        Ok(r) => r,
        Err(e) => return (Outcome::Failed(request_error(&e, timeout)), None),
    };
    let remote = response.remote_addr();
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return (Outcome::Gone(status.as_u16()), remote);
    }
    if !status.is_success() {
        return (Outcome::Failed(format!("answered HTTP {status}")), remote);
    }
    let limit = body_limit(&probe.versions);
    match read_body(response, limit).await {
        Ok(Some(body)) => (compare(&probe.versions, &body), remote),
        Ok(None) => {
            let outcome = Outcome::Unknown {
                size: limit,
                sha256: format!("(not read: larger than {limit} bytes)"),
            };
            (outcome, remote)
        }
        Err(e) => (Outcome::Failed(request_error(&e, timeout)), remote),
    }
}

fn request_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no complete answer within {} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        format!("cannot connect: {}", error_text(e))
    } else {
        error_text(e)
    }
}

/// Enough for any published version and some slack; a mirror sending more is not sending the
/// file, and is not read further.
fn body_limit(versions: &[FileDetails]) -> u64 {
    let largest = versions.iter().map(|v| v.size).max().unwrap_or(0);
    if largest == 0 {
        16 << 20
    } else {
        largest.saturating_mul(2).saturating_add(64 << 10)
    }
}

/// The body, or `None` when it is longer than `limit`.
async fn read_body(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Which published version `body` is. A version matches when its size (if known) and each
/// of its sha512, sha256 and sha1 (where given) agree; md5 is not checked, and a version with
/// none of these matches any body.
pub fn compare(versions: &[FileDetails], body: &[u8]) -> Outcome {
    let hashes = Hashes::new(body);
    match versions.iter().position(|v| hashes.matches(v)) {
        Some(n) => Outcome::Matches(n),
        None => Outcome::Unknown {
            size: body.len() as u64,
            sha256: hashes.sha256(),
        },
    }
}

/// A body's digests, each computed when first asked for.
struct Hashes<'a> {
    body: &'a [u8],
    sha1: std::cell::OnceCell<String>,
    sha256: std::cell::OnceCell<String>,
    sha512: std::cell::OnceCell<String>,
}

impl<'a> Hashes<'a> {
    fn new(body: &'a [u8]) -> Self {
        Hashes {
            body,
            sha1: Default::default(),
            sha256: Default::default(),
            sha512: Default::default(),
        }
    }

    fn sha256(&self) -> String {
        self.sha256
            .get_or_init(|| hex(digest::digest(&digest::SHA256, self.body).as_ref()))
            .clone()
    }

    fn matches(&self, v: &FileDetails) -> bool {
        if v.size != 0 && v.size != self.body.len() as u64 {
            return false;
        }
        let same = |cell: &std::cell::OnceCell<String>, alg, want: &str| {
            want.is_empty()
                || cell
                    .get_or_init(|| hex(digest::digest(alg, self.body).as_ref()))
                    .eq_ignore_ascii_case(want)
        };
        same(&self.sha512, &digest::SHA512, &v.sha512)
            && same(&self.sha256, &digest::SHA256, &v.sha256)
            && same(&self.sha1, &digest::SHA1_FOR_LEGACY_USE_ONLY, &v.sha1)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Probes one host: its sampled URLs all at once, so that a host costs at most one timeout
/// however many directories are sampled, and a round of `n` hosts at most
/// `timeout * ceil(n / concurrency)`.
pub async fn check_host(client: &reqwest::Client, plan: &HostPlan, timeout: Duration) -> Verdict {
    let mut requests = tokio::task::JoinSet::new();
    for (i, probe) in plan.probes.iter().enumerate() {
        let (client, probe) = (client.clone(), probe.clone());
        requests.spawn(async move { (i, check(&client, &probe, timeout).await) });
    }
    let mut found = Vec::with_capacity(plan.probes.len());
    while let Some(joined) = requests.join_next().await {
        match joined {
            Ok(result) => found.push(result),
            Err(e) => tracing::error!(host = %plan.name, "a probe request failed: {e}"),
        }
    }
    found.sort_by_key(|(i, _)| *i);
    let mut families = BTreeSet::new();
    let mut results = Vec::with_capacity(found.len());
    for (i, (outcome, remote)) in found {
        if let Some(addr) = remote {
            families.insert(if addr.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            });
        }
        if let Some(probe) = plan.probes.get(i) {
            results.push((probe, outcome));
        }
    }
    let (state, reason) = judge(&results);
    Verdict {
        state,
        reason,
        families: families.into_iter().collect(),
    }
}

/// The host's state from its requests: the worst of them, down > missing > stale > behind >
/// current, with that request's URL and finding as the reason.
fn judge(results: &[(&Probe, Outcome)]) -> (State, String) {
    let state_of = |o: &Outcome| match o {
        Outcome::Matches(0) => State::Current,
        Outcome::Matches(_) => State::Behind,
        Outcome::Unknown { .. } => State::Stale,
        Outcome::Gone(_) => State::Missing,
        Outcome::Failed(_) => State::Down,
    };
    // The first of equally bad findings: `max_by_key` alone would keep the last.
    let worst = results.iter().rev().max_by_key(|(_, o)| state_of(o));
    let Some((probe, outcome)) = worst else {
        return (State::Current, "nothing to sample".into());
    };
    let url = &probe.url;
    let reason = match outcome {
        Outcome::Matches(0) => format!(
            "{} of {} sampled files match the newest version",
            results.len(),
            results.len()
        ),
        Outcome::Matches(n) => {
            let ts = probe.versions.get(*n).map_or(0, |v| v.timestamp);
            format!("{url} matches an older version (timestamp {ts}, {n} behind the newest)")
        }
        Outcome::Unknown { size, sha256 } => {
            format!("{url} ({size} bytes, sha256 {sha256}) matches no published version")
        }
        Outcome::Gone(status) => format!("{url} answered {status}"),
        Outcome::Failed(what) => format!("{url}: {what}"),
    };
    (state_of(outcome), reason)
}

/// The entry a host gets from this round's verdict and its previous entry.
///
/// A failing verdict (down, missing) takes effect only at the `fail_after`-th failing round in
/// a row; before that the host keeps its previous state (a host new to the file counts as
/// current) and the reason says what failed and how many rounds remain. Any other verdict
/// takes effect at once and clears the count.
pub fn settle(
    previous: Option<&HostHealth>,
    verdict: Verdict,
    now: u64,
    fail_after: u32,
) -> HostHealth {
    let families = (!verdict.families.is_empty()).then_some(verdict.families);
    let since_for = |state: State| match previous {
        Some(p) if p.state == state => p.since,
        _ => now,
    };
    if !verdict.state.excluded() {
        return HostHealth {
            state: verdict.state,
            reason: verdict.reason,
            since: since_for(verdict.state),
            checked_at: now,
            failures: 0,
            families,
        };
    }
    let failures = previous.map_or(0, |p| p.failures).saturating_add(1);
    let fail_after = fail_after.max(1);
    if failures >= fail_after {
        return HostHealth {
            state: verdict.state,
            reason: verdict.reason,
            since: since_for(verdict.state),
            checked_at: now,
            failures,
            families,
        };
    }
    let kept = previous.map_or(State::Current, |p| p.state);
    HostHealth {
        state: kept,
        reason: format!(
            "{} (failing round {failures} of {fail_after} before {}; still {kept})",
            verdict.reason, verdict.state
        ),
        since: previous.map_or(now, |p| p.since),
        checked_at: now,
        failures,
        families,
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs one round over `snapshot` and returns the new health. `previous` is the last round's
/// file (counts and `since` carry over from it); `source` describes the input for the file.
///
/// Cancel-safe: dropping the future aborts every request in flight and writes nothing.
pub async fn round(
    client: &reqwest::Client,
    snapshot: &Snapshot,
    source: &str,
    previous: Option<&Health>,
    settings: &Settings,
) -> Health {
    let number = previous.map_or(0, |p| p.round);
    let plans = plan(snapshot, &targets(snapshot), number, settings.sample.max(1));
    let snapshot_generated_at = snapshot.generated_at();
    let verdicts = check_all(client, plans, settings).await;
    let mut hosts = BTreeMap::new();
    for (name, verdict, checked_at) in verdicts {
        let before = previous.and_then(|p| p.hosts.get(&name));
        hosts.insert(
            name,
            settle(before, verdict, checked_at, settings.fail_after),
        );
    }
    let generated_at = unix_now();
    Health {
        format: FORMAT_VERSION,
        generated_at,
        valid_until: generated_at + VALIDITY_ROUNDS * settings.interval.as_secs(),
        snapshot_generated_at,
        source: source.to_string(),
        round: number + 1,
        hosts,
    }
}

/// Every host's verdict with the time it was checked, at most `concurrency` hosts at once.
async fn check_all(
    client: &reqwest::Client,
    plans: Vec<HostPlan>,
    settings: &Settings,
) -> Vec<(String, Verdict, u64)> {
    let permits = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for plan in plans {
        let (client, permits, timeout) = (client.clone(), permits.clone(), settings.timeout);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await.ok();
            let verdict = check_host(&client, &plan, timeout).await;
            (plan.name, verdict, unix_now())
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(v) => out.push(v),
            Err(e) => tracing::error!("a probe task failed: {e}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(ts: u64, body: &[u8]) -> FileDetails {
        FileDetails {
            timestamp: ts,
            size: body.len() as u64,
            sha256: hex(digest::digest(&digest::SHA256, body).as_ref()),
            ..FileDetails::default()
        }
    }

    #[test]
    fn compare_finds_the_version_by_size_and_hashes() {
        let versions = [version(2, b"new"), version(1, b"old")];
        assert_eq!(compare(&versions, b"new"), Outcome::Matches(0));
        assert_eq!(compare(&versions, b"old"), Outcome::Matches(1));
        match compare(&versions, b"odd") {
            Outcome::Unknown { size: 3, sha256 } => assert_eq!(sha256.len(), 64),
            other => panic!("{other:?}"),
        }
        // Size alone, and a sha256 in upper case.
        let sized = FileDetails {
            size: 3,
            ..FileDetails::default()
        };
        assert_eq!(compare(&[sized], b"abc"), Outcome::Matches(0));
        let mut upper = version(1, b"abc");
        upper.sha256 = upper.sha256.to_uppercase();
        assert_eq!(compare(&[upper], b"abc"), Outcome::Matches(0));
        // A wrong sha512 fails even when the size matches.
        let mut bad = version(1, b"abc");
        bad.sha512 = "00".repeat(64);
        assert!(matches!(compare(&[bad], b"abc"), Outcome::Unknown { .. }));
    }

    #[test]
    fn windows_cover_every_check_and_rotate() {
        for len in 0..12usize {
            for sample in 1..5 {
                let mut seen = BTreeSet::new();
                let rounds = len.div_ceil(sample) as u64;
                for round in 0..rounds.max(1) {
                    let w: Vec<usize> = window(len, sample, round).collect();
                    assert_eq!(w.len(), sample.min(len));
                    assert!(w.iter().all(|&i| i < len));
                    seen.extend(w);
                }
                // Rotation by `sample` covers everything in ceil(len / sample) rounds
                // when sample divides evenly; otherwise within len rounds.
                let mut round = rounds;
                while seen.len() < len && round < len as u64 + 1 {
                    seen.extend(window(len, sample, round));
                    round += 1;
                }
                assert_eq!(seen.len(), len, "len {len} sample {sample}");
            }
        }
    }

    #[test]
    fn interleave_spreads_over_lists() {
        assert_eq!(
            interleave(vec![vec![1, 2, 3], vec![10], vec![20, 21]]),
            [1, 10, 20, 2, 21, 3]
        );
    }

    fn verdict(state: State) -> Verdict {
        Verdict {
            state,
            reason: format!("found {state}"),
            families: vec![],
        }
    }

    #[test]
    fn failures_take_fail_after_rounds_and_one_good_round_clears_them() {
        let first = settle(None, verdict(State::Current), 100, 2);
        assert_eq!(
            (first.state, first.since, first.failures),
            (State::Current, 100, 0)
        );
        let one = settle(Some(&first), verdict(State::Down), 200, 2);
        assert_eq!(
            (one.state, one.since, one.failures),
            (State::Current, 100, 1)
        );
        assert!(
            one.reason.contains("failing round 1 of 2 before down"),
            "{}",
            one.reason
        );
        let two = settle(Some(&one), verdict(State::Missing), 300, 2);
        assert_eq!(
            (two.state, two.since, two.failures),
            (State::Missing, 300, 2)
        );
        let three = settle(Some(&two), verdict(State::Missing), 400, 2);
        assert_eq!(
            (three.state, three.since, three.failures),
            (State::Missing, 300, 3)
        );
        let back = settle(Some(&three), verdict(State::Behind), 500, 2);
        assert_eq!(
            (back.state, back.since, back.failures),
            (State::Behind, 500, 0)
        );
        // With --fail-after 1 a new host is down at once.
        let new = settle(None, verdict(State::Down), 600, 1);
        assert_eq!((new.state, new.failures), (State::Down, 1));
    }

    #[test]
    fn the_worst_finding_decides() {
        let p = Probe {
            url: "https://m/x/repomd.xml".into(),
            versions: vec![version(2, b"new"), version(1, b"old")],
        };
        let (s, r) = judge(&[(&p, Outcome::Matches(0)), (&p, Outcome::Matches(1))]);
        assert_eq!(s, State::Behind);
        assert!(r.contains("older version (timestamp 1, 1 behind"), "{r}");
        let (s, _) = judge(&[(&p, Outcome::Gone(404)), (&p, Outcome::Matches(1))]);
        assert_eq!(s, State::Missing);
        let (s, r) = judge(&[(&p, Outcome::Matches(0)), (&p, Outcome::Matches(0))]);
        assert_eq!(
            (s, r.as_str()),
            (
                State::Current,
                "2 of 2 sampled files match the newest version"
            )
        );
    }
}
