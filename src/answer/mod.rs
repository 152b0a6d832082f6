//! One request, start to finish, without HTTP: resolve the target, select hosts, render the
//! bytes. The server and the `query` command both call [`answer`]; the result says everything
//! a response needs (status, content type, body, redirect) plus what the logs and metrics
//! want to know.

pub mod explain;
pub mod geo_groups;
pub mod render;
pub mod request;
pub mod resolve;
pub mod screen;
pub mod select;
pub mod shuffle;

use std::net::IpAddr;
use std::time::SystemTime;

use rand::Rng;

use crate::answer::render::decimal::{push_decimal, push_padded};
use crate::answer::render::links::RedirectLinks;
use crate::answer::render::metalink4::Version;
use crate::answer::render::urls::{redirect_candidates, UrlPolicy, MIRRORLIST_PREFERENCE};
use crate::answer::render::{links, metalink, metalink4, text};
use crate::answer::request::{echoable, loggable, Mode, Params};
use crate::answer::resolve::{resolve, Refusal, StatsFields};
use crate::answer::screen::Screen;
use crate::answer::select::{select, Chosen, Criteria, Group, Place};
use crate::health::Applied;

pub use crate::answer::explain::ClientSource;
use crate::snapshot::model::{ArchivedDirectory, HostIdx};
use crate::snapshot::Snapshot;

pub const TEXT: &str = "text/plain";
pub const METALINK: &str = "application/metalink+xml";
pub const JSON: &str = "application/json";

/// Server-wide settings that shape answers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Local hosts below this count add the global list (`-m`).
    pub minimum: usize,
    /// `--default-protocols`: the `protocol` list (as the parameter writes it) for requests
    /// without one of their own; `None`: no filter (decision 16).
    pub default_protocols: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            minimum: 5,
            default_protocols: None,
        }
    }
}

/// Who is asking, as the HTTP layer worked it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Addr(IpAddr),
    /// An `ip=` value that is not an address.
    BadIp,
}

/// Everything a response needs.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub location: Option<String>,
    pub body: Vec<u8>,
    /// The group of the first host listed, if any (metrics).
    pub first_group: Option<Group>,
    /// The statistics log line, for requests with `repo` and `arch` that got this far.
    pub stats_line: Option<String>,
    /// The hosts listed and why, in order (the `query` command shows it).
    pub trace: Vec<(HostIdx, Group)>,
    /// Health data would have left no host, so it was not applied (metrics).
    pub failed_open: bool,
    /// A redirect's RFC 6249 links and RFC 9530 digest (issue 13); none otherwise.
    pub links: Option<Box<RedirectLinks>>,
}

impl Reply {
    fn plain(status: u16, content_type: Option<&'static str>, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            location: None,
            body,
            first_group: None,
            stats_line: None,
            trace: Vec::new(),
            failed_open: false,
            links: None,
        }
    }
}

/// The parts of a [`Reply`] that only some callers use, so the others need not build them.
#[derive(Debug, Clone, Copy)]
pub struct Extras<'a> {
    /// Fill [`Reply::stats_line`] (the server, when it keeps a statistics log).
    pub stats_line: bool,
    /// Fill [`Reply::trace`] (the `query` command).
    pub trace: bool,
    /// The mirror health data to apply (`serve --health`), if any: ignored unless it was
    /// made for this snapshot.
    pub health: Option<&'a Applied>,
    /// Which metalink document a `/metalink` request gets (the server negotiates it from
    /// `Accept`, issue 13); ignored in mirrorlist mode.
    pub metalink: Version,
    /// At most this many RFC 6249 duplicate `Link`s on a redirect (`--link-headers`).
    pub link_headers: usize,
    /// `/explain`: answer with the JSON document that explains the answer (found through
    /// this source) instead of the answer itself; refusals stay as they are.
    pub explain: Option<ClientSource>,
}

impl Extras<'_> {
    pub const ALL: Extras<'static> = Extras {
        stats_line: true,
        trace: true,
        health: None,
        metalink: Version::V3,
        link_headers: DEFAULT_LINK_HEADERS,
        explain: None,
    };
}

/// `--link-headers`' default.
pub const DEFAULT_LINK_HEADERS: usize = 5;

/// Answers one request, with every part of the reply.
pub fn answer<R: Rng + ?Sized>(
    snapshot: &Snapshot,
    mode: Mode,
    params: &Params<'_>,
    client: Client,
    settings: &Settings,
    rng: &mut R,
    now: SystemTime,
) -> Reply {
    answer_with(
        snapshot,
        mode,
        params,
        client,
        settings,
        rng,
        now,
        Extras::ALL,
    )
}

/// Answers one request; `extras` says which optional parts of the reply to fill (the others
/// are left empty). Status and body are the same whatever it says, but for the metalink
/// version it names (and the number of redirect links).
///
/// Resolve the target (or refuse), select the hosts, build the statistics line and the
/// header, render the body for the mode, then fill the parts metrics and `query` read.
#[allow(clippy::too_many_arguments)]
pub fn answer_with<R: Rng + ?Sized>(
    snapshot: &Snapshot,
    mode: Mode,
    params: &Params<'_>,
    client: Client,
    settings: &Settings,
    rng: &mut R,
    now: SystemTime,
    extras: Extras,
) -> Reply {
    let form = Form::of(mode, extras.metalink);
    let target = match resolve(snapshot, params, mode) {
        Ok(t) => t,
        Err(Refusal::NoMetalink(what)) => return no_metalink(form, now, what),
        Err(r) => return refuse(form, now, &r, r.message()),
    };
    let ip = match client {
        Client::Addr(ip) => ip,
        Client::BadIp => {
            return refuse(
                form,
                now,
                &Refusal::BadClientIp,
                Refusal::BadClientIp.message(),
            )
        }
    };

    let fit = match params.fit() {
        Ok(fit) => fit,
        Err(name) => {
            let refusal = Refusal::BadParam(name);
            return refuse(form, now, &refusal, refusal.message());
        }
    };

    let protocols = protocol_list(
        params
            .protocol
            .as_deref()
            .or(settings.default_protocols.as_deref()),
    );
    let health = extras.health.filter(|h| h.is_for(snapshot));
    let screen = Screen::new(snapshot, health, &fit, ip);
    let place = |host: HostIdx| screen.place(host).0;
    let criteria = Criteria {
        client: Some(ip),
        country: params.country.as_deref(),
        netblock_matching: params.netblock_matching(),
        protocols: protocols.as_deref(),
        minimum: settings.minimum,
        screen: screen
            .active()
            .then_some(&place as &dyn Fn(HostIdx) -> Place),
    };
    let selection = select(snapshot, target.dir, &criteria, rng);
    let stats_wanted = extras.stats_line && extras.explain.is_none();

    let stats_line = target
        .stats
        .as_ref()
        .filter(|_| stats_wanted)
        .map(|s| stats_line(ip, now, selection.client_country.as_deref(), s));
    let header = header(&target.header, &selection.phrases, params, snapshot);
    let body = Body {
        snapshot,
        dir: target.dir,
        file: target.file.as_deref(),
        hosts: &selection.hosts,
        protocols: protocols.as_deref(),
    };
    let mut reply = match mode {
        Mode::Mirrorlist if params.redirect => body.redirect(extras.link_headers),
        Mode::Mirrorlist => body.mirrorlist(&header),
        Mode::Metalink => match body.metalink(now, extras.metalink) {
            Ok(reply) => reply,
            Err(refused) => {
                return Reply {
                    stats_line,
                    ..refused
                }
            }
        },
    };
    reply.first_group = selection.hosts.first().map(|c| c.group);
    reply.failed_open = selection.failed_open;
    if let (Some(source), 200 | 302) = (extras.explain, reply.status) {
        let default = match mode {
            Mode::Mirrorlist => UrlPolicy::Preferred(MIRRORLIST_PREFERENCE),
            Mode::Metalink => UrlPolicy::All,
        };
        let inputs = explain::Inputs {
            snapshot,
            mode,
            dir: target.dir,
            file: target.file.as_deref(),
            selection: &selection,
            protocols: protocols.as_deref(),
            policy: body.policy(default),
            client: ip,
            source,
            screen: &screen,
        };
        reply.status = 200;
        reply.content_type = Some(JSON);
        reply.location = None;
        reply.body = explain::document(&inputs);
    }
    if extras.trace {
        reply.trace = selection.hosts.iter().map(|c| (c.host, c.group)).collect();
    }
    reply.stats_line = stats_line;
    reply
}

/// What a refusal looks like: plain text, or a failure document of a metalink version.
#[derive(Debug, Clone, Copy)]
enum Form {
    Text,
    Metalink(Version),
}

impl Form {
    fn of(mode: Mode, version: Version) -> Form {
        match mode {
            Mode::Mirrorlist => Form::Text,
            Mode::Metalink => Form::Metalink(version),
        }
    }
}

/// A refusal in the mode's form: the message as plain text, or a metalink failure document.
fn refuse(form: Form, now: SystemTime, refusal: &Refusal, message: &str) -> Reply {
    match form {
        Form::Text => Reply::plain(refusal.status(), None, message.as_bytes().to_vec()),
        Form::Metalink(Version::V3) => Reply::plain(
            refusal.status(),
            Some(METALINK),
            metalink::failure(&httpdate::fmt_http_date(now), message),
        ),
        Form::Metalink(Version::V4) => Reply::plain(
            refusal.status(),
            Some(metalink4::CONTENT_TYPE),
            metalink4::failure(message),
        ),
    }
}

/// The refusal for a file (`what`, its path) that has no metalink details.
fn no_metalink(form: Form, now: SystemTime, what: String) -> Reply {
    let message = format!("{what} not found or has not metalink");
    refuse(form, now, &Refusal::NoMetalink(what), &message)
}

/// The `protocol` parameter's schemes, sorted and de-duplicated.
fn protocol_list(raw: Option<&str>) -> Option<Vec<&str>> {
    raw.map(|raw| {
        let mut list: Vec<&str> = raw.split(',').collect();
        list.sort_unstable();
        list.dedup();
        list
    })
}

/// MirrorManager's statistics log line.
///
/// Put together piece by piece: `format!` and the address's `Display` were 3 % of the server's
/// time per answer (loadtest/RESULTS.md, "Request path").
fn stats_line(ip: IpAddr, now: SystemTime, country: Option<&str>, s: &StatsFields) -> String {
    use std::io::Write;
    let mut line = Vec::with_capacity(96 + s.repo.len() + s.arch.len());
    line.extend_from_slice(b"IP: ");
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push(b'.');
                }
                push_decimal(&mut line, octet);
            }
        }
        // Rarer, and its compressed form is not worth writing again.
        IpAddr::V6(v6) => {
            let _ = write!(line, "{v6}");
        }
    }
    line.extend_from_slice(b"; DATE: ");
    push_utc_date(&mut line, now);
    line.extend_from_slice(b"; COUNTRY: ");
    line.extend_from_slice(country.unwrap_or("N/A").as_bytes());
    line.extend_from_slice(b"; REPO: ");
    line.extend_from_slice(loggable(&s.repo).as_bytes());
    line.extend_from_slice(b"; ARCH: ");
    line.extend_from_slice(loggable(&s.arch).as_bytes());
    line.push(b'\n');
    // Every piece is ASCII (`loggable` percent-encodes the rest).
    String::from_utf8(line).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `now`'s UTC calendar day as `YYYY-MM-DD`.
fn push_utc_date(out: &mut Vec<u8>, now: SystemTime) {
    let secs = crate::clock::unix_seconds(now);
    let (y, m, d) = crate::clock::utc_date_of(secs);
    push_padded(out, u64::try_from(y).unwrap_or(0), 4);
    out.push(b'-');
    push_padded(out, m, 2);
    out.push(b'-');
    push_padded(out, d, 2);
}

/// The mirrorlist header: the target's, the selection's phrases, the `protocol` echoed, and
/// the database time when `time` asks for it.
fn header(start: &str, phrases: &str, params: &Params<'_>, snapshot: &Snapshot) -> String {
    // Made at its size in one allocation: growing `start` by a continent's phrases was a
    // `realloc` copying both.
    let mut header = String::with_capacity(start.len() + phrases.len() + 64);
    header.push_str(start);
    header.push_str(phrases);
    if let Some(raw) = params.protocol.as_deref() {
        header.push_str("protocol = ");
        header.push_str(&echoable(raw));
    }
    if params.time {
        header.push_str("\n# database creation time: ");
        header.push_str(&snapshot.generated_at().to_string());
    }
    header
}

/// What the body of a successful answer is rendered from (all borrowed).
struct Body<'a, 's> {
    snapshot: &'s Snapshot,
    dir: &'s ArchivedDirectory,
    file: Option<&'a str>,
    hosts: &'a [Chosen<'s>],
    protocols: Option<&'a [&'a str]>,
}

impl Body<'_, '_> {
    /// `protocol=`'s schemes if given, else `default`.
    fn policy<'p>(&'p self, default: UrlPolicy<'p>) -> UrlPolicy<'p> {
        match self.protocols {
            Some(list) => UrlPolicy::Protocols(list),
            None => default,
        }
    }

    /// `redirect=1`: 302 to the first host's URL, or 404 when no host has a usable one.
    fn redirect(&self, link_headers: usize) -> Reply {
        // The `Location` and the RFC 6249 links come from one pass over the answer.
        let limit = link_headers.saturating_add(1);
        let candidates = redirect_candidates(
            self.snapshot,
            self.dir,
            self.file,
            self.hosts,
            self.protocols,
            limit,
        );
        match candidates.first() {
            Some((url, _)) => Reply {
                location: Some(url.clone()),
                links: Some(Box::new(links::links_after(
                    &candidates,
                    self.dir,
                    self.file,
                ))),
                ..Reply::plain(302, Some(TEXT), Vec::new())
            },
            None => Reply::plain(404, Some(TEXT), Vec::new()),
        }
    }

    fn mirrorlist(&self, header: &str) -> Reply {
        let body = text::mirrorlist(
            self.snapshot,
            header,
            self.dir,
            self.file,
            self.hosts,
            self.policy(UrlPolicy::Preferred(MIRRORLIST_PREFERENCE)),
        );
        Reply::plain(200, Some(TEXT), body)
    }

    /// The metalink document, or the refusal when the file has no details.
    // Either side is the one reply of the request, moved once: boxing would only add an
    // allocation.
    #[allow(clippy::result_large_err)]
    fn metalink(&self, now: SystemTime, version: Version) -> Result<Reply, Reply> {
        let name = self.file.unwrap_or("");
        let Some(versions) = metalink::details(self.dir, name) else {
            let what = format!("{}/{name}", self.dir.name.as_str());
            return Err(no_metalink(Form::Metalink(version), now, what));
        };
        if version == Version::V4 {
            let body = metalink4::metalink(
                self.snapshot,
                self.snapshot.generated_at(),
                self.dir,
                name,
                versions,
                self.hosts,
                self.policy(UrlPolicy::All),
            );
            return Ok(Reply::plain(200, Some(metalink4::CONTENT_TYPE), body));
        }
        let body = metalink::metalink(
            self.snapshot,
            &httpdate::fmt_http_date(now),
            self.dir,
            name,
            versions,
            self.hosts,
            self.policy(UrlPolicy::All),
        );
        Ok(Reply::plain(200, Some(METALINK), body))
    }
}

/// `YYYY-MM-DD` in UTC.
pub fn utc_date(now: SystemTime) -> String {
    let mut date = Vec::with_capacity(10);
    push_utc_date(&mut date, now);
    String::from_utf8_lossy(&date).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_calendar_days() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc_date(at(0)), "1970-01-01");
        assert_eq!(utc_date(at(951_782_400)), "2000-02-29");
        assert_eq!(utc_date(at(1_795_439_232)), "2026-11-23");
    }

    #[test]
    fn stats_lines_read_as_the_production_server_writes_them() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_439_232);
        let fields = StatsFields {
            repo: "fedora 42;x".into(),
            arch: "x86_64".into(),
        };
        for (ip, country, want) in [
            ("10.0.200.7", Some("DE"), "IP: 10.0.200.7; DATE: 2026-11-23; COUNTRY: DE; REPO: fedora%2042%3Bx; ARCH: x86_64\n"),
            ("0.0.0.0", None, "IP: 0.0.0.0; DATE: 2026-11-23; COUNTRY: N/A; REPO: fedora%2042%3Bx; ARCH: x86_64\n"),
            ("255.255.255.255", None, "IP: 255.255.255.255; DATE: 2026-11-23; COUNTRY: N/A; REPO: fedora%2042%3Bx; ARCH: x86_64\n"),
            ("2001:db8::1", Some("SE"), "IP: 2001:db8::1; DATE: 2026-11-23; COUNTRY: SE; REPO: fedora%2042%3Bx; ARCH: x86_64\n"),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(stats_line(ip, at, country, &fields), want);
            // And as `Display` writes the address.
            assert!(want.starts_with(&format!("IP: {ip};")));
        }
    }
}
