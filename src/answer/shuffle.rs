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
// Not inlined into `select`: when it was (a build's choice), an EU answer took 700 more
// instructions (loadtest/RESULTS.md, ninth round).
#[inline(never)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Host, SnapshotData};

    /// Draws exactly the words it is given.
    struct Scripted(std::vec::IntoIter<u64>);

    impl rand::RngCore for Scripted {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0.next().expect("no more scripted draws")
        }
        fn fill_bytes(&mut self, _: &mut [u8]) {
            unreachable!("the shuffle draws whole words")
        }
    }

    /// A snapshot of hosts with these weights, host `i` weighing `weights[i]`.
    fn hosts_weighing(weights: impl IntoIterator<Item = u32>) -> Snapshot {
        let hosts = weights
            .into_iter()
            .map(|weight| Host {
                weight,
                ..Host::default()
            })
            .collect();
        Snapshot::from_data(&SnapshotData {
            hosts,
            ..SnapshotData::default()
        })
        .unwrap()
    }

    /// Two arrivals a few units in the last place apart agree above the place bits: the order
    /// must come from the full keys, not from the places that break the tie in the first sort.
    #[test]
    fn keys_that_agree_above_the_place_bits_are_ordered_in_full() {
        let snapshot = hosts_weighing([1, 1]);
        // The ziggurat's layer is the low byte (1 here, a fast-path layer) and the uniform
        // draw the top 52 bits: the first host's is one unit larger, so it arrives later.
        let early = 0x4000_0000_0000_0001_u64;
        let mut rng = Scripted(vec![early + (1 << 12), early].into_iter());
        let mut scratch = ShuffleScratch::default();
        let order = weighted_order(&snapshot, &[0, 1], &mut rng, &mut scratch);
        assert_eq!(order, [1, 0]);
    }

    /// A list too long to number in the place bits is sorted by its full keys: every place
    /// once, and the heavier half of the hosts first about as often as the weights say.
    #[test]
    fn a_list_past_the_place_bits_is_a_weighted_order() {
        let n = (1 << 12) + 100;
        let snapshot = hosts_weighing((0..n).map(|i| if i < n / 2 { 3 } else { 1 }));
        let list: Vec<HostIdx> = (0..n as HostIdx).collect();
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(11);
        let mut scratch = ShuffleScratch::default();
        let rounds = 400;
        let mut heavy_first = 0;
        for _ in 0..rounds {
            let order = weighted_order(&snapshot, &list, &mut rng, &mut scratch);
            let mut seen = order.to_vec();
            seen.sort_unstable();
            assert!(seen.iter().copied().eq(0..n as u64), "a permutation");
            heavy_first += usize::from(order[0] < (n / 2) as u64);
        }
        // P(first is heavy) = 3/4; over 400 rounds the standard deviation is under 9.
        assert!(
            (255..=345).contains(&heavy_first),
            "{heavy_first} of {rounds}"
        );
    }
}
