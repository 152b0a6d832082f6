//! Replacing a file so that a reader sees the old one or the new one, never half of one: a
//! temporary file in the same directory, fsync, rename over the name, fsync the directory
//! (bundles, health files).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `path` through `fill` atomically. On failure the temporary file is removed and
/// `path` is untouched.
pub fn replace(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp); // best effort: the error that matters is `result`
    }
    result
}
