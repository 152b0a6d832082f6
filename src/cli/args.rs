//! Command-line arguments (clap). Every `serve` flag can also come from the environment
//! (`MIRRORLIST_*`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::server::client_addr::IpParamPolicy;

/// A MirrorManager-compatible mirrorlist/metalink server with live reload.
#[derive(Debug, Parser)]
#[command(name = "mirrorlist", version, about, long_about = None)]
pub struct Cli {
    /// Log format for diagnostics on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "MIRRORLIST_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /mirrorlist and /metalink over HTTP (with no input flags: the sample in data/).
    #[command(after_long_help = SERVE_AFTER_HELP)]
    Serve(Box<ServeArgs>),
    /// Compile inputs into a bundle file.
    Build(BuildArgs),
    /// Print what a bundle holds.
    Inspect(InspectArgs),
    /// Answer one request locally and show which group each host came from.
    Query(QueryArgs),
    /// Check the mirrors' repomd.xml against the published versions and write a health file.
    #[command(after_long_help = PROBE_AFTER_HELP)]
    Probe(ProbeArgs),
}

/// Where the mirror data comes from. With none of these, `data/` (native format).
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// A bundle made by `mirrorlist build`.
    #[arg(long, value_name = "FILE", env = "MIRRORLIST_BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// A directory in the native readable format (see data/README.md).
    #[arg(long, value_name = "DIR", env = "MIRRORLIST_SOURCE")]
    pub source: Option<PathBuf>,
    /// MirrorManager's protobuf cache (mirrorlist_cache.proto). Compiled at every load into a
    /// temporary bundle file without a name in $TMPDIR (default /tmp), and mapped.
    #[arg(short = 'c', long = "cache", value_name = "CACHE")]
    pub cache: Option<PathBuf>,
    /// MirrorManager's global netblocks file (prefix -> ASN).
    #[arg(
        short = 'g',
        long = "global_netblocks",
        alias = "global-netblocks",
        value_name = "FILE"
    )]
    pub global_netblocks: Option<PathBuf>,
    /// MirrorManager's country -> continent CSV.
    #[arg(long, value_name = "CSV")]
    pub cccsv: Option<PathBuf>,
    /// A GeoIP2/GeoLite2 Country database.
    #[arg(long, value_name = "MMDB")]
    pub geoip: Option<PathBuf>,
}

/// The end of `mirrorlist serve --help`.
const SERVE_AFTER_HELP: &str = "\
Settings, highest precedence first: command-line flags, MIRRORLIST_* environment variables,
the --config file, the defaults shown above.

Signals:
  SIGHUP           reload the inputs (on failure keep serving the old data)
  SIGUSR1          reopen the statistics log (-l), after logrotate moved it
  SIGTERM, SIGINT  stop accepting, finish requests in flight (--drain-timeout), exit 0
  second SIGINT    exit at once

Operator endpoints: /healthz (200 while running) and /readyz (200 once data is loaded, 503
before and while shutting down) on the public port; /metrics (Prometheus) there too, but only
to a loopback peer whose request carries no X-Forwarded-For, Forwarded or X-Real-IP (so it is
never relayed to the internet by a proxy). With --admin-listen, a separate listener answers
all three to anyone who reaches it, and the public port no longer answers /metrics. Nothing
but --port listens unless asked, so instances that differ only in --port share a host.

Metalinks: /metalink answers RFC 5854 (application/metalink4+xml) when Accept names
application/metalink4+xml with a q-value not below that of application/metalink+xml (as
aria2 asks); otherwise the version 3 document MirrorManager sends (dnf's */* included). Both
carry Vary: Accept. Redirects (redirect=1) carry RFC 6249 Link headers for the next mirrors
(--link-headers) and, for a file the data describes, a rel=describedby Link to its metalink
and Repr-Digest: sha-256=:...: (RFC 9530).
Requests: /mirrorlist and /metalink (MirrorManager's parameters, plus exclude_country=CC,..
and family=4|6), and /explain with the same parameters (mode=metalink to explain /metalink):
a JSON account of the answer (client, hosts in order, hosts left out and why).

Under systemd (Type=notify): READY=1 after the first load, RELOADING=1/READY=1 around each
reload, STOPPING=1 on shutdown; a socket passed by a .socket unit replaces --listen/--port.
Examples: systemd/ in the source tree.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Deprecated Internet2 netblocks file: accepted and ignored, as MirrorManager does.
    #[arg(
        short = 'i',
        long = "internet2_netblocks",
        value_name = "FILE",
        hide = true
    )]
    pub internet2_netblocks: Option<PathBuf>,
    /// Statistics log (MirrorManager's line format), appended to; reopened on SIGUSR1.
    #[arg(
        short = 'l',
        long = "log",
        value_name = "LOG",
        env = "MIRRORLIST_STATS_LOG"
    )]
    pub log: Option<PathBuf>,
    /// Minimum number of local mirrors before the global list is added.
    #[arg(short = 'm', long, default_value_t = 5, env = "MIRRORLIST_MINIMUM")]
    pub minimum: usize,
    /// The `protocol=` filter for requests without one (e.g. `https`, or `https,http`): only
    /// hosts with a URL of these schemes are listed, and only those URLs. A request's own
    /// `protocol=` wins. Default: no filter.
    #[arg(
        long,
        value_name = "LIST",
        env = "MIRRORLIST_DEFAULT_PROTOCOLS",
        value_parser = parse_protocols
    )]
    pub default_protocols: Option<String>,
    /// Address of the public listener (`::` for all). Ignored when systemd passes a socket.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1",
        env = "MIRRORLIST_LISTEN"
    )]
    pub listen: IpAddr,
    /// Port of the public listener (0: any free port, printed on stdout).
    #[arg(long, default_value_t = 8080, env = "MIRRORLIST_PORT")]
    pub port: u16,
    /// Peers whose X-Forwarded-For is believed (repeatable). Default: 127.0.0.0/8 and ::1.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "MIRRORLIST_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Who may override the client address with `ip=`.
    #[arg(long, value_enum, default_value_t = IpParamPolicy::Trusted, env = "MIRRORLIST_ALLOW_IP_PARAM")]
    pub allow_ip_param: IpParamPolicy,
    /// Reload when an input changes: watches the directory of the bundle (or of each input
    /// file), so atomic renames are seen; a burst of changes becomes one reload.
    #[arg(long, env = "MIRRORLIST_WATCH")]
    pub watch: bool,
    /// The mirror health file `mirrorlist probe` writes: down and missing hosts are left out
    /// of answers (unless none would be left), stale ones listed last. Followed like a bundle
    /// (a rename over it is seen without SIGHUP); a missing file at start is a warning, a bad
    /// one is refused and the previous health data kept; a file past its valid_until or
    /// condemning more than half the probed hosts is not applied.
    #[arg(long, value_name = "FILE", env = "MIRRORLIST_HEALTH")]
    pub health: Option<PathBuf>,
    /// Accept a reload whose data is older than the data being served.
    #[arg(long, env = "MIRRORLIST_ALLOW_OLDER")]
    pub allow_older: bool,
    /// Least time between the starts of two reloads, in milliseconds. A reload asked for
    /// sooner waits for it, and every request in the meantime becomes that one reload.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        env = "MIRRORLIST_RELOAD_INTERVAL_MS"
    )]
    pub reload_interval_ms: u64,
    /// Maximum connections served at once; more wait in the accept queue (never refused).
    #[arg(long, default_value_t = 10_000, env = "MIRRORLIST_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Seconds a client has to send a complete request head, from the accept (or, on a
    /// keep-alive connection, from the end of the previous answer); then it is closed.
    #[arg(long, default_value_t = 10, env = "MIRRORLIST_HEADER_TIMEOUT")]
    pub header_read_timeout: u64,
    /// Seconds a connection may go with no byte moving either way after its first request
    /// (idle HTTP/2 connections, clients that stop reading); then it is closed.
    #[arg(long, default_value_t = 60, env = "MIRRORLIST_IDLE_TIMEOUT")]
    pub idle_timeout: u64,
    /// Largest request head (request line + headers) in bytes; larger gets 431.
    #[arg(long, default_value_t = 65_536, env = "MIRRORLIST_MAX_HEADER_BYTES")]
    pub max_header_bytes: usize,
    /// Longest query string in bytes; longer gets 414 (and a log line) before it is parsed.
    #[arg(long, default_value_t = 4096, env = "MIRRORLIST_MAX_QUERY_BYTES")]
    pub max_query_bytes: usize,
    /// HTTP/2 streams per connection.
    #[arg(long, default_value_t = 100, env = "MIRRORLIST_H2_MAX_STREAMS")]
    pub h2_max_streams: u32,
    /// Seconds to let requests in flight finish after SIGTERM or SIGINT; then the rest are
    /// closed and the process exits 0.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        env = "MIRRORLIST_DRAIN_TIMEOUT"
    )]
    pub drain_timeout: u64,
    /// A separate listener for /metrics (Prometheus), /healthz and /readyz, answering anyone
    /// who reaches it: keep it private. Default: none (the public port answers them; /metrics
    /// only to direct loopback peers, see below). Port 0 picks a free one (printed on stdout).
    #[arg(long, value_name = "ADDR:PORT", env = "MIRRORLIST_ADMIN_LISTEN")]
    pub admin_listen: Option<AdminListen>,
    /// On a redirect (redirect=1), RFC 6249 `Link: <url>; rel=duplicate; pri=N; geo=cc`
    /// headers for at most this many of the next mirrors of the answer (0: none).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        env = "MIRRORLIST_LINK_HEADERS"
    )]
    pub link_headers: usize,
    /// Read settings from a TOML file whose keys are these long flag names (`port = 8080`,
    /// `trusted-proxy = ["10.0.0.0/8"]`, `watch = true`); the command line and the MIRRORLIST_*
    /// variables win over it. Example: systemd/mirrorlist.toml.
    #[arg(long, value_name = "FILE", env = "MIRRORLIST_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write the bundle (written to a temp file, fsynced, renamed).
    #[arg(short = 'o', long = "output", value_name = "BUNDLE")]
    pub output: PathBuf,
    /// A directory in the native readable format.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["mm_cache", "global_netblocks", "cccsv", "geoip"])]
    pub source: Option<PathBuf>,
    /// MirrorManager's protobuf cache.
    #[arg(long = "mm-cache", value_name = "FILE", requires_all = ["global_netblocks", "cccsv", "geoip"])]
    pub mm_cache: Option<PathBuf>,
    /// MirrorManager's global netblocks file.
    #[arg(long = "global-netblocks", value_name = "FILE")]
    pub global_netblocks: Option<PathBuf>,
    /// MirrorManager's country -> continent CSV.
    #[arg(long, value_name = "FILE")]
    pub cccsv: Option<PathBuf>,
    /// A GeoIP2/GeoLite2 Country database.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
    /// Print every skipped line, not only the first 20.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct InspectArgs {
    /// The bundle to describe.
    pub bundle: Option<PathBuf>,
    /// Also ask a running server which data it serves and how its last reloads went: its
    /// address on this host (e.g. 127.0.0.1:8080), or its --admin-listen address.
    #[arg(long, value_name = "ADMIN_ADDR")]
    pub server: Option<std::net::SocketAddr>,
    /// With a bundle: each host's state and reason in this health file (`mirrorlist probe
    /// --out`), and whether the file would be applied to the bundle.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub health: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The request path and query, e.g. '/metalink?repo=fedora-42&arch=x86_64'.
    pub request: String,
    /// The client address to answer for (default: 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Minimum number of local mirrors before the global list is added.
    #[arg(short = 'm', long, default_value_t = 5)]
    pub minimum: usize,
    /// Apply this health file (`mirrorlist probe --out`) as `serve --health` would, and show
    /// each listed host's state and reason.
    #[arg(long, value_name = "FILE")]
    pub health: Option<PathBuf>,
    /// Print the `/explain` JSON document of the request instead of the answer (the path may
    /// end with /explain, /mirrorlist or /metalink).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

/// `--default-protocols`: schemes separated by commas, each a URL scheme's characters.
fn parse_protocols(s: &str) -> Result<String, String> {
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    if s.split(',').all(ok) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "expected URL schemes separated by commas (e.g. https,http), got {s:?}"
        ))
    }
}

/// `--admin-listen`: an address for a separate admin listener, or `none` (the default: the
/// public listener answers `/healthz`, `/readyz` and, to local peers, `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminListen(pub Option<SocketAddr>);

impl AdminListen {
    /// The separate admin listener's address, if one was asked for: without one, the
    /// public listener answers the admin paths itself ([`crate::server::admin`]).
    pub fn address(given: Option<AdminListen>) -> Option<SocketAddr> {
        given.and_then(|a| a.0)
    }
}

impl FromStr for AdminListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(AdminListen(None));
        }
        s.parse()
            .map(|a| AdminListen(Some(a)))
            .map_err(|_| format!("expected ADDR:PORT (e.g. 127.0.0.1:9100) or `none`, got {s:?}"))
    }
}

impl fmt::Display for AdminListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("none"),
        }
    }
}

/// The end of `mirrorlist probe --help`.
const PROBE_AFTER_HELP: &str = "\
Each round fetches repodata/repomd.xml from --sample directories of every public host (https
when the host has it, else http; certificates checked against the system roots and --ca-file)
and compares it with the published file details. States: current (newest version), behind
(an older published version, a metalink alternate), stale (no published version), missing
(404/410) and down (no connection, TLS failure, timeout, other status). missing and down take
--fail-after failing rounds in a row; one good round brings a host back.

The file (--out) is rewritten whole and atomically after each round and is valid for three
--interval periods; its format is in docs/health.md.

Signals: SIGTERM, SIGINT  abandon the round in progress (the previous file stays), exit 0.

Exit status: 0 once the file is written (--once) or on a signal; non-zero for bad input,
naming the file.";

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The health file to write (JSON). Its previous contents, if any, carry the failure counts
    /// from round to round.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Make one round, write the file, print how many hosts are in each state, and exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds from the end of one round to the start of the next.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Hosts probed at the same time (each with its --sample requests at once).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: u64,
    /// Seconds one request may take, connecting, answering and sending the body together.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Directories checked per host per round, spread over its categories; the next round takes
    /// the next ones, so every directory is checked over time.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub sample: u64,
    /// Failing rounds in a row before a host is marked down or missing.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub fail_after: u32,
    /// A PEM file of extra CA certificates to trust besides the system roots (for tests or a
    /// private CA).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}
