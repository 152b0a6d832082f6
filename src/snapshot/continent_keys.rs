//! Country codes to continent numbers, built at load, so that finding a directory's countries
//! on the client's continent compares small integers instead of looking codes up by string.

use super::model::ArchivedSnapshotData;

/// Codes of two ASCII characters (every code of MirrorManager's table) have a slot in the
/// table, indexed by their two bytes; any other code is looked up in the archive.
const SLOTS: usize = 128 * 128;
/// A slot's value for a country whose continent has no number that fits: look it up by name.
const BY_NAME: u8 = u8::MAX;

/// The continent of every country of the snapshot's country table, as a number: two countries
/// have the same number exactly when the table gives them the same continent.
pub struct ContinentKeys {
    /// Per slot, its country's continent number plus one; 0: not in the table.
    table: Box<[u8]>,
    /// The distinct continents of the country table, sorted: a continent's number is its place.
    continents: Vec<String>,
}

/// The table slot of a two-character ASCII code.
#[inline]
fn slot(code: &[u8]) -> Option<usize> {
    match *code {
        [a, b] if a.is_ascii() && b.is_ascii() => Some(usize::from(a) << 7 | usize::from(b)),
        _ => None,
    }
}

impl ContinentKeys {
    pub fn new(data: &ArchivedSnapshotData) -> Self {
        let mut continents: Vec<String> = data
            .countries
            .iter()
            .map(|e| e.continent.as_str().to_string())
            .collect();
        continents.sort_unstable();
        continents.dedup();
        let mut keys = ContinentKeys {
            table: vec![0; SLOTS].into_boxed_slice(),
            continents,
        };
        for e in data.countries.iter() {
            if let (Some(at), Some(number)) = (
                slot(e.country.as_bytes()),
                keys.number(e.continent.as_str()),
            ) {
                // Number 254 and up would be `BY_NAME` or more: those are asked by name.
                keys.table[at] = u8::try_from(number + 1).unwrap_or(BY_NAME);
            }
        }
        keys
    }

    /// A continent's number, by its name.
    pub fn number(&self, continent: &str) -> Option<u32> {
        let at = self
            .continents
            .binary_search_by(|c| c.as_str().cmp(continent))
            .ok()?;
        u32::try_from(at).ok()
    }

    /// The continent number of `country` (an uppercase code) as the table has it: `None`
    /// when the table cannot say (a code without a slot, or a continent past the 254th),
    /// for the caller to ask [`ContinentKeys::number`] with the continent's name.
    // Inlined into the continent walk, which asks for each of a directory's countries: out of
    // line the call was two thirds of the walk.
    #[inline(always)]
    pub fn table_key(&self, country: &str) -> Option<Option<u32>> {
        match slot(country.as_bytes()).map(|at| self.table[at]) {
            Some(0) => Some(None),
            Some(v) if v != BY_NAME => Some(Some(u32::from(v) - 1)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::snapshot::model::SnapshotData;
    use crate::snapshot::Snapshot;

    /// Two codes have the same key exactly when `continent_of` gives both the same continent,
    /// for codes with a slot and without (`--`, three letters, lowercase, empty), codes the
    /// table lacks, and a continent named by one country only.
    #[test]
    fn equal_keys_are_equal_continents() {
        let pairs = [
            ("--", "EU"),
            ("A1", "--"),
            ("AT", "EU"),
            ("DE", "EU"),
            ("EG", "AF"),
            ("US", "NA"),
            ("XYZ", "AF"),
            ("Z9", "EU"),
            ("ZZ", "ZZ"),
        ];
        let data = SnapshotData::default().with_country_continents(pairs);
        let snapshot = Snapshot::from_data(&data).unwrap();
        let codes = [
            "A1", "AT", "DE", "EG", "US", "Z9", "--", "XYZ", "ZZ", "FR", "de", "",
        ];
        for a in codes {
            assert_eq!(
                snapshot.continent_key(a).is_some(),
                snapshot.continent_of(a).is_some(),
                "{a}"
            );
            for b in codes {
                let same_key = snapshot.continent_key(a).is_some()
                    && snapshot.continent_key(a) == snapshot.continent_key(b);
                let same_continent = snapshot.continent_of(a).is_some()
                    && snapshot.continent_of(a) == snapshot.continent_of(b);
                assert_eq!(same_key, same_continent, "{a} and {b}");
            }
        }
        assert_eq!(snapshot.continent_key("DE"), snapshot.continent_key("--"));
        assert_ne!(snapshot.continent_key("DE"), snapshot.continent_key("EG"));
    }

    /// Past 254 continents a key comes from the names, still equal exactly for the same
    /// continent.
    #[test]
    fn keys_past_the_table_are_looked_up_by_name() {
        // 600 countries, two to a continent: codes `AA`..`Zz`, continents `K000`..`K299`.
        let codes: Vec<String> = (b'A'..=b'Z')
            .flat_map(|a| (b'A'..=b'z').map(move |b| String::from_utf8(vec![a, b]).unwrap()))
            .filter(|c| c.chars().all(|ch| ch.is_ascii_alphabetic()))
            .take(600)
            .collect();
        let continent = |i: usize| format!("K{:03}", i / 2);
        let data = SnapshotData::default().with_country_continents(
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), continent(i))),
        );
        let snapshot = Snapshot::from_data(&data).unwrap();
        let keys: Vec<Option<u32>> = codes.iter().map(|c| snapshot.continent_key(c)).collect();
        assert!(keys.iter().all(Option::is_some));
        for i in (0..codes.len()).step_by(7) {
            for j in (0..codes.len()).step_by(5) {
                assert_eq!(keys[i] == keys[j], continent(i) == continent(j), "{i} {j}");
            }
        }
    }
}
