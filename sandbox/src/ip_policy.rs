//! The network gate's IP policy: which IP addresses a granted name may
//! lead to. A grant names a host; the host resolves that name itself,
//! checks every address it got, and connects to the one it checked — there
//! is no second lookup a changed DNS answer could redirect. Addresses
//! inside the machine or its private networks (loopback, private,
//! link-local with the cloud metadata address, unique-local, shared,
//! unspecified, and IPv4 written as IPv6) are refused unless the grant
//! names them explicitly: as an IP address or a network in CIDR form.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is inside, for the log and the error.
pub fn inside(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => inside_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return inside_v4(v4).map(|_| "an IPv4 address written as IPv6");
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique-local")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

fn inside_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if v4 == Ipv4Addr::new(169, 254, 169, 254) {
        Some("the cloud metadata address")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if v4.is_broadcast() {
        Some("broadcast")
    } else {
        None
    }
}

/// The IPv6 form of the metadata address, for tests and docs.
pub const METADATA_V6_MAPPED: Ipv6Addr = Ipv4Addr::new(169, 254, 169, 254).to_ipv6_mapped();

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        inside(text.parse().unwrap())
    }

    #[test]
    fn inside_addresses_are_named() {
        assert_eq!(kind("127.0.0.1"), Some("loopback"));
        assert_eq!(kind("10.1.2.3"), Some("private"));
        assert_eq!(kind("192.168.0.1"), Some("private"));
        assert_eq!(kind("172.20.0.1"), Some("private"));
        assert_eq!(kind("169.254.169.254"), Some("the cloud metadata address"));
        assert_eq!(kind("169.254.1.1"), Some("link-local"));
        assert_eq!(kind("100.64.0.1"), Some("shared (carrier-grade NAT)"));
        assert_eq!(kind("0.0.0.0"), Some("unspecified"));
        assert_eq!(kind("::1"), Some("loopback"));
        assert_eq!(kind("fd00::1"), Some("unique-local"));
        assert_eq!(kind("fe80::1"), Some("link-local"));
        assert_eq!(
            inside(IpAddr::V6(METADATA_V6_MAPPED)),
            Some("an IPv4 address written as IPv6")
        );
    }

    #[test]
    fn public_addresses_pass() {
        assert_eq!(kind("192.0.2.1"), None);
        assert_eq!(kind("8.8.8.8"), None);
        assert_eq!(kind("2001:db8::1"), None);
        assert_eq!(kind("172.32.0.1"), None);
    }
}
