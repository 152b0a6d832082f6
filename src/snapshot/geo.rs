//! Where a client is: the geo index of a snapshot (an embedded MaxMind database read in place,
//! or a list of networks from the native format) and the country lookup a request makes.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::bundle::{BodyBytes, BundleError};
use super::model::{ArchivedGeo, ArchivedSnapshotData};
use super::net_map::NetMap;

/// A byte range of the bundle body, so the mmdb reader can read in place.
pub(super) struct GeoBytes {
    bytes: Arc<BodyBytes>,
    range: std::ops::Range<usize>,
}

impl AsRef<[u8]> for GeoBytes {
    fn as_ref(&self) -> &[u8] {
        self.bytes.body().get(self.range.clone()).unwrap_or(&[])
    }
}

pub(super) enum GeoIndex {
    None,
    // Both boxed: each is large, and there is one per snapshot.
    Mmdb(Box<maxminddb::Reader<GeoBytes>>),
    Networks(Box<NetMap<u32>>),
}

impl GeoIndex {
    /// The index for `data`'s geo section; `bytes` is the body `data` lives in.
    pub(super) fn new(
        path: &Path,
        data: &ArchivedSnapshotData,
        bytes: &Arc<BodyBytes>,
    ) -> Result<GeoIndex, BundleError> {
        Ok(match &data.geo {
            ArchivedGeo::None => GeoIndex::None,
            ArchivedGeo::Networks(list) => {
                let mut map = NetMap::new();
                for (i, e) in list.iter().enumerate() {
                    map.insert(&e.net, i as u32);
                }
                GeoIndex::Networks(Box::new(map))
            }
            ArchivedGeo::Mmdb(mmdb) => {
                let body = bytes.body();
                let start = (mmdb.as_ptr() as usize).saturating_sub(body.as_ptr() as usize);
                let source = GeoBytes {
                    bytes: bytes.clone(),
                    range: start..start + mmdb.len(),
                };
                let reader = maxminddb::Reader::from_source(source).map_err(|e| {
                    BundleError::Inconsistent {
                        path: path.to_path_buf(),
                        message: format!("embedded GeoIP database: {e}"),
                    }
                })?;
                GeoIndex::Mmdb(Box::new(reader))
            }
        })
    }

    /// The country (ISO code, uppercase) the index gives `ip` (already canonical), if any.
    pub(super) fn country_of(&self, data: &ArchivedSnapshotData, ip: IpAddr) -> Option<String> {
        match self {
            GeoIndex::None => None,
            GeoIndex::Mmdb(reader) => mmdb_country(reader, ip),
            GeoIndex::Networks(map) => {
                let i = *map.longest(ip)?;
                match &data.geo {
                    ArchivedGeo::Networks(list) => {
                        list.get(i as usize).map(|e| e.country.as_str().to_string())
                    }
                    _ => None,
                }
            }
        }
    }
}

/// The country (ISO code, uppercase) of `ip`, from the `country` record only: like
/// MirrorManager, we ignore `registered_country`. `None` when the database has no record for
/// the address, the record has no `country.iso_code`, or the lookup fails for any reason (an
/// IPv6 address in an IPv4-only database, a damaged record): an unknown country is an answer
/// the caller handles, never a reason to fail a request.
pub fn mmdb_country<S: AsRef<[u8]>>(reader: &maxminddb::Reader<S>, ip: IpAddr) -> Option<String> {
    // `::ffff:a.b.c.d` is an IPv4 client (decision 2); looking it up as IPv4 also works in an
    // IPv4-only database, where the IPv6 form would be an error.
    let ip = ip.to_canonical();
    let found = reader.lookup(ip).ok()?;
    // Borrowed from the database: the uppercase copy below is the one allocation.
    let code: &str = found
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
        let bytes = std::fs::read(mm_small("GeoIP2-Country-Test.mmdb")).unwrap();
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
            assert_eq!(mmdb_country(&reader, ip).as_deref(), want, "{ip}");
        }
    }
}
