//! The orders of step 9 (docs/protocol.md sections 6.2 and 7): sampling without replacement by
//! weight for the country, GeoIP, continent and global groups, and the uniform
//! shuffles of ASN hosts and of netblocks of one prefix length.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::snapshot::model::HostIdx;
use crate::snapshot::Snapshot;

/// Buffers [`weighted_order`] reuses from one list to the next.
#[derive(Default)]
pub struct ShuffleScratch {
    /// Each host's key, the bits of its arrival time, in list order.
    keys: Vec<u64>,
    /// Keys with their place in the list in the low bits, then places alone: the order.
    order: Vec<u64>,
}

/// Sampling without replacement with probability proportional to weight, in O(n log n):
/// each host draws an exponential arrival time with rate `weight`, and hosts are ordered by
/// arrival (Efraimidis and Spirakis). The first host is host i with probability w_i / sum(w).
///
/// Returns the order as places in `list` (first arrival first), in `scratch`, which is reused
/// from one list to the next; the caller reads the hosts from `list` in that order.
pub fn weighted_order<'s, R: Rng + ?Sized>(
    snapshot: &Snapshot,
    list: &[HostIdx],
    rng: &mut R,
    scratch: &'s mut ShuffleScratch,
) -> &'s [u64] {
    let ShuffleScratch { keys, order } = scratch;
    keys.clear();
    order.clear();
    if list.len() < 2 {
        order.extend(0..list.len() as u64);
        return order;
    }
    // Sort plain integers: each key with its low bits replaced by its place in the list. If no
    // two keys agree above those bits, that is the order of the full keys; otherwise (about
    // once in 10^8 answers), or for a list too long to number in those bits, sort the full keys.
    const PLACE_BITS: u32 = 12;
    const PLACE: u64 = (1 << PLACE_BITS) - 1;
    // Filled by `extend` from slices' iterators, which reserve once and check no capacity
    // per host.
    keys.extend(list.iter().map(|&h| {
        let inverse_weight = snapshot.host_traits(h).map_or(1.0, |t| t.inverse_weight);
        // An Exp(1) draw by the ziggurat method: exact, and most draws need no logarithm
        // (what -ln(1 - u) costs in a call to libm).
        let arrival: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, rng);
        // Never negative nor NaN (a draw of at least 0 times a positive weight), so the bits
        // order as the numbers do.
        (arrival * inverse_weight).to_bits()
    }));
    if list.len() <= 1 << PLACE_BITS {
        order.extend(
            keys.iter()
                .enumerate()
                .map(|(at, key)| (key & !PLACE) | at as u64),
        );
        order.sort_unstable();
        if !order
            .windows(2)
            .any(|w| w[0] >> PLACE_BITS == w[1] >> PLACE_BITS)
        {
            order.iter_mut().for_each(|p| *p &= PLACE);
            return order;
        }
    }
    order.clear();
    order.extend(0..list.len() as u64);
    order.sort_unstable_by_key(|&at| keys[at as usize]);
    order
}

/// Every order of `list` equally likely: the ASN group is shuffled without weights
/// (docs/protocol.md section 7).
pub fn uniform_shuffle<R: Rng + ?Sized>(list: &mut [HostIdx], rng: &mut R) {
    list.shuffle(rng);
}

/// Shuffles hosts among netblocks of equal prefix length, keeping longer prefixes first.
pub fn shuffle_runs<R: Rng + ?Sized>(list: &mut [(u8, HostIdx)], rng: &mut R) {
    let mut start = 0;
    while start < list.len() {
        let len = list[start].0;
        let end = list[start..]
            .iter()
            .position(|(l, _)| *l != len)
            .map_or(list.len(), |p| start + p);
        list[start..end].shuffle(rng);
        start = end;
    }
}
