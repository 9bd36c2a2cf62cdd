//! The download address policy: any address is judged without a panic, an
//! IPv6 address carrying an IPv4 one is never allowed where that IPv4
//! address is refused, and allow-list entries parse or are refused.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use steno_download::policy::{Network, check};

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = <[u8; 16]>::try_from(data.get(..16).unwrap_or_default()) {
        let v6 = Ipv6Addr::from(bytes);
        let _ = check(IpAddr::V6(v6), &[]);
        let v4 = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
        // The same IPv4 address mapped, compatible and through NAT64.
        for carrier in [v4.to_ipv6_mapped(), v4.to_ipv6_compatible(), nat64(v4)] {
            if check(IpAddr::V4(v4), &[]).is_err() && !carrier.is_loopback() && !carrier.is_unspecified() {
                assert!(check(IpAddr::V6(carrier), &[]).is_err(), "{carrier} allowed though {v4} is refused");
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(network) = text.parse::<Network>()
    {
        let _ = network.contains(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let _ = check(IpAddr::V6(Ipv6Addr::LOCALHOST), &[network]);
    }
});

fn nat64(v4: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = v4.octets();
    Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
}
