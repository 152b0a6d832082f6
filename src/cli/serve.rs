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
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use super::args::ServeArgs;
use crate::answer::Settings;
use crate::http::client_addr::TrustedProxies;
use crate::http::{self, AppState, Limits};
use crate::reload::Reloader;
use crate::stats::StatsLog;

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let source = args.input.source()?;
    let mut state = AppState::new(Settings {
        minimum: args.minimum,
    });
    if !args.trusted_proxies.is_empty() {
        state.trusted = TrustedProxies::new(args.trusted_proxies.clone());
    }
    state.ip_param = args.allow_ip_param;
    if let Some(path) = &args.log {
        state.stats = Some(
            StatsLog::open(path)
                .with_context(|| format!("{}: cannot open the statistics log", path.display()))?,
        );
    }
    let state = Arc::new(state);
    let limits = Limits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_read_timeout.max(1)),
        max_header_bytes: args.max_header_bytes,
        max_h2_streams: args.h2_max_streams,
        drain_timeout: Duration::from_secs(args.drain_timeout),
    };

    let addr = SocketAddr::new(args.listen, args.port);
    let listener = http::bind(addr).await?;
    let local = listener.local_addr().unwrap_or(addr);

    let reloader = Arc::new(Reloader::new(source, state.clone(), args.allow_older));
    tracing::info!(source = %reloader.source().describe(), "loading the first snapshot");
    reloader
        .reload_now()
        .await
        .with_context(|| format!("cannot load {}", reloader.source().describe()))?;
    println!("Listening on http://{local}");

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let mut hup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    let mut usr1 = signal(SignalKind::user_defined1()).context("cannot install SIGUSR1")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT")?;

    let reload_task = {
        let reloader = reloader.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { reloader.run(stopped(rx)).await })
    };
    let server = tokio::spawn(http::serve(listener, state.clone(), limits, stopped(stop_rx)));
    let signals = {
        let state = state.clone();
        async move {
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP: reload requested");
                        reloader.trigger();
                    }
                    _ = usr1.recv() => {
                        if let Some(log) = &state.stats {
                            log.reopen();
                        }
                    }
                    _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                    _ = int.recv() => { tracing::info!("SIGINT: shutting down (again to exit at once)"); break; }
                }
            }
            int
        }
    };
    let mut int = signals.await;
    let _ = stop_tx.send(true);
    tokio::select! {
        _ = server => {}
        _ = int.recv() => {
            tracing::warn!("second SIGINT: exiting without draining");
            std::process::exit(130);
        }
    }
    let _ = reload_task.await;
    tracing::info!("stopped");
    Ok(())
}
