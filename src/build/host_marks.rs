//! A mark per host, forgotten all at once: what compiling one directory asks of its hosts
//! ("does it carry host h, and where?", "is h in this list yet?") in constant time.
//!
//! Directories carry up to a few hundred hosts, and asking those questions by scanning or
//! binary search was 12 % of compiling the XL cache (loadtest/RESULTS.md, "Load path").

use crate::snapshot::model::HostIdx;

/// A value per host index, valid until [`HostMarks::clear`].
#[derive(Debug)]
pub struct HostMarks {
    /// `round` when the host was last marked.
    stamp: Vec<u32>,
    value: Vec<u32>,
    round: u32,
}

impl HostMarks {
    /// Marks for hosts `0..hosts`; a host past that is never marked.
    pub fn new(hosts: usize) -> HostMarks {
        HostMarks {
            stamp: vec![0; hosts],
            value: vec![0; hosts],
            round: 1,
        }
    }

    /// Forgets every mark, in constant time (but once every 2^32 rounds).
    pub fn clear(&mut self) {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.stamp.fill(0);
            self.round = 1;
        }
    }

    /// The value host `h` was marked with since the last clear.
    pub fn get(&self, h: HostIdx) -> Option<u32> {
        let at = h as usize;
        (self.stamp.get(at) == Some(&self.round)).then(|| self.value[at])
    }

    /// Marks `h` with `value`; returns false (and leaves the mark) if it was marked already.
    pub fn mark(&mut self, h: HostIdx, value: u32) -> bool {
        let at = h as usize;
        match self.stamp.get_mut(at) {
            Some(stamp) if *stamp != self.round => {
                *stamp = self.round;
                self.value[at] = value;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_last_until_cleared_and_the_first_mark_stays() {
        let mut marks = HostMarks::new(4);
        assert!(marks.mark(1, 10));
        assert!(!marks.mark(1, 11));
        assert!(!marks.mark(9, 1), "past the hosts");
        assert_eq!(
            (marks.get(1), marks.get(0), marks.get(9)),
            (Some(10), None, None)
        );
        marks.clear();
        assert_eq!(marks.get(1), None);
        assert!(marks.mark(1, 12));
        assert_eq!(marks.get(1), Some(12));
        // The round counter wrapping forgets old marks too.
        marks.round = u32::MAX;
        assert!(marks.mark(2, 1));
        marks.clear();
        assert_eq!((marks.get(1), marks.get(2)), (None, None));
    }
}
