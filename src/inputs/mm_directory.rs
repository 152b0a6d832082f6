//! One MirrorListCache entry of MirrorManager's cache decoded into a [`RawDirectory`] that is
//! reused from one directory to the next.
//!
//! This is the hot loop of reading the cache: decoded with prost's generated code, each of the
//! XL cache's 1.9 million `ByHostId` entries and 0.85 million `ByCountry` host ids lands in a
//! vector of its own, freed a moment later, and that was a third of a drop-in start
//! (loadtest/RESULTS.md, "Load path"). Here the field walk uses prost's own wire primitives
//! (`decode_key`, `decode_varint`, `skip_field`, the functions its derived decoders call), and the
//! vectors keep their capacity between directories. The result is what decoding the
//! [`MirrorListCacheType`](super::mm_cache::MirrorListCacheType) schema type and converting it
//! gives; a test checks that on every entry of the sample cache and on generated ones
//! (decision 23).

use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
use prost::DecodeError;

use super::raw::RawDirectory;

/// Why an entry did not decode.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error(transparent)]
    Wire(#[from] DecodeError),
    #[error("buffer underflow: a field is longer than the bytes left")]
    Underflow,
    #[error("invalid string value: data is not UTF-8 encoded")]
    NotUtf8,
}

/// The `RawDirectory` being filled, and the vectors of `by_country` and `by_host` entries a
/// smaller directory did not need, kept for a larger one.
#[derive(Debug, Default)]
pub struct DirectoryDecoder {
    spare: Vec<Vec<i64>>,
}

impl DirectoryDecoder {
    /// Decodes `entry` into `dir`, replacing what it held. Country keys are uppercased, as
    /// everywhere else in the cache reader; `ByCountryInternet2` and `OrderedMirrorList` are
    /// skipped (the production server stopped reading both).
    pub fn decode(&mut self, entry: &[u8], dir: &mut RawDirectory) -> Result<(), EntryError> {
        self.walk(entry, dir, Fields::All)
    }

    /// [`DirectoryDecoder::decode`] of what names hosts only: the name, `Global`, and the
    /// host ids of `ByCountry` and `ByHostId`; country keys and URL lists are left empty (and
    /// skipped unchecked: a `ByHostId` entry is read up to its key). What the first pass over
    /// the cache needs; the second decodes everything and checks it.
    pub fn decode_host_ids(
        &mut self,
        entry: &[u8],
        dir: &mut RawDirectory,
    ) -> Result<(), EntryError> {
        self.walk(entry, dir, Fields::HostIds)
    }

    /// Only the directory's name (`Directory`, normally its first field); the rest is left
    /// empty. What the first pass needs when the host tables list every host.
    pub fn decode_name(&mut self, entry: &[u8], dir: &mut RawDirectory) -> Result<(), EntryError> {
        self.walk(entry, dir, Fields::Name)
    }

    fn walk(
        &mut self,
        mut entry: &[u8],
        dir: &mut RawDirectory,
        fields: Fields,
    ) -> Result<(), EntryError> {
        dir.name.clear();
        dir.subpath.clear();
        dir.global.clear();
        let (mut countries, mut hosts) = (0, 0);
        let buf = &mut entry;
        while buf.has_remaining() {
            let (tag, wire) = decode_key(buf)?;
            match tag {
                1 => {
                    read_string(buf, wire, &mut dir.name)?;
                    if fields == Fields::Name {
                        break;
                    }
                }
                _ if fields == Fields::Name => {
                    skip_field(wire, tag, buf, DecodeContext::default())?
                }
                2 => read_int64s(buf, wire, &mut dir.global)?,
                3 => read_string(buf, wire, &mut dir.subpath)?,
                4 => {
                    let slot = self.slot(&mut dir.by_country, countries);
                    countries += 1;
                    read_country(buf, wire, slot, fields)?;
                }
                6 => {
                    let slot = self.slot(&mut dir.by_host, hosts);
                    hosts += 1;
                    read_host(buf, wire, slot, fields)?;
                }
                _ => skip_field(wire, tag, buf, DecodeContext::default())?,
            }
        }
        self.keep(&mut dir.by_country, countries);
        self.keep(&mut dir.by_host, hosts);
        Ok(())
    }

    /// Entry `at` of `list`, emptied: reused if the list has one, else made from a spare vector.
    fn slot<'l, K: Default>(
        &mut self,
        list: &'l mut Vec<(K, Vec<i64>)>,
        at: usize,
    ) -> &'l mut (K, Vec<i64>) {
        if at == list.len() {
            list.push((K::default(), self.spare.pop().unwrap_or_default()));
        }
        let slot = &mut list[at];
        slot.1.clear();
        slot
    }

    /// Shortens `list` to `len`, keeping the vectors of the entries cut off.
    fn keep<K>(&mut self, list: &mut Vec<(K, Vec<i64>)>, len: usize) {
        if list.len() > len {
            self.spare.extend(list.drain(len..).map(|(_, ids)| ids));
        }
    }
}

/// Which fields a walk decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    All,
    HostIds,
    Name,
}

fn expect(wire: WireType, want: WireType) -> Result<(), EntryError> {
    Ok(prost::encoding::check_wire_type(want, wire)?)
}

/// The bytes of a length-delimited field.
fn delimited<'b>(buf: &mut &'b [u8], wire: WireType) -> Result<&'b [u8], EntryError> {
    expect(wire, WireType::LengthDelimited)?;
    let len = decode_varint(buf)?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= buf.len())
        .ok_or(EntryError::Underflow)?;
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Ok(field)
}

fn read_string(buf: &mut &[u8], wire: WireType, out: &mut String) -> Result<(), EntryError> {
    let bytes = delimited(buf, wire)?;
    let text = std::str::from_utf8(bytes).map_err(|_| EntryError::NotUtf8)?;
    out.clear();
    out.push_str(text);
    Ok(())
}

/// A repeated `int64`, unpacked (one varint per key) or packed (one length-delimited run).
fn read_int64s(buf: &mut &[u8], wire: WireType, out: &mut Vec<i64>) -> Result<(), EntryError> {
    match wire {
        WireType::Varint => out.push(decode_varint(buf)? as i64),
        WireType::LengthDelimited => {
            let mut run = delimited(buf, wire)?;
            while !run.is_empty() {
                out.push(decode_varint(&mut run)? as i64);
            }
        }
        _ => expect(wire, WireType::Varint)?,
    }
    Ok(())
}

/// A `StringRepeatedIntMap` (`ByCountry`): key uppercased.
fn read_country(
    buf: &mut &[u8],
    wire: WireType,
    slot: &mut (String, Vec<i64>),
    fields: Fields,
) -> Result<(), EntryError> {
    let mut body = delimited(buf, wire)?;
    slot.0.clear();
    while !body.is_empty() {
        let (tag, wire) = decode_key(&mut body)?;
        match tag {
            1 if fields == Fields::All => read_string(&mut body, wire, &mut slot.0)?,
            2 => read_int64s(&mut body, wire, &mut slot.1)?,
            _ => skip_field(wire, tag, &mut body, DecodeContext::default())?,
        }
    }
    slot.0.make_ascii_uppercase();
    Ok(())
}

/// An `IntRepeatedIntMap` (`ByHostId`): host id and its URL ids.
fn read_host(
    buf: &mut &[u8],
    wire: WireType,
    slot: &mut (i64, Vec<i64>),
    fields: Fields,
) -> Result<(), EntryError> {
    let mut body = delimited(buf, wire)?;
    slot.0 = 0;
    while !body.is_empty() {
        let (tag, wire) = decode_key(&mut body)?;
        match tag {
            1 => {
                expect(wire, WireType::Varint)?;
                slot.0 = decode_varint(&mut body)? as i64;
                if fields == Fields::HostIds {
                    // The URL ids that follow are not wanted; the entry's end is known.
                    break;
                }
            }
            2 if fields == Fields::All => read_int64s(&mut body, wire, &mut slot.1)?,
            _ => skip_field(wire, tag, &mut body, DecodeContext::default())?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::mm_cache::{
        self, IntRepeatedIntMap, MirrorListCacheType, StringRepeatedIntMap,
    };
    use prost::Message;

    /// What the schema type decodes to, converted as the reader used to.
    fn by_prost(entry: &[u8]) -> Result<RawDirectory, EntryError> {
        let dir = MirrorListCacheType::decode(entry).map_err(EntryError::Wire)?;
        Ok(RawDirectory {
            name: dir.directory,
            subpath: dir.subpath.unwrap_or_default(),
            global: dir.global,
            by_country: dir
                .by_country
                .into_iter()
                .map(|c| (c.key.to_ascii_uppercase(), c.value))
                .collect(),
            by_host: dir
                .by_host_id
                .into_iter()
                .map(|h| (h.key, h.value))
                .collect(),
        })
    }

    fn by_walk(
        decoder: &mut DirectoryDecoder,
        dir: &mut RawDirectory,
        entry: &[u8],
    ) -> Result<RawDirectory, EntryError> {
        decoder.decode(entry, dir)?;
        Ok(dir.clone())
    }

    #[test]
    fn every_entry_of_the_sample_cache_decodes_as_prost_decodes_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/mm-small/mirrorlist_cache.proto");
        let list = mm_cache::decode(&path, std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(list.mirror_list_cache.len(), 15);
        // One decoder and one directory for all, in both orders, so reuse is exercised.
        let (mut decoder, mut dir) = (DirectoryDecoder::default(), RawDirectory::default());
        for entry in list
            .mirror_list_cache
            .iter()
            .chain(list.mirror_list_cache.iter().rev())
        {
            let want = by_prost(entry).unwrap();
            assert!(!want.by_host.is_empty());
            assert_eq!(by_walk(&mut decoder, &mut dir, entry).unwrap(), want);
            // The first pass's walk: the same name and host ids, no keys or URLs.
            decoder.decode_host_ids(entry, &mut dir).unwrap();
            assert_eq!((&dir.name, &dir.global), (&want.name, &want.global));
            let ids = |d: &RawDirectory| {
                let countries: Vec<Vec<i64>> = d.by_country.iter().map(|c| c.1.clone()).collect();
                let hosts: Vec<i64> = d.by_host.iter().map(|h| h.0).collect();
                (countries, hosts)
            };
            assert_eq!(ids(&dir), ids(&want));
            assert!(dir.by_country.iter().all(|c| c.0.is_empty()));
            assert!(dir.by_host.iter().all(|h| h.1.is_empty()));
            decoder.decode_name(entry, &mut dir).unwrap();
            assert_eq!(dir.name, want.name);
            assert!(dir.global.is_empty() && dir.by_country.is_empty() && dir.by_host.is_empty());
        }
    }

    #[test]
    fn packed_lists_unknown_fields_and_bad_bytes_match_prost() {
        let big = MirrorListCacheType {
            directory: "pub/a".into(),
            subpath: Some("a".into()),
            global: vec![3, -1, i64::MAX],
            by_country: vec![StringRepeatedIntMap {
                key: "de".into(),
                value: vec![3, 4],
            }],
            by_country_internet2: vec![StringRepeatedIntMap {
                key: "x".into(),
                value: vec![9],
            }],
            by_host_id: (0..40)
                .map(|h| IntRepeatedIntMap {
                    key: h,
                    value: (0..h % 5).collect(),
                })
                .collect(),
            ordered_mirror_list: Some(true),
        };
        let small = MirrorListCacheType {
            directory: "pub/b".into(),
            by_host_id: vec![IntRepeatedIntMap {
                key: 7,
                value: vec![1],
            }],
            ..Default::default()
        };
        // Packed `Global` (field 2, wire type 2): 1, 2, 300.
        let mut packed = small.encode_to_vec();
        packed.extend_from_slice(&[0x12, 0x04, 0x01, 0x02, 0xac, 0x02]);
        // An unknown field (tag 9, varint) and a fixed64 one (tag 10).
        let mut unknown = small.encode_to_vec();
        unknown.extend_from_slice(&[0x48, 0x05, 0x51, 1, 2, 3, 4, 5, 6, 7, 8]);
        let (mut decoder, mut dir) = (DirectoryDecoder::default(), RawDirectory::default());
        let good = [
            big.encode_to_vec(),
            small.encode_to_vec(),
            packed,
            unknown,
            big.encode_to_vec(),
        ];
        for entry in &good {
            assert_eq!(
                by_walk(&mut decoder, &mut dir, entry).unwrap(),
                by_prost(entry).unwrap()
            );
        }
        // Every cut of a good entry, and some garbage: an error exactly where prost has one,
        // the same directory where it has none.
        let entry = big.encode_to_vec();
        let mut bad: Vec<Vec<u8>> = (0..entry.len()).map(|cut| entry[..cut].to_vec()).collect();
        bad.push(vec![0x0a, 0x02, 0xff, 0xfe]); // a name that is not UTF-8
        bad.push(vec![0x08, 0x01]); // Directory with the varint wire type
        bad.push(vec![0x32, 0x02, 0x0a, 0x00]); // ByHostId key with the wrong wire type
        bad.push(vec![0x1c]); // an end-group key out of place
        for entry in &bad {
            match by_prost(entry) {
                Ok(want) => assert_eq!(by_walk(&mut decoder, &mut dir, entry).unwrap(), want),
                Err(_) => assert!(by_walk(&mut decoder, &mut dir, entry).is_err(), "{entry:?}"),
            }
        }
    }
}
