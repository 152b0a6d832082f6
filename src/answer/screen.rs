//! The per-host screen of one request (issue 11 and 12): what the health data, `family=`,
//! `exclude_country=` and the client's address family say of each host, as one [`Place`]
//! (the strictest wins) for [`super::select::Criteria::screen`].

use std::net::IpAddr;

use crate::answer::request::Fit;
use crate::answer::select::Place;
use crate::health::{Applied, State};
use crate::snapshot::model::{HostIdx, FAMILY_IPV4, FAMILY_IPV6};
use crate::snapshot::Snapshot;

/// Where the health data puts a host (issue 11): `down` and `missing` out unless nothing
/// would be left, `stale` after the others, the rest where selection puts them.
pub fn health_place(health: Option<&Applied>, host: HostIdx) -> Place {
    match health.and_then(|h| h.state(host)) {
        Some(State::Down | State::Missing) => Place::DropUnlessEmpty,
        Some(State::Stale) => Place::Last,
        Some(State::Current | State::Behind) | None => Place::Keep,
    }
}

/// How strict a [`Place`] is: of two, the stricter wins.
fn strictness(place: Place) -> u8 {
    match place {
        Place::Keep => 0,
        Place::Last => 1,
        Place::DropUnlessEmpty => 2,
        Place::Drop => 3,
    }
}

/// Why the screen placed a host as it did (the strictest reason wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenReason {
    Health,
    ExcludeCountry,
    /// `family=`: the host is known to lack the only family the client can use.
    Family,
    /// The client's address family: the host is known to lack it (moved last).
    ClientFamily,
}

impl ScreenReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ScreenReason::Health => "health",
            ScreenReason::ExcludeCountry => "exclude_country",
            ScreenReason::Family => "family",
            ScreenReason::ClientFamily => "client-family",
        }
    }
}

/// The per-host screen of one request (decisions 13-15): the health data, `exclude_country`
/// (out), `family=` (out unless nothing is left) and the client's own address family (hosts
/// known to lack it last). [`Screen::active`] is false when none can place a host anywhere
/// but where selection puts it, so such requests do no per-host work.
pub struct Screen<'a> {
    snapshot: &'a Snapshot,
    health: Option<&'a Applied>,
    exclude: &'a [[u8; 2]],
    /// The only family the client can use (`family=`), 0 when not given or no host lacks it.
    only: u8,
    /// The client address's family, 0 when no host is known to lack it (or `family=` is
    /// given: it says more).
    prefer: u8,
}

impl<'a> Screen<'a> {
    pub fn new(
        snapshot: &'a Snapshot,
        health: Option<&'a Applied>,
        fit: &'a Fit,
        client: IpAddr,
    ) -> Screen<'a> {
        let lacked = snapshot.families_lacked() | health.map_or(0, |h| h.families_lacked);
        let client_family = if client.to_canonical().is_ipv4() {
            FAMILY_IPV4
        } else {
            FAMILY_IPV6
        };
        let (only, prefer) = if fit.family != 0 {
            (fit.family & lacked, 0)
        } else {
            (0, client_family & lacked)
        };
        Screen {
            snapshot,
            health,
            exclude: &fit.exclude,
            only,
            prefer,
        }
    }

    /// Whether the screen may place any host elsewhere than selection does.
    pub fn active(&self) -> bool {
        self.health.is_some() || !self.exclude.is_empty() || self.only != 0 || self.prefer != 0
    }

    /// The health data applied, if any.
    pub fn health(&self) -> Option<&'a Applied> {
        self.health
    }

    /// Where the screen puts `host`, and why when not [`Place::Keep`].
    pub fn place(&self, host: HostIdx) -> (Place, Option<ScreenReason>) {
        if !self.exclude.is_empty() {
            let country = self
                .snapshot
                .host(host)
                .map(|h| h.country.as_str().as_bytes());
            if country.is_some_and(|c| self.exclude.iter().any(|e| e[..] == *c)) {
                return (Place::Drop, Some(ScreenReason::ExcludeCountry));
            }
        }
        let mut placed = (health_place(self.health, host), None);
        if placed.0 != Place::Keep {
            placed.1 = Some(ScreenReason::Health);
        }
        if self.only | self.prefer != 0 {
            let mut known = self.snapshot.host_traits(host).map_or(0, |t| t.families);
            if known == 0 {
                known = self.health.map_or(0, |h| h.families(host));
            }
            let family = if known == 0 {
                None
            } else if self.only != 0 && known & self.only == 0 {
                Some((Place::DropUnlessEmpty, ScreenReason::Family))
            } else if self.prefer != 0 && known & self.prefer == 0 {
                Some((Place::Last, ScreenReason::ClientFamily))
            } else {
                None
            };
            if let Some((place, why)) = family {
                if strictness(place) > strictness(placed.0) {
                    placed = (place, Some(why));
                }
            }
        }
        placed
    }
}

/// The family bits as the native format and the health file write them.
pub fn family_names(bits: u8) -> Vec<&'static str> {
    let mut names = Vec::new();
    if bits & FAMILY_IPV4 != 0 {
        names.push("ipv4");
    }
    if bits & FAMILY_IPV6 != 0 {
        names.push("ipv6");
    }
    names
}
