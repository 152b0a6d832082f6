//! What the server tells the system beside its answers: systemd's notifications and socket
//! activation (`systemd`), and MirrorManager's statistics log (`stats_log`).

pub mod stats_log;
pub mod systemd;
