//! GeoIP: reading a MaxMind DB (GeoIP2/GeoLite2 Country) for a build, and the one lookup the
//! server makes in it, client address -> `country.iso_code`.

use std::net::IpAddr;
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

/// The country (ISO code, uppercase) of `ip`, from the `country` record only: like
/// MirrorManager, we ignore `registered_country`. `None` when the database has no record for
/// the address, the record has no `country.iso_code`, or the lookup fails for any reason (an
/// IPv6 address in an IPv4-only database, a damaged record): an unknown country is an answer
/// the caller handles, never a reason to fail a request.
pub fn country_of<S: AsRef<[u8]>>(reader: &maxminddb::Reader<S>, ip: IpAddr) -> Option<String> {
    // `::ffff:a.b.c.d` is an IPv4 client (decision 2); looking it up as IPv4 also works in an
    // IPv4-only database, where the IPv6 form would be an error.
    let ip = ip.to_canonical();
    let found = reader.lookup(ip).ok()?;
    let code: String = found
        .decode_path(&maxminddb::path!["country", "iso_code"])
        .ok()??;
    if code.is_empty() {
        return None;
    }
    Some(code.to_ascii_uppercase())
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
    fn looks_up_test_database() {
        let bytes = read_mmdb(&mm_small("GeoIP2-Country-Test.mmdb")).unwrap();
        let reader = maxminddb::Reader::from_source(&bytes[..]).unwrap();
        let cases = [
            ("89.160.20.115", Some("SE")),
            ("81.2.69.160", Some("GB")),
            ("216.160.83.57", Some("US")),
            ("2001:218::1", Some("JP")),
            ("175.16.199.1", Some("CN")),
            ("67.43.156.1", Some("BT")),
            ("::ffff:89.160.20.115", Some("SE")),
            ("127.0.0.1", None),
            ("::1", None),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(country_of(&reader, ip).as_deref(), want, "{ip}");
        }
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
