//! The country -> continent table, MirrorManager's `country_continent.csv` format.

use std::collections::BTreeMap;
use std::path::Path;

use super::lines::{parse_lines, Line};
use super::InputError;

/// Reads `CC,CONT` lines. The header (the first line, if its first field is not two
/// characters) and blank lines are ignored; any other line without a comma, or with a country
/// or continent that is not two characters, is skipped with a warning. Quotes around fields are removed. Codes are uppercased. Fails if
/// no line is usable.
pub fn parse_csv(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, InputError> {
    let none_usable = "no usable `COUNTRY,CONTINENT` line: is this a country/continent CSV?";
    let pairs = parse_lines(path, text, warnings, none_usable, |line, first| {
        let Some((country, continent)) = line.split_once(',') else {
            return Line::Skip("expected `COUNTRY,CONTINENT`".into());
        };
        let country = country.trim().trim_matches('"');
        let continent = continent.trim().trim_matches('"');
        if country.len() != 2 {
            // The first line may be the header, as MirrorManager's readers treat it.
            return if first {
                Line::Ignore
            } else {
                Line::Skip(format!("invalid country {country:?}"))
            };
        }
        if continent.len() != 2 {
            return Line::Skip(format!("invalid continent {continent:?}"));
        }
        Line::Item((country.to_ascii_uppercase(), continent.to_ascii_uppercase()))
    })?;
    // A country listed twice: the later line wins, as in MirrorManager's readers.
    Ok(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mirrormanager_csv() {
        let text = "\"iso 3166 country\",\"continent code\"\nA1,--\nde,eu\nDE\nSE,EU,extra\n";
        let mut warnings = Vec::new();
        let map = parse_csv(Path::new("c.csv"), text, &mut warnings).unwrap();
        assert_eq!(map.get("DE").map(String::as_str), Some("EU"));
        assert_eq!(map.get("A1").map(String::as_str), Some("--"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn only_the_first_line_can_be_a_header() {
        let text = "country,continent\nDE,EU\nGermany,EU\n\"\",EU\n";
        let mut warnings = Vec::new();
        let map = parse_csv(Path::new("c.csv"), text, &mut warnings).unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(
            warnings,
            [
                "c.csv: line 3: invalid country \"Germany\"; skipped",
                "c.csv: line 4: invalid country \"\"; skipped"
            ]
        );
    }
}
