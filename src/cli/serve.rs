//! `mirrorlist serve`: bind, load the first snapshot, serve, and follow the signal contract:
//!
//! | signal          | effect                                                              |
//! |-----------------|---------------------------------------------------------------------|
//! | SIGHUP          | reload the inputs; on failure keep serving the old snapshot         |
//! | SIGUSR1         | reopen the statistics log (logrotate)                               |
//! | SIGTERM, SIGINT | stop accepting, finish requests in flight (drain timeout), exit 0   |
//! | second SIGINT   | exit at once                                                        |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

use super::args::ServeArgs;
use crate::answer::Settings;
use crate::cli::args::AdminListen;
use crate::ops::stats_log::StatsLog;
use crate::reload::health::{HealthStore, HealthWatch};
use crate::reload::{ReloadEvent, Reloader};
use crate::server::admin::{Admin, MetricsAccess};
use crate::server::client_addr::TrustedProxies;
use crate::server::{self, AppState, Limits};

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(args));
    // A load still running on a blocking thread (SIGTERM during the first load) must not hold
    // up the exit, as dropping the runtime would.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The order matters: bind (so a port clash fails fast), install the signal handlers, load the
/// first snapshot, serve until SIGTERM or SIGINT, drain.
async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let source = args.input.source()?;
    let state = Arc::new(app_state(args)?);
    // The operator's endpoints: on the public listener, and on a separate admin listener only
    // when one is asked for (see `server::admin` for who may read /metrics where). A separate
    // listener starts before the first load, so its /readyz answers 503 until then.
    let admin = Arc::new(Admin::new(state.clone()));
    let metrics_access = start_admin(args, &admin).await?;
    let limits = limits(args);
    server::raise_fd_limit(limits.max_connections);
    let (listener, local) = listen(args).await?;
    let mut signals = Signals::install()?;

    let mut reloader = Reloader::new(source, state.store.clone(), args.allow_older)
        .min_interval(Duration::from_millis(args.reload_interval_ms));
    reloader.on_event(crate::ops::systemd::on_reload); // RELOADING=1 / READY=1 for systemd
    if let Some(health) = &state.health {
        // Each installed snapshot gets the health file applied to its host indices.
        let health = health.clone();
        reloader.on_event(move |event| {
            if let ReloadEvent::Installed { .. } = event {
                let health = health.clone();
                tokio::task::spawn_blocking(move || health.reapply());
            }
        });
    }
    let reloader = Arc::new(reloader);
    if !first_load(&reloader, &mut signals).await? {
        return Ok(());
    }
    // `--health`: read once the first snapshot is there, then followed; dropped (following
    // stopped) when `serve` returns.
    let _health_watch = match &state.health {
        Some(health) => Some(follow_health(health).await?),
        None => None,
    };
    println!("Listening on http://{local}");

    let (stop_tx, stop_rx) = watch::channel(false);
    let reload_task = {
        let reloader = reloader.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { reloader.run(stopped(rx)).await })
    };
    // `--watch`: the inputs' directories; dropped (watch stopped) when `serve` returns.
    let _watch = if args.watch {
        Some(crate::reload::watch::spawn(reloader.clone()).context("--watch")?)
    } else {
        None
    };
    let server = tokio::spawn(server::serve(
        listener,
        state.clone(),
        admin.clone(),
        metrics_access,
        limits,
        stopped(stop_rx),
    ));
    crate::ops::systemd::ready(&format!("serving on {local}"));
    let mut int = signals.until_stop(&reloader, &state).await;
    crate::ops::systemd::stopping();
    admin.set_draining(); // /readyz: 503, so load balancers move on
    let _ = stop_tx.send(true);
    tokio::select! {
        _ = server => {}
        _ = int.recv() => {
            tracing::warn!("second SIGINT: exiting without draining");
            std::process::exit(130);
        }
    }
    let _ = reload_task.await;
    flush_stats(&state);
    tracing::info!("stopped");
    Ok(())
}

/// Completes once `rx` says `true` (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The shared state from the flags: minimum, trusted proxies, `ip=`, the statistics log.
fn app_state(args: &ServeArgs) -> anyhow::Result<AppState> {
    let mut state = AppState::new(Settings {
        minimum: args.minimum,
        default_protocols: args.default_protocols.clone(),
    });
    if !args.trusted_proxies.is_empty() {
        state.trusted = TrustedProxies::new(args.trusted_proxies.clone());
    }
    state.ip_param = args.allow_ip_param;
    if let Some(path) = &args.health {
        state.health = Some(Arc::new(HealthStore::new(path, state.store.clone())));
    }
    state.link_headers = args.link_headers;
    if let Some(path) = &args.log {
        state.stats = Some(
            StatsLog::open(path)
                .with_context(|| format!("{}: cannot open the statistics log", path.display()))?,
        );
    }
    Ok(state)
}

/// Loads the health file (a missing one is a warning) and starts following it.
async fn follow_health(health: &Arc<HealthStore>) -> anyhow::Result<HealthWatch> {
    let first = health.clone();
    tokio::task::spawn_blocking(move || first.load(true))
        .await
        .context("the health loader thread failed")?;
    health
        .follow()
        .with_context(|| format!("--health {}", health.path().display()))
}

/// Starts the separate admin listener if `--admin-listen` asks for one, and says who may read
/// /metrics on the public listener.
async fn start_admin(args: &ServeArgs, admin: &Arc<Admin>) -> anyhow::Result<MetricsAccess> {
    Ok(match AdminListen::address(args.admin_listen) {
        Some(addr) => {
            let listener = server::bind(addr).await.context("--admin-listen")?;
            let local = listener.local_addr().unwrap_or(addr);
            println!("Admin on http://{local}");
            admin.listen(listener);
            MetricsAccess::Nobody
        }
        None => MetricsAccess::LocalDirect,
    })
}

fn limits(args: &ServeArgs) -> Limits {
    Limits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        max_header_bytes: args.max_header_bytes,
        max_query_bytes: args.max_query_bytes,
        max_h2_streams: args.h2_max_streams,
        drain_timeout: Duration::from_secs(args.drain_timeout),
    }
}

/// The public listener and the address it is on.
async fn listen(args: &ServeArgs) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let addr = SocketAddr::new(args.listen, args.port);
    // Socket activation: a listener passed by systemd (mirrorlist.socket) replaces --listen/--port.
    let listener = match crate::ops::systemd::inherited_listener()? {
        Some(inherited) => {
            TcpListener::from_std(inherited).context("cannot use the socket passed by systemd")?
        }
        None => server::bind(addr).await?,
    };
    let local = listener.local_addr().unwrap_or(addr);
    Ok((listener, local))
}

/// Loads the first snapshot; false when SIGTERM or SIGINT came first (then `serve` exits
/// without serving).
async fn first_load(reloader: &Reloader, signals: &mut Signals) -> anyhow::Result<bool> {
    tracing::info!(source = %reloader.source().describe(), "loading the first snapshot");
    tokio::select! {
        first = reloader.reload_now() => {
            first.with_context(|| format!("cannot load {}", reloader.source().describe()))?;
        }
        _ = signals.term.recv() => { tracing::info!("SIGTERM before the first snapshot: exiting"); return Ok(false); }
        _ = signals.int.recv() => { tracing::info!("SIGINT before the first snapshot: exiting"); return Ok(false); }
    }
    Ok(true)
}

/// The signals of the contract above.
///
/// Installed before the first load: SIGHUP or SIGUSR1 (default action: terminate) during
/// a slow start must not kill the process, and SIGTERM must stop it promptly.
struct Signals {
    hup: Signal,
    usr1: Signal,
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?,
            usr1: signal(SignalKind::user_defined1()).context("cannot install SIGUSR1")?,
            term: signal(SignalKind::terminate()).context("cannot install SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot install SIGINT")?,
        })
    }

    /// Reloads on SIGHUP and reopens the statistics log on SIGUSR1 until SIGTERM or SIGINT;
    /// returns the SIGINT stream, so that a second SIGINT can cut the drain short.
    async fn until_stop(mut self, reloader: &Reloader, state: &AppState) -> Signal {
        loop {
            tokio::select! {
                _ = self.hup.recv() => {
                    tracing::info!("SIGHUP: reload requested");
                    reloader.trigger();
                }
                _ = self.usr1.recv() => {
                    if let Some(log) = &state.stats {
                        log.reopen();
                    }
                }
                _ = self.term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = self.int.recv() => { tracing::info!("SIGINT: shutting down (again to exit at once)"); break; }
            }
        }
        self.int
    }
}

/// The lines of the last answers are still queued for the writer thread, which dies with the
/// process: waits for them (bounded: a stuck disk must not hold up the exit).
fn flush_stats(state: &AppState) {
    if let Some(log) = &state.stats {
        if !tokio::task::block_in_place(|| log.flush(Duration::from_secs(5))) {
            tracing::warn!("statistics log not flushed within 5 s; its last lines may be lost");
        }
    }
}
