//! systemd integration: `sd_notify(3)` state changes for `Type=notify` units, and socket
//! activation (`sd_listen_fds(3)`), both through the `sd-notify` crate.
//!
//! | when                               | sent                                            |
//! |------------------------------------|-------------------------------------------------|
//! | the first snapshot is installed    | `READY=1`, `STATUS=…`                           |
//! | a reload starts (SIGHUP, watch)    | `RELOADING=1`, `MONOTONIC_USEC=<CLOCK_MONOTONIC>` |
//! | the reload ends (installed/failed) | `READY=1`, `STATUS=…`                           |
//! | shutdown begins                    | `STOPPING=1`                                    |
//!
//! Everything is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd). A failed
//! send is logged and otherwise ignored: notifications must never stop the server.

use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use sd_notify::NotifyState;

use crate::reload::ReloadEvent;

/// Whether `READY=1` was sent; reload notifications only make sense after it (the first
/// load, at start-up, is not a reload).
static READY_SENT: AtomicBool = AtomicBool::new(false);

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

/// The first snapshot is installed and the public listener is serving.
pub fn ready(status: &str) {
    READY_SENT.store(true, Ordering::SeqCst);
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload begins. systemd wants `MONOTONIC_USEC` with `RELOADING=1` so it can tell this
/// reload from an earlier one.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading"),
        ]),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read CLOCK_MONOTONIC");
            send(&[NotifyState::Reloading, NotifyState::Status("reloading")]);
        }
    }
}

/// Shutdown begins: no new connections, requests in flight are finishing.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

/// A [`Reloader::on_event`](crate::reload::Reloader::on_event) hook: `RELOADING=1` when a
/// reload starts, `READY=1` when it ends either way (a failed reload keeps the old snapshot,
/// so the service is still ready).
pub fn on_reload(event: ReloadEvent) {
    if !READY_SENT.load(Ordering::SeqCst) {
        return;
    }
    match event {
        ReloadEvent::Started => reloading(),
        ReloadEvent::Installed { sequence } => {
            let status = format!("serving snapshot {sequence}");
            send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        }
        ReloadEvent::Failed => send(&[
            NotifyState::Ready,
            NotifyState::Status("last reload failed; serving the previous snapshot"),
        ]),
    }
}

/// The listening socket systemd passed us (`LISTEN_FDS`/`LISTEN_PID`, from a `.socket`
/// unit with `Accept=no`), if any. Only the first descriptor is used.
pub fn inherited_listener() -> anyhow::Result<Option<std::net::TcpListener>> {
    let mut fds = sd_notify::listen_fds().context("bad socket activation variables")?;
    let Some(fd) = fds.next() else {
        return Ok(None);
    };
    if fds.len() > 0 {
        tracing::warn!(
            count = fds.len() + 1,
            "systemd passed several sockets; serving only the first"
        );
    }
    // SAFETY: LISTEN_PID names this process, so systemd handed descriptor `fd` to us and
    // nothing else in the process owns it; it is consumed once, here.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    let addr = listener
        .local_addr()
        .context("the socket systemd passed is not a TCP socket (check ListenStream=)")?;
    listener
        .set_nonblocking(true)
        .context("cannot make the inherited socket non-blocking")?;
    tracing::info!(%addr, "using the listening socket passed by systemd");
    Ok(Some(listener))
}
