//! Which addresses a download may reach: public addresses always; loopback,
//! private, link-local and other special-purpose ranges only when
//! `download.allow_networks` names them. Checked after DNS resolution, and
//! the connection is pinned to the checked address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address or CIDR network from `download.allow_networks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("{s:?} is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("{s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u128::from(u32::from(net)) << 96, u128::from(u32::from(ip)) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(u128::from(net), u128::from(ip), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (128 - u32::from(prefix)) == 0
}

/// Why an address is not public, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("multicast or reserved")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0 && c == 0) {
        Some("special-purpose")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("special-purpose")
    } else {
        None
    }
}

/// `Err(reason)` when `ip` may not be fetched from.
pub fn check(ip: IpAddr, allowed: &[Network]) -> Result<(), String> {
    match non_public_reason(ip) {
        Some(_) if allowed.iter().any(|n| n.contains(ip)) => Ok(()),
        Some(kind) => Err(format!(
            "the URL resolves to {ip}, a {kind} address; downloads from non-public addresses are refused \
             (an operator can allow it with download.allow_networks)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test ip")
    }

    #[test]
    fn refuses_non_public_addresses() {
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(check(ip(addr), &[]).is_err(), "{addr} allowed");
        }
        for addr in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(check(ip(addr), &[]).is_ok(), "{addr} refused");
        }
    }

    #[test]
    fn allowlist_admits_exactly_its_networks() {
        let allowed: Vec<Network> = ["127.0.0.1", "10.0.0.0/8"].iter().map(|s| s.parse().expect("net")).collect();
        assert!(check(ip("127.0.0.1"), &allowed).is_ok());
        assert!(check(ip("127.0.0.2"), &allowed).is_err());
        assert!(check(ip("10.200.0.9"), &allowed).is_ok());
        assert!(check(ip("192.168.0.1"), &allowed).is_err());
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().is_err());
    }
}
