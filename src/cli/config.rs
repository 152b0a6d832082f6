//! Settings for `serve` from three places, highest precedence first: the command line, the
//! environment (`MIRRORLIST_*`, declared next to each flag in [`crate::cli::args`]), and a
//! TOML file named by `--config` (or `MIRRORLIST_CONFIG`), then the built-in defaults.
//!
//! The file's keys are the long flag names of `mirrorlist serve`, with `-` or `_`
//! (`port = 8080`, `trusted-proxy = ["10.0.0.0/8"]`, `watch = true`). An unknown key is an
//! error naming the file and the key. Values go through the same parser as the flags, so a
//! bad value is reported the way clap reports a bad flag, prefixed with the file and key.
//!
//! How: clap parses the command line once (with env and defaults). For each key in the file
//! whose flag was not set on the command line or by the environment (clap's
//! [`ValueSource`]), the value becomes a `--flag=value` argument appended to the command
//! line, and clap parses again. Flags therefore keep one definition, one parser and one help
//! text.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};

use crate::cli::args::{Cli, Command};

/// Why the command line could not be turned into a [`Cli`].
#[derive(Debug)]
pub enum Error {
    /// clap's own error (bad flag, `--help`, `--version`): print it with [`clap::Error::exit`].
    Clap(clap::Error),
    /// A problem with the configuration file.
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Clap(e) => write!(f, "{e}"),
            Error::Config(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<clap::Error> for Error {
    fn from(e: clap::Error) -> Self {
        Error::Clap(e)
    }
}

/// Parses the process's command line, merging `--config`; exits with a message on error
/// (like `Cli::parse`).
pub fn parse() -> Cli {
    match try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(Error::Clap(e)) => e.exit(),
        Err(Error::Config(m)) => {
            eprintln!("error: {m}");
            std::process::exit(2);
        }
    }
}

/// Parses `args` (program name first), merging the `--config` file of `serve` if one is named.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = Cli::command();
    cmd.build();
    let matches = cmd.clone().try_get_matches_from(&argv)?;
    let Some(("serve", sub)) = matches.subcommand() else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let Some(path) = sub.get_one::<std::path::PathBuf>("config") else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let serve = cmd
        .find_subcommand("serve")
        .expect("the serve subcommand exists");
    let mut extra = Vec::new();
    for (key, value) in read_table(path)? {
        let arg = find_arg(serve, &key).ok_or_else(|| {
            Error::Config(format!(
                "{}: unknown key `{key}` (keys are the long flags of `mirrorlist serve`; see `mirrorlist serve --help`)",
                path.display()
            ))
        })?;
        // The command line and the environment win over the file.
        if matches!(
            sub.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        push_args(&mut extra, arg, &value)
            .map_err(|m| Error::Config(format!("{}: key `{key}`: {m}", path.display())))?;
    }
    if extra.is_empty() {
        return Ok(Cli::from_arg_matches(&matches)?);
    }
    let mut merged = argv;
    merged.extend(extra.into_iter().map(OsString::from));
    let matches = cmd.try_get_matches_from(&merged).map_err(|e| {
        // The command line parsed alone, so the file's values are what clap refused.
        let rendered = e.render().to_string();
        let first = rendered
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        Error::Config(format!("{}: {first}", path.display()))
    })?;
    let cli = Cli::from_arg_matches(&matches)?;
    debug_assert!(matches!(cli.command, Command::Serve(_)));
    Ok(cli)
}

fn read_table(path: &Path) -> Result<toml::Table, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: cannot read: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// The `serve` flag (global ones included) whose long name or alias is `key`, `-` and `_`
/// being the same.
fn find_arg<'c>(serve: &'c clap::Command, key: &str) -> Option<&'c Arg> {
    let norm = |s: &str| s.replace('-', "_");
    let key = norm(key);
    serve.get_arguments().find(|arg| {
        let Some(long) = arg.get_long() else {
            return false;
        };
        if matches!(long, "help" | "version" | "config") {
            return false;
        }
        norm(long) == key
            || arg
                .get_all_aliases()
                .unwrap_or_default()
                .iter()
                .any(|a| norm(a) == key)
    })
}

/// Turns one TOML value into `--flag=value` arguments.
fn push_args(out: &mut Vec<String>, arg: &Arg, value: &toml::Value) -> Result<(), String> {
    let long = arg.get_long().expect("found by its long name");
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            other => Err(format!(
                "expected a string or a number, got {}",
                other.type_str()
            )),
        }
    };
    match arg.get_action() {
        ArgAction::SetTrue => match value {
            toml::Value::Boolean(true) => out.push(format!("--{long}")),
            toml::Value::Boolean(false) => {}
            other => return Err(format!("expected true or false, got {}", other.type_str())),
        },
        ArgAction::Append => match value {
            toml::Value::Array(items) => {
                for item in items {
                    out.push(format!("--{long}={}", scalar(item)?));
                }
            }
            other => out.push(format!("--{long}={}", scalar(other)?)),
        },
        _ => out.push(format!("--{long}={}", scalar(value)?)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::AdminListen;
    use std::io::Write;

    fn config(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn serve_args(args: &[&str]) -> Result<Box<crate::cli::args::ServeArgs>, Error> {
        let mut argv = vec!["mirrorlist", "serve"];
        argv.extend_from_slice(args);
        match try_parse_from(argv)?.command {
            Command::Serve(a) => Ok(a),
            _ => unreachable!(),
        }
    }

    // These tests avoid the flags whose MIRRORLIST_* variable a developer might have set.
    #[test]
    fn file_fills_in_and_command_line_wins() {
        let f = config(
            "port = 9999\nmax-connections = 7\nallow_older = true\ntrusted-proxy = [\"10.0.0.0/8\", \"::1/128\"]\nadmin_listen = \"none\"\n",
        );
        let path = f.path().to_str().unwrap();
        let a = serve_args(&["--config", path, "--port", "1234"]).unwrap();
        assert_eq!(a.port, 1234, "command line beats the file");
        assert_eq!(a.max_connections, 7);
        assert!(a.allow_older);
        assert_eq!(a.trusted_proxies.len(), 2);
        assert_eq!(a.admin_listen, Some(AdminListen(None)));
        let a = serve_args(&[]).unwrap();
        assert_eq!(a.port, 8080, "default without a file");
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let f = config("port = 1\nfrobnicate = 3\n");
        let path = f.path().to_str().unwrap();
        let e = serve_args(&["--config", path]).unwrap_err().to_string();
        assert!(e.contains(path) && e.contains("`frobnicate`"), "{e}");
    }

    #[test]
    fn bad_value_names_file() {
        let f = config("max_connections = \"lots\"\n");
        let path = f.path().to_str().unwrap();
        let e = serve_args(&["--config", path]).unwrap_err().to_string();
        assert!(e.contains(path) && e.contains("lots"), "{e}");
        let f = config("watch = \"yes\"\n");
        let path = f.path().to_str().unwrap();
        let e = serve_args(&["--config", path]).unwrap_err().to_string();
        assert!(e.contains("`watch`") && e.contains("true or false"), "{e}");
    }

    #[test]
    fn the_example_config_parses_with_every_key() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/mirrorlist.toml");
        let a = serve_args(&["--config", example]).unwrap();
        assert_eq!(
            a.input.bundle.as_deref(),
            Some(Path::new("/var/lib/mirrorlist/mirrorlist.bundle"))
        );
        // Every commented-out `key = value` line must be valid too.
        let text = std::fs::read_to_string(example).unwrap();
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| l.contains(" = ") && !l.starts_with(' '))
            .filter(|l| {
                !["cache", "global-netblocks", "cccsv", "geoip", "source"]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(uncommented.contains("drain-timeout"), "{uncommented}");
        let f = config(&uncommented);
        let a = serve_args(&["--config", f.path().to_str().unwrap()]).unwrap();
        assert_eq!(a.drain_timeout, 10);
        assert_eq!(a.trusted_proxies.len(), 2);
    }

    #[test]
    fn admin_listen_parses() {
        assert_eq!("none".parse::<AdminListen>(), Ok(AdminListen(None)));
        assert_eq!(
            "127.0.0.1:9100".parse::<AdminListen>().unwrap().to_string(),
            "127.0.0.1:9100"
        );
        assert!("9100".parse::<AdminListen>().is_err());
        // No default address: nothing listens beside the public port unless asked.
        assert_eq!(AdminListen::address(None), None);
        assert_eq!(AdminListen::address(Some(AdminListen(None))), None);
        let given = "127.0.0.1:9100".parse::<AdminListen>().ok();
        assert_eq!(
            AdminListen::address(given),
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9100)))
        );
    }
}
