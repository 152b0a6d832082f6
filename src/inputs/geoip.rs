//! GeoIP: reading a MaxMind DB (GeoIP2/GeoLite2 Country) for a build. The lookup the server
//! makes in it lives with the snapshot (`snapshot::geo`).

use std::path::Path;

use super::{read_file, InputError};

/// Reads an mmdb file and checks that maxminddb can open it, so a wrong file is reported when
/// the bundle is built rather than when the server loads it. Returns the file's bytes, which
/// the bundle embeds as they are.
pub fn read_mmdb(path: &Path) -> Result<Vec<u8>, InputError> {
    let bytes = read_file(path)?;
    maxminddb::Reader::from_source(&bytes[..]).map_err(|e| {
        InputError::new(
            path,
            "",
            format!("not a MaxMind DB (GeoIP2/GeoLite2 Country) file: {e}"),
        )
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn mm_small(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/mm-small")
            .join(name)
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = read_mmdb(Path::new("/nonexistent/GeoLite2-Country.mmdb")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/GeoLite2-Country.mmdb: cannot read"),
            "{err}"
        );
    }

    #[test]
    fn non_mmdb_file_is_an_error_naming_it() {
        let path = mm_small("country_continent.csv");
        let err = read_mmdb(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(text.contains("not a MaxMind DB"), "{text}");
    }
}
