//! The bundle file: a fixed header (magic, format version, body length, generation time,
//! BLAKE3 of the body) followed by the rkyv archive of a [`SnapshotData`].
//!
//! Only this module knows the on-disk layout. Writing goes to a temporary file in the target
//! directory, is fsynced, then renamed over the target, so a reader sees the old bundle or the
//! new one and never half of one. Reading maps the file and checks everything before anything
//! else looks at it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rkyv::util::AlignedVec;

use super::model::{ArchivedSnapshotData, SnapshotData};

/// The first eight bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"MLBUNDL\0";
/// The body layout this program writes and reads. Bump on any change to `model`.
pub const FORMAT_VERSION: u32 = 3;
/// Header size; also the body's offset, a multiple of rkyv's 16-byte alignment.
pub const HEADER_LEN: usize = 64;

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a mirrorlist bundle (bad magic)")]
    Magic { path: PathBuf },
    #[error("{path}: bundle format version {found}, this program reads version {FORMAT_VERSION}: rebuild it with `mirrorlist build`")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: truncated or padded: header says {expected} body bytes, file has {found}")]
    Length {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path}: checksum mismatch: the body is corrupt")]
    Checksum { path: PathBuf },
    #[error("{path}: archive does not validate: {message}")]
    Archive { path: PathBuf, message: String },
    #[error("{path}: inconsistent data: {message}")]
    Inconsistent { path: PathBuf, message: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The fixed-size header, readable without touching the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub body_len: u64,
    pub generated_at: u64,
    pub checksum: [u8; 32],
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.body_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.generated_at.to_le_bytes());
        out[32..64].copy_from_slice(&self.checksum);
        out
    }

    /// Parses and checks magic and version; the body is not looked at.
    pub fn decode(path: &Path, bytes: &[u8]) -> Result<Header, BundleError> {
        let path = || path.to_path_buf();
        if bytes.len() < 8 || bytes[0..8] != MAGIC {
            return Err(BundleError::Magic { path: path() });
        }
        if bytes.len() < HEADER_LEN {
            return Err(BundleError::Length {
                path: path(),
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            });
        }
        let word = |r: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(&bytes[r]);
            u64::from_le_bytes(b)
        };
        let version = word(8..12) as u32;
        if version != FORMAT_VERSION {
            return Err(BundleError::Version {
                path: path(),
                found: version,
            });
        }
        let mut checksum = [0u8; 32];
        checksum.copy_from_slice(&bytes[32..64]);
        Ok(Header {
            version,
            body_len: word(16..24),
            generated_at: word(24..32),
            checksum,
        })
    }
}

/// Serializes `data` into the bytes of a bundle body (rkyv archive), in memory. For small data
/// (tests, benchmarks); [`write`] and [`write_temporary`] stream a body to a file instead.
pub fn encode_body(data: &SnapshotData) -> Result<AlignedVec, rkyv::rancor::Error> {
    rkyv::to_bytes::<rkyv::rancor::Error>(data)
}

/// Writes `data` as a bundle at `path`, atomically: temp file, fsync, rename, fsync directory.
/// On any failure the temp file is removed and whatever was at `path` is untouched.
pub fn write(path: &Path, data: &SnapshotData) -> Result<u64, BundleError> {
    let mut written = 0;
    crate::atomic_file::replace(path, |file| {
        written = write_into(file, data)?;
        Ok(())
    })
    .map_err(|source| BundleError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(written)
}

/// Writes `data` as a bundle into a new temporary file in `dir` that has no name (`O_TMPFILE`,
/// or created and unlinked at once), not fsynced: it is a cache of inputs that are still there.
/// What a server given MirrorManager's files maps (decision 21), so that the archive is file
/// pages a reload can let go of rather than heap. Nothing is left in `dir` when the file is
/// dropped, nor if the process dies first.
pub fn write_temporary(dir: &Path, data: &SnapshotData) -> Result<File, BundleError> {
    let werr = |source| BundleError::Write {
        path: dir.to_path_buf(),
        source,
    };
    let mut file = tempfile::tempfile_in(dir).map_err(werr)?;
    write_into(&mut file, data).map_err(werr)?;
    Ok(file)
}

/// Streams header and body into `file` (at its start), returning the bytes written. The body
/// goes through the checksum as it is written, so neither the archive nor a copy of it is ever
/// in memory whole; the header, which carries the checksum, is written last, at offset 0.
fn write_into(file: &mut File, data: &SnapshotData) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    file.write_all(&[0u8; HEADER_LEN])?;
    let (checksum, len) = {
        // Buffered above the checksum, so that it hashes large chunks, not the many small
        // pieces rkyv writes.
        let sink = std::io::BufWriter::with_capacity(
            1 << 20,
            ChecksummedWriter {
                inner: &mut *file,
                hasher: blake3::Hasher::new(),
                len: 0,
            },
        );
        let sink = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
            data,
            rkyv::ser::writer::IoWriter::new(sink),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .into_inner();
        let sink = sink.into_inner().map_err(|e| e.into_error())?;
        (sink.hasher.finalize(), sink.len)
    };
    let header = Header {
        version: FORMAT_VERSION,
        body_len: len,
        generated_at: data.meta.generated_at,
        checksum: *checksum.as_bytes(),
    };
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header.encode())?;
    Ok(HEADER_LEN as u64 + len)
}

/// A writer that hashes and counts what passes through it.
struct ChecksummedWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    len: u64,
}

impl<W: Write> Write for ChecksummedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The bytes of a checked bundle body, in memory or mapped from a file.
pub enum BodyBytes {
    /// A mapped bundle file; the body starts at [`HEADER_LEN`].
    Mapped(memmap2::Mmap),
    /// A body built in this process (serving MirrorManager inputs directly).
    Heap(AlignedVec),
}

impl BodyBytes {
    pub fn body(&self) -> &[u8] {
        match self {
            BodyBytes::Mapped(map) => map.get(HEADER_LEN..).unwrap_or(&[]),
            BodyBytes::Heap(v) => v.as_slice(),
        }
    }

    /// Drops this process's page mappings of a mapped body; the pages stay in the page cache
    /// and are mapped again, without I/O, when next read. A reload calls it on the snapshot
    /// being replaced before it reads the new bundle: the checks read every page of the new
    /// one, and this way those pages take the old ones' place in the resident set instead of
    /// doubling it. Nothing to do for a body on the heap.
    pub fn release_resident(&self) {
        if let BodyBytes::Mapped(map) = self {
            // SAFETY: MADV_DONTNEED on a private, read-only file mapping only unmaps pages; the
            // next read maps the file's page again, with the same bytes (a bundle is replaced by
            // rename, never rewritten in place: see `map`). The mapping is never written, so
            // there are no copied-on-write pages to lose.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// Opens `path`, maps it, and checks header, length and checksum. The archive itself is
/// validated by [`access`].
pub fn open(path: &Path) -> Result<(Header, BodyBytes), BundleError> {
    let (header, bytes) = map(path)?;
    verify_checksum(path, &header, bytes.body())?;
    Ok((header, bytes))
}

/// Opens `path`, maps it, and checks header and length, but not the checksum: the caller
/// must call [`verify_checksum`] before trusting the data (it may do so while [`access`]
/// validates the archive on another thread, which is safe on any bytes).
pub fn map(path: &Path) -> Result<(Header, BodyBytes), BundleError> {
    let ioerr = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A directory opens fine and then fails to map with a puzzling "No such device"; a FIFO
    // would block the open. Say what it is instead.
    let meta = std::fs::metadata(path).map_err(ioerr)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(ioerr(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what}, not a bundle file"),
        )));
    }
    let file = File::open(path).map_err(ioerr)?;
    map_file(path, &file)
}

/// [`map`] of a file already open (a temporary bundle, which has no name); `path` names it in
/// errors.
pub fn map_file(path: &Path, file: &File) -> Result<(Header, BodyBytes), BundleError> {
    let ioerr = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    // SAFETY: the map is read-only and private to this process. `build` never rewrites a bundle
    // in place (it renames a new file over the old name, leaving this inode intact), and a
    // temporary bundle has no name anyone else could open, so the bytes do not change under us
    // unless someone truncates the file by hand, which the operator docs warn against. Mapping
    // instead of reading is what lets a reload of a 50 MB bundle cost no heap copy and lets
    // instances share one page cache (measured in loadtest/RESULTS.md).
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(ioerr)?;
    let header = Header::decode(path, &map)?;
    let found = (map.len() - HEADER_LEN) as u64;
    if found != header.body_len {
        return Err(BundleError::Length {
            path: path.to_path_buf(),
            expected: header.body_len,
            found,
        });
    }
    Ok((header, BodyBytes::Mapped(map)))
}

/// Checks `body` against the header's BLAKE3 checksum.
pub fn verify_checksum(path: &Path, header: &Header, body: &[u8]) -> Result<(), BundleError> {
    if blake3::hash(body).as_bytes() != &header.checksum {
        return Err(BundleError::Checksum {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads only the header of the bundle at `path` (for the "older than served" check).
pub fn peek_header(path: &Path) -> Result<Header, BundleError> {
    use std::io::Read;
    let mut buf = [0u8; HEADER_LEN];
    let mut file = File::open(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let n = file.read(&mut buf).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Header::decode(path, &buf[..n])
}

/// Validates the archive structure of a body and returns its root.
pub fn access<'a>(path: &Path, body: &'a [u8]) -> Result<&'a ArchivedSnapshotData, BundleError> {
    rkyv::access::<ArchivedSnapshotData, rkyv::rancor::Error>(body).map_err(|e| {
        BundleError::Archive {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })
}
