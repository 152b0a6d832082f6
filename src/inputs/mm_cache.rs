//! MirrorManager's mirrorlist cache (`mirrorlist_cache.proto`): the proto2 `MirrorList` schema
//! as hand-written prost messages, and the decoder.
//!
//! The schema is `package mirrormanager` from docs/protocol.md section 3 (and `loadtest/generator/mirrormanager.proto`).
//! It is written out here rather than generated so that building needs no `protoc` and no
//! build script. Field names are snake_case; tags, labels and types follow the schema exactly.
//! Repeated scalars carry `packed = "false"` because proto2 does not pack by default, so what we
//! encode (tests, tools) is what MirrorManager's generators write; decoding accepts both forms.

use std::path::Path;

use bytes::Bytes;
use prost::Message;

use super::InputError;

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringRepeatedIntMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(int64, repeated, packed = "false", tag = "2")]
    pub value: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IntRepeatedStringMap {
    #[prost(int64, required, tag = "1")]
    pub key: i64,
    #[prost(string, repeated, tag = "2")]
    pub value: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IntStringMap {
    #[prost(int64, required, tag = "1")]
    pub key: i64,
    #[prost(string, required, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IntIntMap {
    #[prost(int64, required, tag = "1")]
    pub key: i64,
    #[prost(int64, required, tag = "2")]
    pub value: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IntRepeatedIntMap {
    #[prost(int64, required, tag = "1")]
    pub key: i64,
    #[prost(int64, repeated, packed = "false", tag = "2")]
    pub value: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringBoolMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(bool, required, tag = "2")]
    pub value: bool,
}

/// One version of a file: `TimeStamp`, `Size` and its checksums.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileDetailsType {
    #[prost(uint64, required, tag = "1")]
    pub time_stamp: u64,
    #[prost(uint64, required, tag = "2")]
    pub size: u64,
    #[prost(string, optional, tag = "3")]
    pub sha1: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub md5: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub sha256: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub sha512: Option<String>,
}

/// One file name and its versions, newest first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileDetailsCacheFilesType {
    #[prost(string, required, tag = "1")]
    pub filename: String,
    #[prost(message, repeated, tag = "2")]
    pub file_details: Vec<FileDetailsType>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FileDetailsCacheDirectoryType {
    #[prost(string, required, tag = "1")]
    pub directory: String,
    #[prost(message, repeated, tag = "2")]
    pub file_details_cache_files: Vec<FileDetailsCacheFilesType>,
}

/// One directory and the hosts that carry it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MirrorListCacheType {
    #[prost(string, required, tag = "1")]
    pub directory: String,
    #[prost(int64, repeated, packed = "false", tag = "2")]
    pub global: Vec<i64>,
    #[prost(string, optional, tag = "3")]
    pub subpath: Option<String>,
    #[prost(message, repeated, tag = "4")]
    pub by_country: Vec<StringRepeatedIntMap>,
    #[prost(message, repeated, tag = "5")]
    pub by_country_internet2: Vec<StringRepeatedIntMap>,
    #[prost(message, repeated, tag = "6")]
    pub by_host_id: Vec<IntRepeatedIntMap>,
    #[prost(bool, optional, tag = "7")]
    pub ordered_mirror_list: Option<bool>,
}

/// The root message: one per cache file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MirrorList {
    #[prost(uint64, required, tag = "1")]
    pub time: u64,
    #[prost(message, repeated, tag = "2")]
    pub netblock_country_cache: Vec<StringStringMap>,
    #[prost(message, repeated, tag = "3")]
    pub location_cache: Vec<StringRepeatedIntMap>,
    #[prost(message, repeated, tag = "4")]
    pub hc_url_cache: Vec<IntStringMap>,
    #[prost(message, repeated, tag = "5")]
    pub file_details_cache: Vec<FileDetailsCacheDirectoryType>,
    #[prost(message, repeated, tag = "6")]
    pub disabled_repository_cache: Vec<StringBoolMap>,
    #[prost(message, repeated, tag = "7")]
    pub country_continent_redirect_cache: Vec<StringStringMap>,
    #[prost(message, repeated, tag = "8")]
    pub repository_redirect_cache: Vec<StringStringMap>,
    #[prost(message, repeated, tag = "9")]
    pub repo_arch_to_directory_name: Vec<StringStringMap>,
    #[prost(message, repeated, tag = "10")]
    pub host_asn_cache: Vec<IntRepeatedIntMap>,
    #[prost(message, repeated, tag = "11")]
    pub host_max_connection_cache: Vec<IntIntMap>,
    #[prost(message, repeated, tag = "12")]
    pub host_country_cache: Vec<IntStringMap>,
    #[prost(message, repeated, tag = "13")]
    pub host_bandwidth_cache: Vec<IntIntMap>,
    #[prost(message, repeated, tag = "14")]
    pub host_country_allowed_cache: Vec<IntRepeatedStringMap>,
    #[prost(message, repeated, tag = "15")]
    pub host_netblock_cache: Vec<StringRepeatedIntMap>,
    /// One encoded [`MirrorListCacheType`] per directory, each a slice of the buffer the cache
    /// was decoded from (no copy): nearly all of a cache's bytes are here, and decoding them
    /// one at a time (`mm_directory`), as compile reaches each, is what keeps the decoded form
    /// of the whole cache from ever being in memory at once (loadtest/RESULTS.md, "Load
    /// path"). The wire format of a message field and a bytes field is the same.
    #[prost(bytes = "bytes", repeated, tag = "16")]
    pub mirror_list_cache: Vec<Bytes>,
}

impl MirrorListCacheType {
    /// This directory as an entry of [`MirrorList::mirror_list_cache`].
    pub fn to_entry(&self) -> Bytes {
        Bytes::from(self.encode_to_vec())
    }
}

/// Decodes one serialized `MirrorList` (the whole file, no framing).
///
/// prost does not enforce proto2 `required` fields, so a missing one decodes as its default.
/// The one we check is `Time`: without it any short run of bytes that happens to be valid
/// protobuf (an empty file, a file cut right after its first field) would pass as an empty
/// cache, and no generator writes a cache dated 1970.
pub fn decode(path: &Path, bytes: impl Into<Bytes>) -> Result<MirrorList, InputError> {
    let list = MirrorList::decode(bytes.into()).map_err(|e| invalid(path, "", e))?;
    if list.time == 0 {
        return Err(InputError::new(
            path,
            "",
            "not a valid MirrorManager cache: required field Time is missing or zero",
        ));
    }
    Ok(list)
}

/// The error for bytes of the cache at `at` (empty: the file as a whole) that do not decode.
pub fn invalid(path: &Path, at: impl Into<String>, e: impl std::fmt::Display) -> InputError {
    InputError::new(
        path,
        at,
        format!("not a valid MirrorManager cache (protobuf MirrorList): {e}"),
    )
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

    fn cache_bytes() -> Vec<u8> {
        std::fs::read(mm_small("mirrorlist_cache.proto")).unwrap()
    }

    #[test]
    fn decodes_mm_small() {
        let path = mm_small("mirrorlist_cache.proto");
        let list = decode(&path, cache_bytes()).unwrap();
        println!(
            "time {} hcurls {} dirs {} repo/arch {} hosts(country) {} bandwidth {} netblocks {} asns {}",
            list.time,
            list.hc_url_cache.len(),
            list.mirror_list_cache.len(),
            list.repo_arch_to_directory_name.len(),
            list.host_country_cache.len(),
            list.host_bandwidth_cache.len(),
            list.host_netblock_cache.len(),
            list.host_asn_cache.len(),
        );
        // Counts and values as python's protobuf reports them for the same file.
        assert_eq!(list.time, 1795439232);
        assert_eq!(list.netblock_country_cache.len(), 1);
        assert_eq!(list.location_cache.len(), 0);
        assert_eq!(list.hc_url_cache.len(), 61);
        assert_eq!(list.file_details_cache.len(), 7);
        assert_eq!(list.disabled_repository_cache.len(), 1);
        assert_eq!(list.country_continent_redirect_cache.len(), 2);
        assert_eq!(list.repository_redirect_cache.len(), 2);
        assert_eq!(list.repo_arch_to_directory_name.len(), 7);
        assert_eq!(list.host_asn_cache.len(), 11);
        assert_eq!(list.host_max_connection_cache.len(), 14);
        assert_eq!(list.host_country_cache.len(), 14);
        assert_eq!(list.host_bandwidth_cache.len(), 14);
        assert_eq!(list.host_country_allowed_cache.len(), 1);
        assert_eq!(list.host_netblock_cache.len(), 9);
        assert_eq!(list.mirror_list_cache.len(), 15);

        assert_eq!(
            list.netblock_country_cache[0],
            StringStringMap {
                key: "198.51.100.0/24".into(),
                value: "AU".into()
            }
        );
        assert_eq!(list.hc_url_cache[0].key, 1);
        assert_eq!(
            list.hc_url_cache[0].value,
            "https://mirror.de.example.org/pub/fedora/linux"
        );
        let updates = &list.file_details_cache[1];
        assert_eq!(
            updates.directory,
            "pub/fedora/linux/updates/41/Everything/x86_64/repodata"
        );
        let versions = &updates.file_details_cache_files[0].file_details;
        assert_eq!(versions.len(), 3);
        assert_eq!(versions[0].time_stamp, 1730013000);
        assert_eq!(versions[0].size, 3091);
        assert_eq!(
            versions[0].md5.as_deref(),
            Some("265eeb0415b2622a2f6209d37db51f54")
        );
        assert_eq!(
            list.host_country_allowed_cache[0],
            IntRepeatedStringMap {
                key: 6,
                value: vec!["CN".into()]
            }
        );
        let first = MirrorListCacheType::decode(list.mirror_list_cache[0].clone()).unwrap();
        assert_eq!(
            first.directory,
            "pub/fedora/linux/releases/41/Everything/x86_64/os"
        );
        assert_eq!(
            first.subpath.as_deref(),
            Some("releases/41/Everything/x86_64/os")
        );
        assert_eq!(first.global, vec![1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14]);
        assert_eq!(first.by_country[0].key, "DE");
        assert_eq!(first.by_country[0].value, vec![1, 14]);
        assert_eq!(first.by_country_internet2.len(), 1);
        assert_eq!(first.by_host_id.len(), 13);
        assert_eq!(first.by_host_id[6].key, 7);
        assert_eq!(first.by_host_id[6].value, vec![33, 34, 35]);
        assert_eq!(first.ordered_mirror_list, None);
    }

    #[test]
    fn re_encoding_mm_small_gives_the_same_bytes() {
        // Our tags, types and packing match what the generator wrote, field for field.
        let bytes = cache_bytes();
        let list = decode(Path::new("c.proto"), bytes.clone()).unwrap();
        assert_eq!(list.encode_to_vec(), bytes);
    }

    #[test]
    fn truncated_cache_is_an_error() {
        let bytes = cache_bytes();
        for cut in [bytes.len() - 1, bytes.len() / 2, 3] {
            let err =
                decode(Path::new("c.proto"), Bytes::copy_from_slice(&bytes[..cut])).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("c.proto: not a valid MirrorManager cache"),
                "{err}"
            );
        }
        assert!(decode(Path::new("c.proto"), Bytes::new()).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        for garbage in [
            &b"this is not a protobuf file\n"[..],
            &[0xff; 64][..],
            &b"\x08"[..],
        ] {
            let err = decode(Path::new("g.bin"), Bytes::from_static(garbage)).unwrap_err();
            assert!(err.to_string().starts_with("g.bin: "), "{err}");
        }
    }

    #[test]
    fn round_trip_of_a_small_message() {
        let list = MirrorList {
            time: 42,
            hc_url_cache: vec![IntStringMap {
                key: 7,
                value: "https://m.example.org/pub".into(),
            }],
            host_bandwidth_cache: vec![IntIntMap { key: 1, value: -5 }],
            file_details_cache: vec![FileDetailsCacheDirectoryType {
                directory: "a/repodata".into(),
                file_details_cache_files: vec![FileDetailsCacheFilesType {
                    filename: "repomd.xml".into(),
                    file_details: vec![FileDetailsType {
                        time_stamp: 9,
                        size: 10,
                        sha256: Some("ab".into()),
                        ..Default::default()
                    }],
                }],
            }],
            mirror_list_cache: vec![MirrorListCacheType {
                directory: "a".into(),
                global: vec![1, 2],
                subpath: Some(String::new()),
                by_host_id: vec![IntRepeatedIntMap {
                    key: 1,
                    value: vec![7],
                }],
                ordered_mirror_list: Some(true),
                ..Default::default()
            }
            .to_entry()],
            ..Default::default()
        };
        let bytes = list.encode_to_vec();
        assert_eq!(decode(Path::new("x"), bytes).unwrap(), list);
    }
}
