//! "The first entry wins": every reader and `compile` keep the first of two entries that share
//! a key and warn about the second, because the production server's linear scans find the
//! first (docs/protocol.md section 12).

use std::collections::BTreeSet;

/// The keys seen so far in one table.
pub struct FirstWins<K> {
    seen: BTreeSet<K>,
}

impl<K: Ord> Default for FirstWins<K> {
    fn default() -> Self {
        FirstWins {
            seen: BTreeSet::new(),
        }
    }
}

impl<K: Ord> FirstWins<K> {
    pub fn new() -> Self {
        FirstWins::default()
    }

    /// True the first time `key` comes; every later time false, after telling `duplicate`
    /// (which writes the warning).
    pub fn admit(&mut self, key: K, duplicate: impl FnOnce(&K)) -> bool {
        if self.seen.contains(&key) {
            duplicate(&key);
            return false;
        }
        self.seen.insert(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::FirstWins;

    #[test]
    fn keeps_the_first_and_reports_each_repeat() {
        let mut seen = FirstWins::new();
        let mut repeats = Vec::new();
        let kept: Vec<(&str, i32)> = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("c", 5)]
            .into_iter()
            .filter(|(k, _)| seen.admit(*k, |k| repeats.push(k.to_string())))
            .collect();
        assert_eq!(kept, [("a", 1), ("b", 2), ("c", 5)]);
        assert_eq!(repeats, ["a", "a"]);
    }
}
