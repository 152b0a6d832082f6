//! External ids to dense indices: a table when the ids lie close together (MirrorManager's are
//! database row ids), a hash map when they do not.
//!
//! Compiling the XL cache looks an id up about four million times (every host and URL of every
//! directory); with a hash map that was 7 % of the build's CPU (loadtest/RESULTS.md, "Load path").

use std::collections::HashMap;

/// An id -> index map, fixed once built.
#[derive(Debug, Default)]
pub struct IdIndex {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// `slots[id - base]` is the index plus one, 0 for an id not in the map.
    Table {
        base: i64,
        slots: Vec<u32>,
    },
    Map(HashMap<i64, u32>),
}

impl Default for Kind {
    fn default() -> Self {
        Kind::Map(HashMap::new())
    }
}

/// A table is used while it has at most this many slots per entry (plus a fixed allowance):
/// a few bytes of table per id, instead of a hash per lookup.
const SLOTS_PER_ENTRY: i64 = 8;
const SLOTS_ALLOWANCE: i64 = 4096;

impl IdIndex {
    /// The map of `pairs` (id, index). For an id given twice the first pair wins.
    pub fn new(pairs: &[(i64, u32)]) -> IdIndex {
        let (Some(min), Some(max)) = (
            pairs.iter().map(|p| p.0).min(),
            pairs.iter().map(|p| p.0).max(),
        ) else {
            return IdIndex::default();
        };
        let limit = (pairs.len() as i64)
            .saturating_mul(SLOTS_PER_ENTRY)
            .saturating_add(SLOTS_ALLOWANCE);
        let fits = max.checked_sub(min).is_some_and(|span| span < limit)
            && pairs.iter().all(|p| p.1 < u32::MAX);
        if !fits {
            let mut map = HashMap::with_capacity(pairs.len());
            for &(id, at) in pairs {
                map.entry(id).or_insert(at);
            }
            return IdIndex {
                kind: Kind::Map(map),
            };
        }
        let span = usize::try_from(max - min).unwrap_or(0) + 1;
        let mut slots = vec![0u32; span];
        for &(id, at) in pairs {
            let slot = &mut slots[(id - min) as usize];
            if *slot == 0 {
                *slot = at + 1;
            }
        }
        IdIndex {
            kind: Kind::Table { base: min, slots },
        }
    }

    /// The index of `id`, if it is in the map.
    pub fn get(&self, id: i64) -> Option<u32> {
        match &self.kind {
            Kind::Table { base, slots } => {
                let slot = usize::try_from(id.checked_sub(*base)?).ok()?;
                slots.get(slot).and_then(|&s| s.checked_sub(1))
            }
            Kind::Map(map) => map.get(&id).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(i64, u32)], absent: &[i64]) {
        let index = IdIndex::new(pairs);
        for &(id, at) in pairs {
            let first = pairs.iter().find(|p| p.0 == id).map(|p| p.1);
            assert_eq!(index.get(id), first, "{id} ({at})");
        }
        for &id in absent {
            assert_eq!(index.get(id), None, "{id}");
        }
    }

    #[test]
    fn close_ids_and_far_ids_give_the_same_answers() {
        let absent = [i64::MIN, -1, 0, 3, 6, 8, 99, i64::MAX];
        // Close together: a table.
        let close = [(1, 0), (2, 1), (4, 2), (5, 3), (7, 4), (2, 9)];
        assert!(matches!(IdIndex::new(&close).kind, Kind::Table { .. }));
        check(&close, &absent);
        // Far apart, and at the ends of the range: a map.
        let far = [(1, 0), (i64::MAX, 1), (i64::MIN + 1, 2), (5, 3)];
        assert!(matches!(IdIndex::new(&far).kind, Kind::Map(_)));
        check(&far, &[-1, 0, 3, 99, i64::MIN]);
        // Negative ids in a table.
        check(&[(-5, 0), (-3, 1), (-4, 2)], &[-6, -2, 0]);
        check(&[], &absent);
    }
}
