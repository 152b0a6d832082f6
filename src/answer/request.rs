//! What a client asked for: the endpoint and the query parameters, decoded.
//!
//! Parsing follows MirrorManager's production server (split on `&`, then `=`; a value ends at a
//! second `=`; the last value of a repeated key wins; keys are case-sensitive) with one
//! deliberate difference (decision 1): values are percent-decoded, and `+` stays a literal `+`
//! because repository paths contain it. Nothing here can fail: a bad escape stays as sent and
//! bytes that are not UTF-8 become U+FFFD. What is decoded here is encoded again where it is
//! echoed back ([`echoable`], [`loggable`]).

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// A decoded value as it may be echoed back into an answer (a header comment, a URL, a
/// redirect's `Location`): the bytes that could end a line, a field or a URL there (controls
/// and spaces; non-ASCII always) percent-encoded again, so a value the client decoded into
/// `%0A` cannot add a line of its own. Every value a real client sends is unchanged.
pub fn echoable(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, ECHOED).into()
}

/// [`echoable`] for the statistics log, whose fields `mirrorlist_statistics.py` splits on `; `
/// and spaces: `;` is encoded as well.
pub fn loggable(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, LOGGED).into()
}

const ECHOED: &AsciiSet = &CONTROLS.add(b' ');
const LOGGED: &AsciiSet = &ECHOED.add(b';');

/// Which answer format the path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Mirrorlist,
    Metalink,
}

impl Mode {
    /// The mode a request path selects: it must end with `/mirrorlist` or `/metalink`.
    pub fn from_path(path: &str) -> Option<Mode> {
        if path.ends_with("/mirrorlist") {
            Some(Mode::Mirrorlist)
        } else if path.ends_with("/metalink") {
            Some(Mode::Metalink)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mirrorlist => "mirrorlist",
            Mode::Metalink => "metalink",
        }
    }
}

/// The parameters the server understands; everything else is ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params<'q> {
    pub repo: Option<Cow<'q, str>>,
    pub arch: Option<Cow<'q, str>>,
    pub path: Option<Cow<'q, str>>,
    pub country: Option<Cow<'q, str>>,
    pub ip: Option<Cow<'q, str>>,
    pub netblock: Option<Cow<'q, str>>,
    pub protocol: Option<Cow<'q, str>>,
    /// `family=4` or `6` (an addition, issue 12): checked by [`Params::fit`].
    pub family: Option<Cow<'q, str>>,
    /// `exclude_country=CC[,CC...]` (an addition, issue 12): checked by [`Params::fit`].
    pub exclude_country: Option<Cow<'q, str>>,
    /// `mode=mirrorlist|metalink`: which endpoint `/explain` explains.
    pub mode: Option<Cow<'q, str>>,
    pub redirect: bool,
    pub time: bool,
}

impl<'q> Params<'q> {
    /// Parses a raw query string (without the `?`).
    pub fn parse(query: &'q str) -> Params<'q> {
        let mut params = Params::default();
        for piece in split_ascii(query, b'&') {
            let mut parts = split_ascii(piece, b'=');
            let key = parts.next().unwrap_or("");
            let raw = parts.next().unwrap_or("");
            let slot = match key {
                "repo" => &mut params.repo,
                "arch" => &mut params.arch,
                "path" => &mut params.path,
                "country" => &mut params.country,
                "ip" => &mut params.ip,
                "netblock" => &mut params.netblock,
                "protocol" => &mut params.protocol,
                "family" => &mut params.family,
                "exclude_country" => &mut params.exclude_country,
                "mode" => &mut params.mode,
                "redirect" => {
                    params.redirect = true;
                    continue;
                }
                "time" => {
                    params.time = true;
                    continue;
                }
                _ => continue,
            };
            *slot = Some(decode(raw));
        }
        params
    }

    /// `family` and `exclude_country` checked, or the name of the first that is malformed.
    /// An empty value is the parameter left out. Allocates only for `exclude_country`.
    pub fn fit(&self) -> Result<Fit, &'static str> {
        use crate::snapshot::model::{FAMILY_IPV4, FAMILY_IPV6};
        let family = match self.family.as_deref() {
            None | Some("") => 0,
            Some("4") => FAMILY_IPV4,
            Some("6") => FAMILY_IPV6,
            Some(_) => return Err("family"),
        };
        let mut exclude = Vec::new();
        if let Some(raw) = self.exclude_country.as_deref().filter(|r| !r.is_empty()) {
            for code in raw.split(',') {
                match code.as_bytes() {
                    [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                        exclude.push([a.to_ascii_uppercase(), b.to_ascii_uppercase()]);
                    }
                    _ => return Err("exclude_country"),
                }
            }
        }
        Ok(Fit { family, exclude })
    }

    /// Netblock and ASN matching are on unless `netblock` is given and is not `1`.
    pub fn netblock_matching(&self) -> bool {
        self.netblock.as_deref().is_none_or(|v| v == "1")
    }
}

/// What `family` and `exclude_country` ask for, checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fit {
    /// The only family the client can use (`FAMILY_*` bit), 0 for any.
    pub family: u8,
    /// Countries whose hosts are left out, uppercase.
    pub exclude: Vec<[u8; 2]>,
}

/// Percent-decodes a value; `+` is kept.
pub fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.as_bytes().contains(&b'%') {
        return Cow::Borrowed(raw);
    }
    match percent_decode_str(raw).decode_utf8_lossy() {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// `s` split at every `sep`, as `str::split` does. A query's pieces are a few bytes long: a
/// plain scan finds the next one in a few instructions, where `split(char)` calls `memchr`
/// for each (1.7k instructions to parse a three-parameter query; loadtest/RESULTS.md,
/// eleventh round).
fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        // `sep` is ASCII, so the byte after it starts a character: both halves are `str`s.
        match current.bytes().position(|b| b == sep) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ascii_splits_as_str_split_does() {
        for s in [
            "",
            "&",
            "&&",
            "a",
            "a&",
            "&a",
            "a&&b",
            "repo=fedora-43&arch=aarch64&ip=137.40.206.40",
            "é&ü=ß&&€",
            "=x=",
        ] {
            for sep in [b'&', b'='] {
                let ours: Vec<&str> = split_ascii(s, sep).collect();
                let std: Vec<&str> = s.split(char::from(sep)).collect();
                assert_eq!(ours, std, "{s:?} at {:?}", char::from(sep));
            }
        }
    }

    #[test]
    fn routes_on_the_path_suffix() {
        assert_eq!(Mode::from_path("/mirrorlist"), Some(Mode::Mirrorlist));
        assert_eq!(Mode::from_path("/a/b/metalink"), Some(Mode::Metalink));
        assert_eq!(Mode::from_path("/mirrorlist/"), None);
        assert_eq!(Mode::from_path("/"), None);
    }

    #[test]
    fn parses_like_the_production_server_but_decodes() {
        let p = Params::parse("repo=a&repo=fedora-41&arch=x86_64&path=a%2Fb+c&ip=1=2&time&x=y");
        assert_eq!(p.repo.as_deref(), Some("fedora-41"));
        assert_eq!(p.path.as_deref(), Some("a/b+c"));
        assert_eq!(p.ip.as_deref(), Some("1"));
        assert!(p.time && !p.redirect);
        assert!(p.netblock_matching());
        assert!(!Params::parse("netblock=0").netblock_matching());
        assert!(Params::parse("netblock=1").netblock_matching());
    }

    #[test]
    fn fit_parameters_are_checked() {
        let fit = Params::parse("family=6&exclude_country=de,Fr")
            .fit()
            .unwrap();
        assert_eq!(fit.family, crate::snapshot::model::FAMILY_IPV6);
        assert_eq!(fit.exclude, [*b"DE", *b"FR"]);
        assert_eq!(
            Params::parse("family=&exclude_country=").fit(),
            Ok(Fit::default())
        );
        for (q, name) in [
            ("family=7", "family"),
            ("family=ipv4", "family"),
            ("exclude_country=DEU", "exclude_country"),
            ("exclude_country=!!", "exclude_country"),
            ("exclude_country=de,", "exclude_country"),
            ("exclude_country=%C3%A9x", "exclude_country"),
        ] {
            assert_eq!(Params::parse(q).fit(), Err(name), "{q}");
        }
    }

    #[test]
    fn bad_escapes_and_bytes_do_not_fail() {
        let p = Params::parse("country=%zz%ff%C3%A9&&=&repo");
        assert_eq!(p.country.as_deref(), Some("%zz\u{fffd}é"));
        assert_eq!(p.repo.as_deref(), Some(""));
    }
}
