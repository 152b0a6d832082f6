//! The data the tests run on: the native `data/` sample, the MirrorManager fixture
//! `tests/data/mm-small`, temporary copies, and file replacement as a deploy does it.

use std::path::{Path, PathBuf};

/// The request most tests ask of the `data/` sample: a repository every variant has, for a
/// DE client (127.0.0.1).
pub const MIRRORLIST: &str = "/mirrorlist?repo=fedora-42&arch=x86_64";
/// [`MIRRORLIST`] as a metalink.
pub const METALINK: &str = "/metalink?repo=fedora-42&arch=x86_64";

/// `tests/data/mm-small/<name>`: the MirrorManager fixture the reference answers came from.
pub fn mm_small(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mm-small")
        .join(name)
}

/// The `serve` flags that load the mm-small fixture (`-c`, `-g`, `--cccsv`, `--geoip`).
pub fn mm_small_args() -> Vec<String> {
    let p = |n: &str| mm_small(n).display().to_string();
    vec![
        "-c".into(),
        p("mirrorlist_cache.proto"),
        "-g".into(),
        p("global_netblocks.txt"),
        "--cccsv".into(),
        p("country_continent.csv"),
        "--geoip".into(),
        p("GeoIP2-Country-Test.mmdb"),
    ]
}

/// The native source sample, `data/` at the top of the repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `serve` flags for the `data/` sample.
pub fn sample_args() -> Vec<String> {
    vec!["--source".into(), data_dir().display().to_string()]
}

/// Copies every file of `data/` into `dir` (created if missing).
pub fn copy_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
}

/// A copy of `data/` in a fresh temporary directory (for tests that change the inputs).
pub fn data_copy() -> tempfile::TempDir {
    let dir = tempdir();
    copy_data(dir.path());
    dir
}

/// A fresh temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// `path` as a `String` for command lines.
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// Replaces `path` the way an operator's deploy (or a generator) should: write a temporary
/// file in the same directory, then rename it over `path` (readers see the old file or the
/// new one, never half of one).
pub fn replace_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().unwrap();
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A free loopback port (bound, then released: the caller uses it at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
