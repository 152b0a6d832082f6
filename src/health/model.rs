//! The health data: per-host state by name, and what the server does with it ([`fit`],
//! [`Health::applicable`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the last rounds found about one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Every sampled file matched the newest published version.
    Current,
    /// Some sampled file matched only an older published version (a metalink alternate),
    /// which clients still accept.
    Behind,
    /// Some sampled file matched no published version.
    Stale,
    /// A file the host should carry answered 404 or 410, for `--fail-after` rounds in a row.
    Missing,
    /// Refused, reset, TLS failure, timeout or 5xx, for `--fail-after` rounds in a row.
    Down,
}

impl State {
    /// Every state, in the order of the summary `probe --once` prints.
    pub const ALL: [State; 5] = [
        State::Current,
        State::Behind,
        State::Stale,
        State::Missing,
        State::Down,
    ];

    /// The name used in the file and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Current => "current",
            State::Behind => "behind",
            State::Stale => "stale",
            State::Missing => "missing",
            State::Down => "down",
        }
    }

    /// Whether an answer leaves the host out (`down`, `missing`).
    pub fn excluded(self) -> bool {
        matches!(self, State::Down | State::Missing)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address family a host's name resolved to or answered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// One host's entry in a health file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostHealth {
    pub state: State,
    /// Why, for a person: which file, which URL, what came back.
    pub reason: String,
    /// When the host entered `state`, Unix seconds.
    pub since: u64,
    /// When this host was last checked, Unix seconds.
    pub checked_at: u64,
    /// Failing rounds (down or missing) in a row, up to now; 0 after a good round.
    pub failures: u32,
    /// The families the host answered on in its last round, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Vec<Family>>,
}

/// A loaded health file: immutable once built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// [`FORMAT_VERSION`]; a reader refuses any other.
    pub format: u32,
    /// When the round that wrote the file ended, Unix seconds.
    pub generated_at: u64,
    /// After this (Unix seconds) the file is too old to use; see [`Health::applicable`].
    pub valid_until: u64,
    /// The generation time (`generated_at`) of the mirror data the round probed.
    pub snapshot_generated_at: u64,
    /// Which input the data came from, for a person.
    pub source: String,
    /// Rounds made so far (the sample rotation reads it).
    pub round: u64,
    /// Per host name.
    pub hosts: BTreeMap<String, HostHealth>,
}

/// Why a health file must not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    #[error("health data expired at {valid_until} (now {now}): the probe has stopped writing it")]
    Expired { valid_until: u64, now: u64 },
    #[error(
        "health data marks {excluded} of {probed} probed hosts down or missing: more likely a \
         problem of the probe than of the mirrors"
    )]
    TooManyExcluded { excluded: usize, probed: usize },
}

impl Health {
    /// A host's state, `None` for a host the file does not name (treat as current).
    pub fn state(&self, host_name: &str) -> Option<State> {
        self.hosts.get(host_name).map(|h| h.state)
    }

    /// How many hosts are in each state, in [`State::ALL`] order.
    pub fn counts(&self) -> [(State, usize); 5] {
        State::ALL.map(|s| (s, self.hosts.values().filter(|h| h.state == s).count()))
    }

    /// Whether the file may be used at `now` (Unix seconds) for a snapshot whose probed hosts
    /// are `probed_hosts` (see [`probed_host_names`]).
    ///
    /// Refused past `valid_until` (a dead probe must not pin old verdicts), and when more than
    /// half the probed hosts are down or missing: that many mirrors failing at once is more
    /// likely the probe's own network, and leaving them out would load the rest.
    pub fn applicable<'a>(
        &self,
        now: u64,
        probed_hosts: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), NotApplicable> {
        if now > self.valid_until {
            return Err(NotApplicable::Expired {
                valid_until: self.valid_until,
                now,
            });
        }
        let (mut probed, mut excluded) = (0usize, 0usize);
        for name in probed_hosts {
            probed += 1;
            excluded += usize::from(self.state(name).is_some_and(State::excluded));
        }
        if excluded * 2 > probed {
            return Err(NotApplicable::TooManyExcluded { excluded, probed });
        }
        Ok(())
    }
}

/// How [`fit`] treats a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Keep,
    Last,
    Drop,
}

fn place(state: Option<State>) -> Place {
    match state {
        None | Some(State::Current | State::Behind) => Place::Keep,
        Some(State::Stale) => Place::Last,
        Some(State::Missing | State::Down) => Place::Drop,
    }
}

/// What [`fit`] did to a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// No host had a state that changes anything.
    Unchanged,
    /// Hosts were left out or moved last.
    Fitted { left_out: usize, moved_last: usize },
    /// Every host would have been left out, so none was (fail open).
    FailedOpen,
}

/// Applies health to hosts in answer order, in place: `down` and `missing` hosts are left out,
/// `stale` ones move after every other host (each group keeps its order), `current`, `behind`
/// and unknown (`None`) ones stay where they are.
///
/// Fails open: when every host would be left out, the list stays as it is, since a client is
/// better served by a doubtful mirror than by none. Allocates only when a host moves last.
pub fn fit<T: Clone>(hosts: &mut Vec<T>, mut state: impl FnMut(&T) -> Option<State>) -> Fit {
    let (mut left_out, mut moved_last) = (0, 0);
    for host in hosts.iter() {
        match place(state(host)) {
            Place::Drop => left_out += 1,
            Place::Last => moved_last += 1,
            Place::Keep => {}
        }
    }
    if left_out == 0 && moved_last == 0 {
        return Fit::Unchanged;
    }
    if left_out == hosts.len() {
        return Fit::FailedOpen;
    }
    let mut last = Vec::with_capacity(moved_last);
    hosts.retain(|host| match place(state(host)) {
        Place::Keep => true,
        Place::Last => {
            last.push(host.clone());
            false
        }
        Place::Drop => false,
    });
    hosts.append(&mut last);
    Fit::Fitted {
        left_out,
        moved_last,
    }
}

/// The name a host is known by in a health file: its name, or `#<source id>` for a host
/// without one (MirrorManager's cache may lack names).
pub fn host_key(name: &str, external_id: i64) -> String {
    if name.is_empty() {
        format!("#{external_id}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(states: &[(&str, State)], valid_until: u64) -> Health {
        let hosts = states
            .iter()
            .map(|(n, s)| {
                let h = HostHealth {
                    state: *s,
                    reason: String::new(),
                    since: 0,
                    checked_at: 0,
                    failures: 0,
                    families: None,
                };
                (n.to_string(), h)
            })
            .collect();
        Health {
            format: crate::health::FORMAT_VERSION,
            generated_at: 0,
            valid_until,
            snapshot_generated_at: 0,
            source: String::new(),
            round: 1,
            hosts,
        }
    }

    fn fit_names(names: &[&'static str], h: &Health) -> Vec<&'static str> {
        let mut names = names.to_vec();
        fit(&mut names, |n| h.state(n));
        names
    }

    #[test]
    fn fit_drops_excluded_moves_stale_last_and_keeps_order() {
        use State::*;
        let h = health(
            &[
                ("a", Current),
                ("b", Stale),
                ("c", Down),
                ("d", Behind),
                ("e", Missing),
                ("f", Stale),
            ],
            100,
        );
        assert_eq!(
            fit_names(&["a", "b", "c", "d", "e", "f", "g"], &h),
            ["a", "d", "g", "b", "f"]
        );
        assert_eq!(fit_names(&["f", "b", "a"], &h), ["a", "f", "b"]);
    }

    #[test]
    fn fit_fails_open_when_everything_would_go() {
        let h = health(&[("c", State::Down), ("e", State::Missing)], 100);
        assert_eq!(fit_names(&["c", "e"], &h), ["c", "e"]);
        assert_eq!(fit_names(&[], &h), Vec::<&str>::new());
        // Stale hosts are kept, so a list of stale and down hosts keeps the stale ones.
        let h = health(&[("c", State::Down), ("s", State::Stale)], 100);
        assert_eq!(fit_names(&["c", "s"], &h), ["s"]);
    }

    #[test]
    fn applicable_refuses_expired_and_mostly_excluded_files() {
        use State::*;
        let h = health(&[("a", Current), ("b", Down), ("c", Missing)], 100);
        assert_eq!(h.applicable(100, ["a", "b"]), Ok(()));
        assert_eq!(
            h.applicable(101, ["a"]),
            Err(NotApplicable::Expired {
                valid_until: 100,
                now: 101
            })
        );
        assert_eq!(
            h.applicable(50, ["a", "b", "c"]),
            Err(NotApplicable::TooManyExcluded {
                excluded: 2,
                probed: 3
            })
        );
        // Hosts the file does not know count as probed and not excluded.
        assert_eq!(h.applicable(50, ["a", "b", "c", "x"]), Ok(()));
        assert_eq!(h.applicable(50, std::iter::empty()), Ok(()));
    }

    #[test]
    fn host_key_falls_back_to_the_source_id() {
        assert_eq!(host_key("m.example.org", 3), "m.example.org");
        assert_eq!(host_key("", 3), "#3");
    }
}
