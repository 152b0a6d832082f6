//! The one way the tests send a signal: kill(2) on a child's pid.

/// Sends `signal` (`libc::SIGHUP`, `SIGTERM`, `SIGINT`, `SIGUSR1`, `SIGKILL`...) to process
/// `pid`, a child this test started (see [`super::Server::pid`]); panics if it cannot be sent.
#[track_caller]
pub fn send_signal(pid: u32, signal: libc::c_int) {
    // Never 0 or negative: kill(2) would signal a whole process group.
    let target = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
    assert!(target > 0, "not a process id: {pid}");
    // SAFETY: kill(2) takes plain integers and only sends a signal.
    let rc = unsafe { libc::kill(target, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {}): {}",
        name(signal),
        std::io::Error::last_os_error()
    );
}

fn name(signal: libc::c_int) -> String {
    match signal {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGUSR1 => "SIGUSR1".into(),
        other => format!("signal {other}"),
    }
}
