//! From inputs to a bundle: read the sources, validate and compile, write atomically.

pub mod compile;
pub mod host_marks;
pub mod id_index;
pub mod source;

use std::path::PathBuf;

use crate::inputs::mirrormanager::{self, HostIds, MmPaths};
use crate::inputs::{native, InputError};
pub use compile::{compile, CompileError, Compiled};

/// The inputs a build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inputs {
    /// MirrorManager's cache and side files.
    MirrorManager(MmPaths),
    /// A directory in the native readable format.
    Native(PathBuf),
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Reads and compiles `inputs`.
pub fn read_and_compile(inputs: &Inputs) -> Result<Compiled, BuildError> {
    let started = std::time::Instant::now();
    let now = crate::clock::unix_now();
    let compiled = match inputs {
        Inputs::Native(dir) => compile(native::read(dir)?, "native", now)?,
        Inputs::MirrorManager(paths) => {
            let raw = mirrormanager::read_with(paths, HostIds::Tables)?;
            match compile(raw, "mirrormanager", now) {
                Err(CompileError::UnknownHost { host, .. }) => {
                    tracing::debug!(
                        host,
                        "a directory names a host the host tables lack; reading again"
                    );
                    compile(mirrormanager::read(paths)?, "mirrormanager", now)?
                }
                compiled => compiled?,
            }
        }
    };
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "inputs read and compiled"
    );
    Ok(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::mm_cache::{self, IntRepeatedIntMap, MirrorListCacheType};
    use prost::Message;
    use std::path::PathBuf;

    /// mm-small's files, with `change` applied to the cache, in a temporary directory.
    fn mm_small_with(
        change: impl FnOnce(&mut mm_cache::MirrorList),
    ) -> (tempfile::TempDir, MmPaths) {
        let small = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mm-small");
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(small.join("mirrorlist_cache.proto")).unwrap();
        let mut list = mm_cache::decode(&small, bytes).unwrap();
        change(&mut list);
        let cache = dir.path().join("mirrorlist_cache.proto");
        std::fs::write(&cache, list.encode_to_vec()).unwrap();
        let paths = MmPaths {
            cache,
            global_netblocks: small.join("global_netblocks.txt"),
            cccsv: small.join("country_continent.csv"),
            geoip: small.join("GeoIP2-Country-Test.mmdb"),
        };
        (dir, paths)
    }

    #[test]
    fn a_host_only_a_directory_names_is_found_by_reading_again() {
        // What the shortcut (host ids from the tables only) must not lose: compiled as if
        // every directory's host ids had been read.
        let (_dir, paths) = mm_small_with(|list| {
            list.mirror_list_cache.push(
                MirrorListCacheType {
                    directory: "pub/only-here".into(),
                    global: vec![4242],
                    by_host_id: vec![IntRepeatedIntMap {
                        key: 4242,
                        value: vec![1],
                    }],
                    ..Default::default()
                }
                .to_entry(),
            );
        });
        let compiled = read_and_compile(&Inputs::MirrorManager(paths.clone())).unwrap();
        let everywhere = compile(mirrormanager::read(&paths).unwrap(), "mirrormanager", 0).unwrap();
        assert!(compiled.data.hosts.iter().any(|h| h.external_id == 4242));
        assert_eq!(compiled.data.hosts.len(), everywhere.data.hosts.len());
        assert_eq!(compiled.warnings, everywhere.warnings);
        assert!(compiled
            .warnings
            .iter()
            .any(|w| w == "host 4242: no bandwidth; weight 1 used"));

        // A directory whose name reads but whose rest does not: the second pass finds it,
        // and the error names the file and the entry.
        let (_dir, paths) = mm_small_with(|list| {
            let mut entry = MirrorListCacheType {
                directory: "pub/broken".into(),
                ..Default::default()
            }
            .encode_to_vec();
            entry.extend_from_slice(&[0x32, 0x05, 0x08]); // ByHostId: 5 bytes promised, 1 given
            list.mirror_list_cache.push(entry.into());
        });
        let err = read_and_compile(&Inputs::MirrorManager(paths.clone()))
            .err()
            .expect("a broken directory entry is an error")
            .to_string();
        let want = format!(
            "{}: MirrorListCache entry 16: not a valid",
            paths.cache.display()
        );
        assert!(err.starts_with(&want), "{err}");

        // And the shortcut is what runs when the tables do list every host.
        let (_dir, paths) = mm_small_with(|_| {});
        let tables = mirrormanager::read_with(&paths, HostIds::Tables).unwrap();
        assert!(compile(tables, "mirrormanager", 0).is_ok());
    }

    /// Directories left encoded decode on every compile thread, each with its own decoder,
    /// and the result is one thread's; so is the error of a broken entry.
    #[test]
    fn encoded_directories_compile_the_same_on_any_number_of_threads() {
        let (_dir, paths) = mm_small_with(|_| {});
        let read = || mirrormanager::read_with(&paths, HostIds::Tables).unwrap();
        let one = compile::compile_with(read(), "mirrormanager", 0, 1).unwrap();
        assert!(read().deferred_len() > 10);
        for threads in [2, 3, 5, 50] {
            let many = compile::compile_with(read(), "mirrormanager", 0, threads).unwrap();
            assert_eq!(many.warnings, one.warnings);
            assert_eq!(
                crate::snapshot::bundle::encode_body(&many.data)
                    .unwrap()
                    .as_slice(),
                crate::snapshot::bundle::encode_body(&one.data)
                    .unwrap()
                    .as_slice(),
                "{threads} threads"
            );
        }
        let (_dir, paths) = mm_small_with(|list| {
            let mut entry = MirrorListCacheType {
                directory: "pub/broken".into(),
                ..Default::default()
            }
            .encode_to_vec();
            entry.extend_from_slice(&[0x32, 0x05, 0x08]);
            list.mirror_list_cache.push(entry.into());
        });
        let error = |threads| {
            let raw = mirrormanager::read_with(&paths, HostIds::Tables).unwrap();
            compile::compile_with(raw, "mirrormanager", 0, threads)
                .err()
                .expect("a broken entry is an error")
                .to_string()
        };
        for threads in [2, 3, 50] {
            assert_eq!(error(threads), error(1));
        }
    }
}
