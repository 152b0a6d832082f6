//! A health file applied to one snapshot: each host's state by its dense index, so an answer
//! looks a host up in a table instead of by name. Made off the request path whenever the file
//! or the snapshot changes; immutable once made.

use super::model::{Family, Health, NotApplicable, State};
use super::probe::probed_host_names;
use crate::snapshot::model::{HostIdx, FAMILY_IPV4, FAMILY_IPV6};
use crate::snapshot::Snapshot;

/// Health for the hosts of one snapshot.
#[derive(Debug)]
pub struct Applied {
    /// The snapshot it was made for ([`Snapshot::sequence`]): an answer from another one
    /// ignores it (fails open) rather than reading another snapshot's indices.
    sequence: u64,
    /// By host index: 0 for a host the file does not name, else `1 + State as u8`.
    states: Vec<u8>,
    /// By host index: the families the probe saw the host answer on (`FAMILY_*` bits), 0
    /// when the file does not say. Empty when the file names no families at all.
    families: Vec<u8>,
    /// The family bits some host with probed families lacks (see
    /// [`Snapshot::families_lacked`]).
    pub families_lacked: u8,
    /// The file's `valid_until`, Unix seconds.
    pub valid_until: u64,
    /// The file's `generated_at`, Unix seconds.
    pub generated_at: u64,
    /// Hosts of the snapshot in each state, in [`State::ALL`] order.
    pub counts: [usize; 5],
}

impl Applied {
    /// `health` for `snapshot` at `now` (Unix seconds), unless the file may not be used
    /// ([`Health::applicable`]: past `valid_until`, or most probed hosts condemned).
    pub fn new(health: &Health, snapshot: &Snapshot, now: u64) -> Result<Applied, NotApplicable> {
        let probed = probed_host_names(snapshot);
        health.applicable(now, probed.iter().map(String::as_str))?;
        let hosts = &snapshot.data().hosts;
        let mut counts = [0usize; 5];
        let mut families = Vec::new();
        let mut families_lacked = 0;
        for (i, h) in hosts.iter().enumerate() {
            let key = super::model::host_key(h.name.as_str(), h.external_id.to_native());
            let probed = health
                .hosts
                .get(&key)
                .and_then(|e| e.families.as_deref())
                .map_or(0, family_bits);
            if probed != 0 {
                families.resize(hosts.len(), 0);
                families[i] = probed;
                families_lacked |= (FAMILY_IPV4 | FAMILY_IPV6) & !probed;
            }
        }
        let states = hosts
            .iter()
            .map(|h| {
                let key = super::model::host_key(h.name.as_str(), h.external_id.to_native());
                match health.state(&key) {
                    Some(state) => {
                        let i = State::ALL.iter().position(|s| *s == state).unwrap_or(0);
                        counts[i] += 1;
                        1 + i as u8
                    }
                    None => 0,
                }
            })
            .collect();
        Ok(Applied {
            sequence: snapshot.sequence(),
            states,
            families,
            families_lacked,
            valid_until: health.valid_until,
            generated_at: health.generated_at,
            counts,
        })
    }

    /// Whether this was made for `snapshot`.
    #[inline]
    pub fn is_for(&self, snapshot: &Snapshot) -> bool {
        self.sequence == snapshot.sequence()
    }

    /// The families the probe saw host `host` answer on (`FAMILY_*` bits), 0 when unknown.
    #[inline]
    pub fn families(&self, host: HostIdx) -> u8 {
        self.families.get(host as usize).copied().unwrap_or(0)
    }

    /// The state of host `host`, if the file names it.
    #[inline]
    pub fn state(&self, host: HostIdx) -> Option<State> {
        match self.states.get(host as usize).copied() {
            Some(0) | None => None,
            Some(n) => State::ALL.get(usize::from(n - 1)).copied(),
        }
    }
}

/// A probe's family list as `FAMILY_*` bits.
fn family_bits(list: &[Family]) -> u8 {
    list.iter().fold(0, |acc, f| {
        acc | match f {
            Family::Ipv4 => FAMILY_IPV4,
            Family::Ipv6 => FAMILY_IPV6,
        }
    })
}
