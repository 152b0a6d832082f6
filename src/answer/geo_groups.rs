//! Steps 5-6 of a selection kept per thread: for a directory and a client country, the hosts
//! of that country and of the rest of its continent that may serve the client, with their
//! header phrases, so that the next answer for the same pair copies two lists instead of
//! walking the directory's countries (decision 26).
//!
//! Only what depends on the snapshot, the directory and the country is kept; the request's
//! screen (health, `exclude_country`, `family=`), the minimum and the shuffle are applied to
//! the copy, every answer afresh. Kept per thread, like the rendered pieces (decision 24), so
//! that no request reads what another writes, and keyed by the snapshot's `instance`, never by
//! the directory's address alone.

use std::cell::RefCell;

use crate::snapshot::model::HostIdx;

/// The groups steps 5-6 give for one directory and one client country, before the request's
/// screen.
#[derive(Debug, Default)]
pub struct GeoGroups {
    /// The country's hosts the client may use, in archive order.
    pub country: Vec<HostIdx>,
    /// The other countries of its continent, in code order, their hosts the client may use.
    pub continent: Vec<HostIdx>,
    /// The header phrases, each ending with a space.
    pub phrases: String,
    /// The directory lists the country (the answer is then found via GeoIP, even when no
    /// host of it may serve the client).
    pub country_listed: bool,
    /// The continent walk found hosts before any was screened out.
    pub continent_found: bool,
    /// No host is in both lists, nor twice in one: an answer made of these alone need not
    /// look for repeats (a valid bundle can still list a host under two countries).
    pub distinct: bool,
}

impl GeoGroups {
    fn clear(&mut self) {
        self.country.clear();
        self.continent.clear();
        self.phrases.clear();
        self.country_listed = false;
        self.continent_found = false;
        self.distinct = false;
    }
}

/// Pairs kept per thread. A direct-mapped table: a pair whose slot holds another is
/// computed again and takes the slot. Each entry holds at most two lists of the directory's
/// hosts and a phrase per country, so a thread keeps at most `SLOTS` directories' worth
/// (under 3 KB each for a directory of 200 hosts in 150 countries: under 1 MB a thread).
const SLOTS: usize = 256;

#[derive(Default)]
struct Slot {
    /// The directory's address; `None` until the slot is first filled.
    dir: Option<usize>,
    country: String,
    groups: GeoGroups,
}

#[derive(Default)]
struct Kept {
    /// The snapshot instance the slots were filled from.
    instance: u64,
    slots: Vec<Slot>,
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

/// Calls `read` with the groups of (`dir`, `country`) in the snapshot numbered `instance`,
/// made by `fill` (into emptied groups) unless this thread kept them. `dir` is the
/// directory's address, which identifies it within one snapshot.
///
/// Neither closure may call this function again (the thread's table is borrowed while they
/// run).
pub fn with_geo_groups<T>(
    instance: u64,
    dir: usize,
    country: &str,
    fill: impl FnOnce(&mut GeoGroups),
    read: impl FnOnce(&GeoGroups) -> T,
) -> T {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.instance != instance || kept.slots.is_empty() {
            // Another snapshot's groups: let them all go (its directories may sit at the
            // addresses this one's do).
            kept.slots.clear();
            kept.slots.resize_with(SLOTS, Slot::default);
            kept.instance = instance;
        }
        let slot = &mut kept.slots[slot_of(dir, country)];
        if slot.dir != Some(dir) || slot.country != country {
            // Marked filled only once filled, so that a `fill` that panics leaves no half.
            slot.dir = None;
            slot.country.clear();
            slot.country.push_str(country);
            slot.groups.clear();
            fill(&mut slot.groups);
            slot.dir = Some(dir);
        }
        read(&slot.groups)
    })
}

/// The slot of a pair: the address and the code's bytes mixed by one multiply (Fibonacci
/// hashing), the top bits taken.
fn slot_of(dir: usize, country: &str) -> usize {
    let mut code = 0u64;
    for &b in country.as_bytes().iter().take(8) {
        code = code << 8 | u64::from(b);
    }
    let mixed = (dir as u64 ^ code.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - SLOTS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(hosts: &[HostIdx]) -> impl FnOnce(&mut GeoGroups) + '_ {
        move |g: &mut GeoGroups| {
            assert!(g.country.is_empty() && g.phrases.is_empty(), "not emptied");
            g.country.extend_from_slice(hosts);
            g.country_listed = true;
        }
    }

    /// A pair is filled once per snapshot instance; another instance, another directory or
    /// another country is filled anew, and a pair that lost its slot to another is filled again.
    #[test]
    fn kept_per_instance_directory_and_country() {
        let read = |g: &GeoGroups| g.country.clone();
        let never = |_: &mut GeoGroups| panic!("filled again though kept");
        assert_eq!(
            with_geo_groups(7, 0x1000, "DE", filled(&[1, 2]), read),
            [1, 2]
        );
        assert_eq!(with_geo_groups(7, 0x1000, "DE", never, read), [1, 2]);
        // Another instance at the same address: filled anew.
        assert_eq!(with_geo_groups(8, 0x1000, "DE", filled(&[3]), read), [3]);
        assert_eq!(with_geo_groups(8, 0x1000, "DE", never, read), [3]);
        // Another country, another directory.
        assert_eq!(with_geo_groups(8, 0x1000, "AT", filled(&[4]), read), [4]);
        assert_eq!(with_geo_groups(8, 0x2000, "DE", filled(&[5]), read), [5]);
        // Find a pair that shares the slot of (0x1000, "DE"): after it, DE is filled again.
        let taker = (1..)
            .map(|i| 0x1000 + 64 * i)
            .find(|&d| slot_of(d, "DE") == slot_of(0x1000, "DE"))
            .unwrap();
        assert_eq!(with_geo_groups(8, taker, "DE", filled(&[6]), read), [6]);
        assert_eq!(with_geo_groups(8, 0x1000, "DE", filled(&[3]), read), [3]);
    }

    /// Slots spread: the countries of one directory and one country over many directories
    /// (addresses a few hundred bytes apart, as archived directories are) fill most slots.
    #[test]
    fn pairs_spread_over_the_slots() {
        let mut used = [false; SLOTS];
        for d in 0..64 {
            for c in ["DE", "AT", "FR", "US"] {
                used[slot_of(0x7f00_0000_0000 + d * 312, c)] = true;
            }
        }
        let count = used.iter().filter(|&&u| u).count();
        assert!(
            count > SLOTS / 2,
            "{count} of {SLOTS} slots used by 256 pairs"
        );
    }
}
