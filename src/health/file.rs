//! The health file on disk: JSON (readable with jq), written whole and atomically by each
//! probe round, read back by the next round and by the server. The format is described in
//! docs/health.md.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::model::Health;

/// The `format` a reader accepts. Bumped when a field changes meaning or goes away; new
/// optional fields do not bump it.
pub const FORMAT_VERSION: u32 = 1;

/// Why a health file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Health {
    /// Reads and checks the health file at `path`.
    pub fn load(path: &Path) -> Result<Health, FileError> {
        read(path)
    }
}

pub fn read(path: &Path) -> Result<Health, FileError> {
    let text = std::fs::read(path).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses a health file's bytes; `path` is only for errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Health, FileError> {
    let health: Health = serde_json::from_slice(bytes).map_err(|e| parse_error(path, &e))?;
    let invalid = |message: String| FileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if health.format != FORMAT_VERSION {
        return Err(invalid(format!(
            "format {} is not the one this version reads ({FORMAT_VERSION})",
            health.format
        )));
    }
    if health.valid_until < health.generated_at {
        return Err(invalid(format!(
            "valid_until ({}) is before generated_at ({})",
            health.valid_until, health.generated_at
        )));
    }
    Ok(health)
}

/// serde_json's message without its own " at line L column C" tail, which the error
/// carries as numbers.
fn parse_error(path: &Path, e: &serde_json::Error) -> FileError {
    let text = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&tail).unwrap_or(&text).to_string();
    FileError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// The file's text: pretty JSON with a final newline, fields in declaration order, hosts
/// sorted by name.
pub fn to_text(health: &Health) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(health)?;
    text.push('\n');
    Ok(text)
}

/// Writes `health` at `path` atomically: a temp file in the same directory, fsync, rename over
/// `path`, fsync the directory. On failure the temp file is removed and `path` is untouched.
pub fn write(path: &Path, health: &Health) -> Result<(), FileError> {
    let text = to_text(health).map_err(|e| FileError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    crate::atomic_file::replace(path, |file| file.write_all(text.as_bytes())).map_err(
        |source| FileError::Write {
            path: path.to_path_buf(),
            source,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::model::{Family, HostHealth, State};

    fn sample() -> Health {
        let mut hosts = std::collections::BTreeMap::new();
        hosts.insert(
            "m.example.org".to_string(),
            HostHealth {
                state: State::Behind,
                reason: "older".into(),
                since: 10,
                checked_at: 20,
                failures: 0,
                families: Some(vec![Family::Ipv4]),
            },
        );
        Health {
            format: FORMAT_VERSION,
            generated_at: 20,
            valid_until: 920,
            snapshot_generated_at: 5,
            source: "bundle x".into(),
            round: 3,
            hosts,
        }
    }

    #[test]
    fn text_round_trips_and_is_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health.json");
        write(&path, &sample()).unwrap();
        assert_eq!(read(&path).unwrap(), sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"state\": \"behind\""), "{text}");
        assert!(text.contains("\"families\": [\n        \"ipv4\""), "{text}");
        // Only the file itself is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let path = Path::new("/x/health.json");
        let text = to_text(&sample())
            .unwrap()
            .replace("\"behind\"", "\"sideways\"");
        let e = parse(path, text.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("/x/health.json: line 10, column "), "{e}");
        assert!(e.contains("unknown variant `sideways`"), "{e}");

        let e = parse(path, b"{\n  \"format\": 1,\n  oops")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/x/health.json: line 3, column "), "{e}");

        let text = to_text(&sample())
            .unwrap()
            .replace("\"format\": 1", "\"format\": 9");
        let e = parse(path, text.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("format 9 is not"), "{e}");

        let e = read(Path::new("/nonexistent/h.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/h.json: "), "{e}");
    }
}
