//! Which addresses a download (and a webhook) may reach: public addresses
//! always; loopback, private, link-local and other special-purpose ranges
//! only when `download.allow_networks` names them. Checked after DNS
//! resolution, and the connection is pinned to the checked address.

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
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

/// The IPv4 address an IPv6 address carries, which is where a packet to
/// it ends up: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16` and Teredo `2001::/32` (its
/// client, stored inverted).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified()) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])))
    } else if s[0] == 0x2001 && s[1] == 0 {
        Some(Ipv4Addr::from(!u32::from(low)))
    } else {
        None
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
    } else if ip.segments()[..3] == [0x64, 0xff9b, 1] {
        Some("private (local-use NAT64)")
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

/// Why a URL's host may not be reached.
#[derive(Debug)]
pub enum Unreachable {
    /// DNS did not answer, or has no address for it (may pass).
    Lookup(String),
    /// An address is one the policy refuses (will not pass).
    Refused(String),
}

/// `download.allow_networks` parsed; errors name the bad entry.
pub fn networks(entries: &[String]) -> anyhow::Result<Vec<Network>> {
    entries.iter().map(|n| n.parse().map_err(|e| anyhow::anyhow!("download.allow_networks: {e}"))).collect()
}

/// Resolves `url`'s host and checks every address against the policy;
/// returns the address to connect to (pin the connection to it).
pub async fn resolve(url: &url::Url, allowed: &[Network]) -> Result<std::net::SocketAddr, Unreachable> {
    let host = url.host_str().ok_or_else(|| Unreachable::Refused("the URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host_for_lookup, port))
        .await
        .map_err(|e| Unreachable::Lookup(format!("cannot resolve host {host}: {e}")))?
        .collect();
    let first = *addrs.first().ok_or_else(|| Unreachable::Lookup(format!("host {host} has no addresses")))?;
    for addr in &addrs {
        check(addr.ip(), allowed).map_err(Unreachable::Refused)?;
    }
    Ok(first)
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

    /// Each IPv6 form that carries an IPv4 address is judged by that address.
    #[test]
    fn ipv6_addresses_embedding_ipv4_are_judged_by_the_ipv4_inside() {
        let cases = [
            ("IPv4-mapped", "::ffff:10.0.0.1", "::ffff:8.8.8.8"),
            ("IPv4-compatible", "::127.0.0.1", "::8.8.8.8"),
            ("NAT64", "64:ff9b::169.254.169.254", "64:ff9b::8.8.8.8"),
            ("6to4", "2002:c0a8:0101::1", "2002:0808:0808::1"),
            // Teredo keeps the client address inverted in the last 32 bits:
            // !127.0.0.1 = 0x80ff_fffe, !8.8.8.8 = 0xf7f7_f7f7.
            ("Teredo", "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
        ];
        for (form, inner_private, inner_public) in cases {
            let refused = check(ip(inner_private), &[]).expect_err(&format!("{form} of a private address allowed"));
            assert!(refused.contains("address"), "{form}: {refused}");
            assert!(check(ip(inner_public), &[]).is_ok(), "{form} of a public address refused");
        }
        assert!(check(ip("64:ff9b:1::a00:1"), &[]).is_err(), "local-use NAT64");
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
