//! `mirrorlist probe`: load the mirror data, probe every public host, write the health file,
//! and (without `--once`) do it again every `--interval` seconds, reloading the data each time.
//!
//! | signal          | effect                                                         |
//! |-----------------|----------------------------------------------------------------|
//! | SIGTERM, SIGINT | abandon the round in progress (nothing written), exit 0        |

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::args::ProbeArgs;
use crate::build::source::Source;
use crate::health::probe::{self, Settings};
use crate::health::{file, Health};
use crate::snapshot::Snapshot;

pub fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    let source = args.input.source()?;
    let settings = Settings {
        timeout: Duration::from_secs(args.timeout),
        concurrency: usize::try_from(args.concurrency).unwrap_or(usize::MAX),
        sample: usize::try_from(args.sample).unwrap_or(usize::MAX),
        fail_after: args.fail_after,
        interval: Duration::from_secs(args.interval),
    };
    let ca = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("{}: cannot read the --ca-file", path.display()))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        // reqwest's client starts its resolver on the runtime, so it is built inside it.
        let client = probe::client(&settings, ca.as_deref()).map_err(|e| match &args.ca_file {
            Some(path) => anyhow::anyhow!("{}: {e}", path.display()),
            None => anyhow::anyhow!("cannot set up the HTTP client: {e}"),
        })?;
        probe_rounds(args, &source, &settings, &client).await
    });
    // A load still running on a blocking thread (a signal during the load) must not hold up
    // the exit, as dropping the runtime would.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// SIGTERM and SIGINT, installed before the first round.
struct Stop {
    term: Signal,
    int: Signal,
}

impl Stop {
    fn new() -> anyhow::Result<Stop> {
        Ok(Stop {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    /// Resolves at the next signal; the streams keep a signal that came in between calls.
    async fn wait(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

async fn probe_rounds(
    args: &ProbeArgs,
    source: &Source,
    settings: &Settings,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    let mut stop = Stop::new()?;
    let mut snapshot: Option<Arc<Snapshot>> = None;
    loop {
        let loaded = tokio::select! {
            loaded = load(source) => loaded,
            _ = stop.wait() => return Ok(()),
        };
        snapshot = match (loaded, snapshot) {
            (Ok(fresh), _) => Some(fresh),
            // A later load that fails: probe the data already loaded, as the server serves it.
            (Err(e), Some(old)) if !args.once => {
                tracing::warn!("{e:#}; probing the data loaded before");
                Some(old)
            }
            (Err(e), _) => return Err(e),
        };
        let Some(current) = snapshot.as_deref() else {
            return Ok(()); // set just above
        };
        let previous = previous_health(&args.out);
        let started = std::time::Instant::now();
        let described = source.describe();
        let health = tokio::select! {
            health = probe::round(client, current, &described, previous.as_ref(), settings) => health,
            _ = stop.wait() => {
                tracing::info!("signal: round abandoned, {} left as it was", args.out.display());
                return Ok(());
            }
        };
        let written = file::write(&args.out, &health);
        if args.once {
            written?;
            print_counts(&args.out, &health);
            return Ok(());
        }
        match written {
            Ok(()) => log_round(&args.out, &health, started.elapsed()),
            Err(e) => tracing::error!("{e}; the next round tries again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = stop.wait() => return Ok(()),
        }
    }
}

/// Loads the mirror data on a blocking thread (file I/O, maybe a compile).
async fn load(source: &Source) -> anyhow::Result<Arc<Snapshot>> {
    let owned = source.clone();
    let joined = tokio::task::spawn_blocking(move || owned.load()).await;
    let (snapshot, warnings) = joined
        .context("the load thread failed")?
        .with_context(|| format!("cannot load the {}", source.describe()))?;
    if !warnings.is_empty() {
        tracing::info!("{}: {} input warnings", source.describe(), warnings.len());
    }
    Ok(Arc::new(snapshot))
}

/// The last round's file. One that cannot be read only costs the failure counts, so it is a
/// warning: the probe must keep producing health data.
fn previous_health(path: &Path) -> Option<Health> {
    if !path.exists() {
        return None;
    }
    match Health::load(path) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("{e}; starting the failure counts afresh");
            None
        }
    }
}

fn print_counts(path: &Path, health: &Health) {
    println!("wrote {} ({} hosts)", path.display(), health.hosts.len());
    for (state, n) in health.counts() {
        println!("{state} {n}");
    }
}

fn log_round(path: &Path, health: &Health, took: Duration) {
    let [current, behind, stale, missing, down] = health.counts().map(|(_, n)| n);
    tracing::info!(
        file = %path.display(),
        round = health.round,
        seconds = took.as_secs_f64(),
        current,
        behind,
        stale,
        missing,
        down,
        "probe round written"
    );
}
