//! The country -> continent table, MirrorManager's `country_continent.csv` format.

use std::collections::BTreeMap;
use std::path::Path;

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
    let mut out = BTreeMap::new();
    let mut first = true;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let header = std::mem::replace(&mut first, false);
        let Some((country, continent)) = line.split_once(',') else {
            warnings.push(format!(
                "{}: line {}: expected `COUNTRY,CONTINENT`; skipped",
                path.display(),
                number + 1
            ));
            continue;
        };
        let country = country.trim().trim_matches('"');
        let continent = continent.trim().trim_matches('"');
        if country.len() != 2 {
            if !header {
                warnings.push(format!(
                    "{}: line {}: invalid country {country:?}; skipped",
                    path.display(),
                    number + 1
                ));
            }
            continue; // the header line, as MirrorManager's readers treat it
        }
        if continent.len() != 2 {
            warnings.push(format!(
                "{}: line {}: invalid continent {continent:?}; skipped",
                path.display(),
                number + 1
            ));
            continue;
        }
        out.insert(country.to_ascii_uppercase(), continent.to_ascii_uppercase());
    }
    if out.is_empty() {
        return Err(InputError::new(
            path,
            "",
            "no usable `COUNTRY,CONTINENT` line: is this a country/continent CSV?",
        ));
    }
    Ok(out)
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
