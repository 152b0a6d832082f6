//! A health file applied to one snapshot: each host's state by its dense index, so an answer
//! looks a host up in a table instead of by name. Made off the request path whenever the file
//! or the snapshot changes; immutable once made.

use super::model::{Health, NotApplicable, State};
use super::probe::probed_host_names;
use crate::snapshot::model::HostIdx;
use crate::snapshot::Snapshot;

/// Health for the hosts of one snapshot.
#[derive(Debug)]
pub struct Applied {
    /// The snapshot it was made for ([`Snapshot::sequence`]): an answer from another one
    /// ignores it (fails open) rather than reading another snapshot's indices.
    sequence: u64,
    /// By host index: 0 for a host the file does not name, else `1 + State as u8`.
    states: Vec<u8>,
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

    /// The state of host `host`, if the file names it.
    #[inline]
    pub fn state(&self, host: HostIdx) -> Option<State> {
        match self.states.get(host as usize).copied() {
            Some(0) | None => None,
            Some(n) => State::ALL.get(usize::from(n - 1)).copied(),
        }
    }
}
