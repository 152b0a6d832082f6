//! IPv4 and IPv6 prefix tries under one type, with the two lookups a request makes: the
//! longest prefix containing an address, and every prefix containing it.

use std::net::IpAddr;

use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use super::model::ArchivedNet;

/// IPv4 and IPv6 tries with the same value type.
pub(super) struct NetMap<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> NetMap<T> {
    pub(super) fn new() -> Self {
        NetMap {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }

    pub(super) fn insert(&mut self, net: &ArchivedNet, value: T) {
        match net.to_ipnet() {
            Some(ipnet::IpNet::V4(n)) => {
                self.v4.insert(n, value);
            }
            Some(ipnet::IpNet::V6(n)) => {
                self.v6.insert(n, value);
            }
            None => {} // rejected by validate before indexes are built
        }
    }

    /// The longest prefix containing `ip`.
    pub(super) fn longest(&self, ip: IpAddr) -> Option<&T> {
        match ip {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, v)| v),
            IpAddr::V6(a) => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, v)| v),
        }
    }

    /// Every prefix containing `ip` with its length, least specific first, appended to `out`.
    ///
    /// Found by longest-prefix matches, each on the last one found shortened by a bit (any
    /// shorter prefix containing `ip` contains that one), then reversed: a client is in a
    /// handful of prefixes at most, and a match allocates nothing, where `cover` does.
    pub(super) fn covering(&self, ip: IpAddr, out: &mut Vec<(u8, T)>)
    where
        T: Copy,
    {
        let start = out.len();
        match ip {
            IpAddr::V4(a) => {
                let mut query = Ipv4Net::from(a);
                while let Some((p, v)) = self.v4.get_lpm(&query) {
                    out.push((p.prefix_len(), *v));
                    match Ipv4Net::new(p.network(), p.prefix_len().wrapping_sub(1)) {
                        Ok(shorter) if p.prefix_len() > 0 => query = shorter.trunc(),
                        _ => break,
                    }
                }
            }
            IpAddr::V6(a) => {
                let mut query = Ipv6Net::from(a);
                while let Some((p, v)) = self.v6.get_lpm(&query) {
                    out.push((p.prefix_len(), *v));
                    match Ipv6Net::new(p.network(), p.prefix_len().wrapping_sub(1)) {
                        Ok(shorter) if p.prefix_len() > 0 => query = shorter.trunc(),
                        _ => break,
                    }
                }
            }
        }
        out[start..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::NetMap;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// The covering prefixes by longest-prefix matches are `cover`'s, in the same order.
    #[test]
    fn covering_is_what_cover_finds() {
        let mut map: NetMap<u32> = NetMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Nested prefixes around a few addresses, including /0 and full-length ones.
        for i in 0..400u32 {
            let r = next();
            let len4 = (r % 33) as u8;
            let a4 = Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_ff00) >> (r % 3));
            map.v4
                .insert(ipnet::Ipv4Net::new(a4, len4).unwrap().trunc(), i);
            let len6 = (r % 129) as u8;
            let a6 = Ipv6Addr::from((0x2a00u128 << 112) | (u128::from(r) << 40));
            map.v6
                .insert(ipnet::Ipv6Net::new(a6, len6).unwrap().trunc(), i);
        }
        let mut nested = 0;
        for _ in 0..2000 {
            let r = next();
            let ips = [
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x00ff_ffff))),
                IpAddr::V4(Ipv4Addr::from(r as u32)),
                IpAddr::V6(Ipv6Addr::from((0x2a00u128 << 112) | (u128::from(r) << 40))),
                IpAddr::V6(Ipv6Addr::from(u128::from(r) << 64 | u128::from(r))),
            ];
            for ip in ips {
                let want: Vec<(u8, u32)> = match ip {
                    IpAddr::V4(a) => map
                        .v4
                        .cover(&ipnet::Ipv4Net::from(a))
                        .map(|(p, v)| (p.prefix_len(), *v))
                        .collect(),
                    IpAddr::V6(a) => map
                        .v6
                        .cover(&ipnet::Ipv6Net::from(a))
                        .map(|(p, v)| (p.prefix_len(), *v))
                        .collect(),
                };
                let mut got = vec![(99, 99)];
                map.covering(ip, &mut got);
                assert_eq!(got[0], (99, 99));
                assert_eq!(got[1..], want[..], "{ip}");
                nested += usize::from(want.len() >= 3);
            }
        }
        assert!(
            nested > 100,
            "only {nested} lookups found 3 or more prefixes"
        );
    }
}
