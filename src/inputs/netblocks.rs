//! Network prefixes in text: the global prefix -> ASN table (`global_netblocks.txt`), and the
//! one parser every input uses for a CIDR or bare address.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::lines::{parse_lines, Line};
use super::InputError;

/// Parses `a.b.c.d/len`, `x::y/len`, or a bare address (a /32 or /128). Host bits are cleared,
/// so `10.1.2.3/8` is `10.0.0.0/8`. Returns `None` for anything else, including a length out of
/// range such as `89.160.20.112/124`.
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if text.contains('/') {
        text.parse::<IpNet>().ok().map(|n| n.trunc())
    } else {
        text.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// Reads `PREFIX/LEN<whitespace>ASN` lines. Blank lines and `#` comments are ignored; a line
/// with one field, an unparsable or zero-length prefix, or an ASN that is not a 32-bit number
/// is skipped with a warning naming the line. Fails if no line at all is usable, which means
/// the file is not a netblocks file.
pub fn parse_global(
    path: &Path,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(IpNet, u32)>, InputError> {
    let none_usable = "no usable `PREFIX/LEN ASN` line: is this a global netblocks file?";
    parse_lines(path, text, warnings, none_usable, |line, _| {
        let mut fields = line.split_whitespace();
        let (Some(prefix), Some(asn)) = (fields.next(), fields.next()) else {
            return Line::Skip("expected `PREFIX/LEN ASN`".into());
        };
        let Some(net) = parse_net(prefix).filter(|n| prefix.contains('/') && n.prefix_len() > 0)
        else {
            return Line::Skip(format!("invalid prefix {prefix:?}"));
        };
        match asn.parse::<u32>() {
            Ok(asn) => Line::Item((net, asn)),
            Err(_) => Line::Skip(format!("invalid ASN {asn:?}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixes_and_bare_addresses() {
        assert_eq!(parse_net("10.1.2.3/8"), "10.0.0.0/8".parse().ok());
        assert_eq!(parse_net("192.0.2.1"), "192.0.2.1/32".parse().ok());
        assert_eq!(parse_net("2001:db8::1"), "2001:db8::1/128".parse().ok());
        assert_eq!(parse_net("89.160.20.112/124"), None);
        assert_eq!(parse_net("garbage"), None);
    }

    #[test]
    fn skips_bad_lines_with_warnings() {
        let text = "134.108.0.0/16 553\n\njust-one-field\n89.160.20.112/124 131313\n0.0.0.0/0 1\n2001:07c0::/29 553\n1.2.3.0/24 notanumber\n";
        let mut warnings = Vec::new();
        let nets = parse_global(Path::new("g.txt"), text, &mut warnings).unwrap();
        assert_eq!(nets.len(), 2);
        assert_eq!(nets[1], ("2001:7c0::/29".parse().unwrap(), 553));
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].starts_with("g.txt: line 3:"), "{}", warnings[0]);
    }

    #[test]
    fn a_file_with_nothing_usable_is_an_error() {
        let err = parse_global(Path::new("g.txt"), "hello\n", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().starts_with("g.txt: no usable"), "{err}");
    }
}
