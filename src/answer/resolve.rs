//! Request validation and target resolution (docs/protocol.md section 5): which directory and
//! file a request names, or why it is refused. Status codes and bodies are the production
//! server's; see `render` for the bytes.

use crate::answer::request::{echoable, Mode, Params};
use crate::snapshot::model::ArchivedDirectory;
use crate::snapshot::Snapshot;

/// What the request is about, once validated.
pub struct Target<'s> {
    /// `# repo = R arch = A ` or `# path = P ` (trailing space included).
    pub header: String,
    pub dir: &'s ArchivedDirectory,
    /// The file within `dir`, if the request names one (metalink repo mode: `repomd.xml`).
    pub file: Option<String>,
    /// The statistics log fields, for requests with both `repo` and `arch`.
    pub stats: Option<StatsFields>,
}

/// The `REPO` and `ARCH` of a statistics log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsFields {
    /// The `repo` parameter as sent (before any alias).
    pub repo: String,
    /// The arch after the `source` override.
    pub arch: String,
}

/// Why a request gets no mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Neither `path` nor `repo` and `arch` (200).
    MissingParams,
    /// `path` names no known directory (404).
    InvalidPath,
    /// The repository is disabled (200).
    RepoDisabled,
    /// Unknown repo/arch pair: the full body text, header and listing included (404).
    InvalidRepoArch(String),
    /// Metalink for a file without details: the `<dir>/<file>` that was looked for (404).
    NoMetalink(String),
    /// The client address does not parse (400, decision 3).
    BadClientIp,
    /// A parameter of issue 12 (`family`, `exclude_country`) or `/explain`'s `mode` is
    /// malformed: its name (400, decision 13).
    BadParam(&'static str),
}

impl Refusal {
    /// The message as the production server words it.
    pub fn message(&self) -> &str {
        match self {
            Refusal::MissingParams => "# either path=, or repo= and arch= must be specified",
            Refusal::InvalidPath => "error: invalid path",
            Refusal::RepoDisabled => "repo disabled",
            Refusal::InvalidRepoArch(text) => text,
            Refusal::NoMetalink(_) => "not found or has not metalink",
            Refusal::BadClientIp => "Cannot parse client IP address. Aborting.",
            Refusal::BadParam("family") => "invalid family: expected 4 or 6",
            Refusal::BadParam("exclude_country") => {
                "invalid exclude_country: expected two-letter country codes separated by commas"
            }
            Refusal::BadParam("mode") => "invalid mode: expected mirrorlist or metalink",
            Refusal::BadParam(_) => "invalid parameter",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Refusal::MissingParams | Refusal::RepoDisabled => 200,
            Refusal::InvalidPath | Refusal::InvalidRepoArch(_) | Refusal::NoMetalink(_) => 404,
            Refusal::BadClientIp | Refusal::BadParam(_) => 400,
        }
    }
}

/// Validates `params` against the snapshot (steps 1 and 2 of docs/protocol.md section 5).
pub fn resolve<'s>(
    snapshot: &'s Snapshot,
    params: &Params<'_>,
    mode: Mode,
) -> Result<Target<'s>, Refusal> {
    let stats = match (&params.repo, &params.arch) {
        (Some(repo), Some(arch)) => Some(StatsFields {
            repo: repo.to_string(),
            arch: if repo.contains("source") {
                "source".to_string()
            } else {
                arch.to_string()
            },
        }),
        _ => None,
    };
    if let Some(path) = &params.path {
        return resolve_path(snapshot, path, stats);
    }
    let Some(stats) = stats else {
        return Err(Refusal::MissingParams);
    };
    let requested = params.repo.as_deref().unwrap_or("");
    let repo = snapshot.repo_redirect(requested).unwrap_or(requested);
    let arch = stats.arch.as_str();
    let (repo_shown, arch_shown) = (echoable(repo), echoable(arch));
    // One allocation of the exact length (`format!` grows its buffer as it goes).
    let header = ["# repo = ", &repo_shown, " arch = ", &arch_shown, " "].concat();
    if snapshot.is_disabled(repo) {
        return Err(Refusal::RepoDisabled);
    }
    let Some(pair) = snapshot.repo_arch(repo, arch) else {
        return Err(Refusal::InvalidRepoArch(format!(
            "{header}error: invalid repo or arch\n# following repositories are available:\n{}",
            snapshot.data().repo_listing.as_str()
        )));
    };
    let (dir_idx, file) = match mode {
        Mode::Mirrorlist => (Some(pair.directory.to_native()), None),
        Mode::Metalink => (
            pair.repodata.as_ref().map(|d| d.to_native()),
            Some("repomd.xml".to_string()),
        ),
    };
    let dir = dir_idx.and_then(|i| snapshot.directory_at(i));
    let Some(dir) = dir else {
        // The data has the repository but not its repodata directory: say what was looked
        // for instead of the production server's "you broke it!" 500 (decision 9).
        let base = snapshot
            .directory_at(pair.directory.to_native())
            .map_or("", |d| d.name.as_str());
        return Err(Refusal::NoMetalink(format!("{base}/repodata/repomd.xml")));
    };
    Ok(Target {
        header,
        dir,
        file,
        stats: Some(stats),
    })
}

fn resolve_path<'s>(
    snapshot: &'s Snapshot,
    raw: &str,
    stats: Option<StatsFields>,
) -> Result<Target<'s>, Refusal> {
    let path = normalize_path(raw);
    if let Some(dir) = snapshot.directory(&path) {
        return Ok(Target {
            header: format!("# path = {path} "),
            dir,
            file: None,
            stats,
        });
    }
    let (dir_name, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    let dir = snapshot.directory(dir_name).ok_or(Refusal::InvalidPath)?;
    // The file name is the client's own text, appended to every URL of the answer and to a
    // redirect's `Location`: bytes a URL cannot hold (controls, spaces, non-ASCII) are
    // percent-encoded, so a `%0A` cannot start a line of its own in the body, nor a 302 lose
    // its `Location`. Ordinary names are unchanged.
    let file = echoable(file).into_owned();
    let header = if dir_name.is_empty() {
        format!("# path = {file} ")
    } else {
        format!("# path = {dir_name}/{file} ")
    };
    Ok(Target {
        header,
        dir,
        file: Some(file),
        stats,
    })
}

/// Strips leading and trailing `/` and collapses runs of `/`.
pub fn normalize_path(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for part in raw.split('/').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    #[test]
    fn normalizes_slashes() {
        assert_eq!(normalize_path("/pub//fedora///x/"), "pub/fedora/x");
        assert_eq!(normalize_path("///"), "");
    }
}
