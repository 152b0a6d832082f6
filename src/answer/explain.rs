//! `/explain` and `mirrorlist query --json` (issue 12): why an answer is what it is, as a JSON
//! document. Built from what [`super::answer_with`] already worked out (the target, the
//! selection, the screen), so it explains exactly the answer the endpoint would give, and it
//! names a private host only when that host is in the answer.
//!
//! The document (decision 17):
//!
//! ```json
//! { "generation": "…", "mode": "mirrorlist", "directory": "…", "file": null,
//!   "protocols": null, "failed_open": false,
//!   "client": { "address": "…", "family": "ipv4", "source": "peer", "country": "DE",
//!               "country_source": "geoip", "continent": "EU", "asn": 3320,
//!               "netblocks": ["192.0.2.0/24"] },
//!   "hosts": [ { "id": 1, "name": "…", "group": "country", "country": "DE", "weight": 100,
//!                "families": ["ipv4"], "health": "current", "placed_last": null,
//!                "urls": ["https://…"] } ],
//!   "left_out": [ { "id": 2, "name": "…", "reason": "exclude_country" } ] }
//! ```

use std::net::IpAddr;

use serde::Serialize;

use super::render::urls::{for_each_kept, push_url, UrlPolicy};
use super::request::Mode;
use super::screen::{family_names, Screen};
use super::select::{host_allowed, serves, Place, Selection};
use crate::snapshot::model::{ArchivedDirectory, HostIdx};
use crate::snapshot::Snapshot;

/// How the HTTP layer found the client's address (`/explain` shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// The TCP peer.
    Peer,
    /// `X-Forwarded-For`, sent by a trusted proxy.
    XForwardedFor,
    /// The `ip=` parameter, where the policy honours it.
    IpParam,
}

impl ClientSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientSource::Peer => "peer",
            ClientSource::XForwardedFor => "x-forwarded-for",
            ClientSource::IpParam => "ip-param",
        }
    }
}

/// What the document is made from.
pub struct Inputs<'a, 's> {
    pub snapshot: &'s Snapshot,
    pub mode: Mode,
    pub dir: &'s ArchivedDirectory,
    pub file: Option<&'a str>,
    pub selection: &'a Selection<'s>,
    /// The protocol filter applied (`protocol=` or `--default-protocols`).
    pub protocols: Option<&'a [&'a str]>,
    /// Which URLs of each host the answer lists.
    pub policy: UrlPolicy<'a>,
    pub client: IpAddr,
    pub source: ClientSource,
    pub screen: &'a Screen<'a>,
}

#[derive(Serialize)]
struct Document<'a> {
    generation: String,
    mode: &'static str,
    directory: &'a str,
    file: Option<&'a str>,
    protocols: Option<&'a [&'a str]>,
    /// The screen would have left no host, so its soft drops were undone.
    failed_open: bool,
    client: ClientDoc,
    hosts: Vec<HostDoc<'a>>,
    left_out: Vec<LeftOut<'a>>,
}

#[derive(Serialize)]
struct ClientDoc {
    address: String,
    family: &'static str,
    source: &'static str,
    country: Option<String>,
    /// `netblock` (an operator's override) or `geoip`.
    country_source: Option<&'static str>,
    continent: Option<String>,
    asn: Option<u32>,
    /// The host netblocks the address is in, least specific first.
    netblocks: Vec<String>,
}

#[derive(Serialize)]
struct HostDoc<'a> {
    id: i64,
    name: &'a str,
    group: &'static str,
    country: &'a str,
    weight: u32,
    families: Vec<&'static str>,
    health: Option<&'static str>,
    /// Why the host was moved after the others (`health`, `client-family`), if it was.
    placed_last: Option<&'static str>,
    urls: Vec<String>,
}

#[derive(Serialize)]
struct LeftOut<'a> {
    id: i64,
    name: &'a str,
    /// `country-restriction`, `protocol`, `exclude_country`, `family`, `health` or
    /// `not-selected` (carries the directory, but no group of the answer holds it).
    reason: &'static str,
    health: Option<&'static str>,
}

/// The document, as pretty-printed JSON with a final newline.
pub fn document(inputs: &Inputs<'_, '_>) -> Vec<u8> {
    let Inputs {
        snapshot,
        dir,
        selection,
        screen,
        ..
    } = inputs;
    let health_of = |h: HostIdx| screen.health().and_then(|a| a.state(h)).map(|s| s.as_str());
    let mut hosts = Vec::with_capacity(selection.hosts.len());
    let mut listed = Vec::with_capacity(selection.hosts.len());
    for chosen in &selection.hosts {
        let mut urls = Vec::new();
        for_each_kept(snapshot, chosen.urls(dir), inputs.policy, |base| {
            let mut url = Vec::new();
            push_url(&mut url, base, dir, inputs.file);
            urls.push(String::from_utf8_lossy(&url).into_owned());
        });
        if urls.is_empty() {
            // Chosen, but no URL the answer lists: the answer does not show it either.
            continue;
        }
        listed.push(chosen.host);
        let Some(h) = snapshot.host(chosen.host) else {
            continue;
        };
        let (place, why) = screen.place(chosen.host);
        hosts.push(HostDoc {
            id: h.external_id.to_native(),
            name: h.name.as_str(),
            group: chosen.group.as_str(),
            country: h.country.as_str(),
            weight: h.weight.to_native(),
            families: family_names(known_families(inputs, chosen.host)),
            health: health_of(chosen.host),
            placed_last: (place == Place::Last).then(|| why.map_or("", |w| w.as_str())),
            urls,
        });
    }

    let client_country = selection.client_country.as_deref();
    let mut left_out = Vec::new();
    for entry in dir.by_host.iter() {
        let host = entry.host.to_native();
        // A private host is named only when it is in the answer.
        if !entry.public || listed.contains(&host) {
            continue;
        }
        let Some(h) = snapshot.host(host) else {
            continue;
        };
        let (place, why) = screen.place(host);
        let reason = if !host_allowed(snapshot, host, client_country) {
            "country-restriction"
        } else if place == Place::Drop
            || (place == Place::DropUnlessEmpty && !selection.failed_open)
        {
            why.map_or("screen", |w| w.as_str())
        } else if !serves(snapshot, dir.urls_of(entry), inputs.protocols)
            || selection.hosts.iter().any(|c| c.host == host)
        {
            "protocol"
        } else {
            "not-selected"
        };
        left_out.push(LeftOut {
            id: h.external_id.to_native(),
            name: h.name.as_str(),
            reason,
            health: health_of(host),
        });
    }

    let ip = inputs.client.to_canonical();
    let found = snapshot.country_source_of(ip);
    let continent = found
        .as_ref()
        .and_then(|(cc, _)| snapshot.continent_of(cc))
        .map(str::to_string);
    let client = ClientDoc {
        address: ip.to_string(),
        family: if ip.is_ipv4() { "ipv4" } else { "ipv6" },
        source: inputs.source.as_str(),
        country_source: found.as_ref().map(|(_, via)| *via),
        country: found.map(|(cc, _)| cc),
        continent,
        asn: snapshot.asn_of(ip),
        netblocks: snapshot.netblock_prefixes_of(ip),
    };
    let doc = Document {
        generation: String::from_utf8_lossy(&snapshot.label()).into_owned(),
        mode: inputs.mode.as_str(),
        directory: dir.name.as_str(),
        file: inputs.file,
        protocols: inputs.protocols,
        failed_open: selection.failed_open,
        client,
        hosts,
        left_out,
    };
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A host's families: the data's, else the probe's.
fn known_families(inputs: &Inputs<'_, '_>, host: HostIdx) -> u8 {
    let known = inputs.snapshot.host_traits(host).map_or(0, |t| t.families);
    if known != 0 {
        return known;
    }
    inputs.screen.health().map_or(0, |h| h.families(host))
}
