//! The country -> continent table, MirrorManager's `country_continent.csv` format.

use std::collections::BTreeMap;
use std::path::Path;

use super::InputError;

/// Reads `CC,CONT` lines. The header line (its first field is not two characters) and blank
/// lines are ignored; a line without a comma or with a continent that is not two characters
/// is skipped with a warning. Quotes around fields are removed. Codes are uppercased. Fails if
/// no line is usable.
pub fn parse_csv(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, InputError> {
    let mut out = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
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
}
