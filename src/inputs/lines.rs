//! The skeleton of every line-based input (global netblocks, the continent CSV, the native geo
//! CSV): blank lines and `#` comments are left out, each other line is parsed on its own, a
//! line that cannot be used is skipped with a warning naming the file and the line, and a file
//! with no usable line at all is an error (it is not a file of this kind).

use std::path::Path;

use super::InputError;

/// What one line gave.
pub enum Line<T> {
    Item(T),
    /// Unusable, for this reason: warned about and skipped.
    Skip(String),
    /// Nothing to use and nothing to say (a header line).
    Ignore,
}

/// Parses the data lines of `text` (read from `path`) with `parse`, which is also told whether
/// the line is the first data line (where a header may stand). `none_usable` is the error
/// message when no line gives an item.
pub fn parse_lines<T>(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
    none_usable: &str,
    mut parse: impl FnMut(&str, bool) -> Line<T>,
) -> Result<Vec<T>, InputError> {
    let mut out = Vec::new();
    let mut first = true;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse(line, std::mem::replace(&mut first, false)) {
            Line::Item(item) => out.push(item),
            Line::Skip(why) => warnings.push(format!(
                "{}: line {}: {why}; skipped",
                path.display(),
                number + 1
            )),
            Line::Ignore => {}
        }
    }
    if out.is_empty() {
        return Err(InputError::new(path, "", none_usable));
    }
    Ok(out)
}
