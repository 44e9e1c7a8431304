//! Network grants: the operator's `scheme://host:port` patterns that say
//! which URLs a provider instance may reach. Deny by default: a request is
//! allowed only when some grant matches its scheme, host and port.
//!
//! Hosts are a name (`api.example.org`), subdomains (`*.example.org`), an
//! IP address (`127.0.0.1`, `[::1]`) or an IP network in CIDR form
//! (`10.1.0.0/16`, `[fd00::/8]`, matching requests to an address in it);
//! ports are a number, a range (`8000-8099`) or `*`.

use super::tls::TrustedCa;
use std::fmt;
use std::sync::Arc;

/// A grant could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error(
    "network grant \"{pattern}\": {reason} (write it like \"https://api.example.org:443\" or \"http://127.0.0.1:8081\")"
)]
pub struct GrantError {
    pattern: String,
    reason: String,
}

/// Which hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host name or IP address.
    Exact(String),
    /// Any name ending in `.SUFFIX` (written `*.SUFFIX`).
    Subdomains(String),
    /// Any IP address in a network (written in CIDR form).
    Network(std::net::IpAddr, u8),
}

/// Which ports a grant covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// Any port (written `*`).
    Any,
    /// These ports, inclusive (one port is a range of one).
    Range(u16, u16),
}

/// One parsed grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pattern: String,
    scheme: String,
    host: HostPattern,
    port: PortPattern,
    /// The certificate authorities HTTPS requests under this grant trust
    /// instead of the public roots.
    ca: Option<Arc<TrustedCa>>,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl Grant {
    /// Parses `scheme://host[:port]`, where host may be `*.domain` and port
    /// may be `*`; a missing port is the scheme's default.
    pub fn parse(pattern: &str) -> Result<Self, GrantError> {
        let fail = |reason: &str| GrantError {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| fail("it has no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(fail("only http and https can be granted"));
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains('?') || rest.contains('@') {
            return Err(fail("a grant names a scheme, host and port, not a path"));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| fail("its port is not a number"))?;
        let port = match port {
            None => PortPattern::Range(default_port(&scheme), default_port(&scheme)),
            Some("*") => PortPattern::Any,
            Some(port) => {
                let number = |text: &str| {
                    text.parse::<u16>()
                        .map_err(|_| fail("its port is not a number, a range like 8000-8099 or *"))
                };
                let (low, high) = match port.split_once('-') {
                    Some((low, high)) => (number(low)?, number(high)?),
                    None => (number(port)?, number(port)?),
                };
                if low > high {
                    return Err(fail("its port range runs backwards"));
                }
                PortPattern::Range(low, high)
            }
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(fail("it has no host"));
        }
        if let Some((address, prefix)) = host.split_once('/') {
            let address: std::net::IpAddr = address
                .parse()
                .map_err(|_| fail("a network is an IP address and a prefix, like 10.1.0.0/16"))?;
            let bits = if address.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| fail("its network prefix is not a number of bits"))?;
            return Ok(Self {
                pattern: pattern.to_string(),
                scheme,
                host: HostPattern::Network(address, prefix),
                port,
                ca: None,
            });
        }
        if host.contains('/') {
            return Err(fail("a grant names a scheme, host and port, not a path"));
        }
        let host = match host.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                HostPattern::Subdomains(suffix.to_string())
            }
            _ if host.contains('*') => {
                return Err(fail("a wildcard may only stand first, as in *.example.org"));
            }
            _ => HostPattern::Exact(host),
        };
        Ok(Self {
            pattern: pattern.to_string(),
            scheme,
            host,
            port,
            ca: None,
        })
    }

    /// The grant trusting `ca` for its HTTPS requests.
    pub fn with_ca(mut self, ca: TrustedCa) -> Result<Self, GrantError> {
        if self.scheme != "https" {
            return Err(GrantError {
                pattern: self.pattern,
                reason: "a CA bundle needs an https grant".into(),
            });
        }
        self.ca = Some(Arc::new(ca));
        Ok(self)
    }

    /// The certificate authorities this grant trusts, if the operator gave
    /// some.
    pub fn ca(&self) -> Option<&Arc<TrustedCa>> {
        self.ca.as_ref()
    }

    /// Whether the grant names `address` itself — as an IP address or a
    /// network holding it — which is what lets a request reach an address
    /// inside the machine or its private networks.
    pub fn names_address(&self, address: std::net::IpAddr) -> bool {
        let address = match address {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, std::net::IpAddr::V4),
            v4 => v4,
        };
        match &self.host {
            HostPattern::Exact(text) => text
                .parse::<std::net::IpAddr>()
                .is_ok_and(|named| named == address),
            HostPattern::Network(network, prefix) => in_network(address, *network, *prefix),
            HostPattern::Subdomains(_) => false,
        }
    }

    /// Whether this grant allows a request to `scheme://host:port`.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if !self.scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        if let PortPattern::Range(low, high) = self.port
            && !(low..=high).contains(&port)
        {
            return false;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match &self.host {
            HostPattern::Exact(exact) => *exact == host,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
            HostPattern::Network(network, prefix) => host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| in_network(address, *network, *prefix)),
        }
    }
}

/// Whether `address` lies in `network/prefix` (same family only).
fn in_network(address: std::net::IpAddr, network: std::net::IpAddr, prefix: u8) -> bool {
    use std::net::IpAddr;
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            after => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

/// What the gate decided about one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this grant.
    Allowed(Grant),
    /// No grant matches.
    Denied,
}

/// Checks a request's URL against a list of grants.
pub fn check(grants: &[Grant], uri: &http::Uri) -> Decision {
    let scheme = uri.scheme_str().unwrap_or("https");
    let Some(host) = uri.host() else {
        return Decision::Denied;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or_else(|| default_port(scheme));
    grants
        .iter()
        .find(|grant| grant.allows(scheme, host, port))
        .map_or(Decision::Denied, |grant| Decision::Allowed(grant.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, url: &str) -> bool {
        let grant = Grant::parse(pattern).unwrap();
        check(&[grant], &url.parse().unwrap()) != Decision::Denied
    }

    #[test]
    fn exact_grants_match_scheme_host_and_port() {
        assert!(allows(
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8081/api/v1"
        ));
        assert!(!allows(
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8082/api/v1"
        ));
        assert!(!allows("http://127.0.0.1:8081", "https://127.0.0.1:8081/"));
        assert!(!allows("http://127.0.0.1:8081", "http://127.0.0.2:8081/"));
    }

    #[test]
    fn default_ports_and_wildcards() {
        assert!(allows(
            "https://api.example.org",
            "https://api.example.org/x"
        ));
        assert!(!allows(
            "https://api.example.org",
            "https://api.example.org:8443/x"
        ));
        assert!(allows("https://*.example.org", "https://a.b.example.org/"));
        assert!(!allows("https://*.example.org", "https://example.org/"));
        assert!(!allows("https://*.example.org", "https://badexample.org/"));
        assert!(allows("http://localhost:*", "http://localhost:1234/"));
        assert!(allows("http://[::1]:8081", "http://[::1]:8081/"));
    }

    #[test]
    fn networks_and_port_ranges() {
        assert!(allows("http://10.1.0.0/16:8080", "http://10.1.200.3:8080/"));
        assert!(!allows("http://10.1.0.0/16:8080", "http://10.2.0.1:8080/"));
        assert!(!allows(
            "http://10.1.0.0/16:8080",
            "http://internal.example.org:8080/"
        ));
        assert!(allows("http://0.0.0.0/0:*", "http://192.0.2.1:9/"));
        assert!(allows("https://[fd00::/8]:443", "https://[fd12::1]/"));
        assert!(!allows("https://[fd00::/8]:443", "https://[fe80::1]/"));
        assert!(allows(
            "http://127.0.0.1:8000-8099",
            "http://127.0.0.1:8042/"
        ));
        assert!(!allows(
            "http://127.0.0.1:8000-8099",
            "http://127.0.0.1:8100/"
        ));
        assert!(Grant::parse("http://10.0.0.0/33").is_err());
        assert!(Grant::parse("http://x:9000-8000").is_err());
        assert!(Grant::parse("http://x/8").is_err());
    }

    #[test]
    fn only_addresses_and_networks_name_an_address() {
        let loopback = "127.0.0.1".parse().unwrap();
        assert!(
            Grant::parse("http://127.0.0.1:1")
                .unwrap()
                .names_address(loopback)
        );
        assert!(
            Grant::parse("http://127.0.0.0/8:1")
                .unwrap()
                .names_address(loopback)
        );
        assert!(
            !Grant::parse("http://localhost:1")
                .unwrap()
                .names_address(loopback)
        );
        assert!(
            !Grant::parse("http://*.example.org")
                .unwrap()
                .names_address(loopback)
        );
        let mapped = "::ffff:127.0.0.1".parse().unwrap();
        assert!(
            Grant::parse("http://127.0.0.1:1")
                .unwrap()
                .names_address(mapped)
        );
    }

    #[test]
    fn nothing_is_allowed_without_a_grant() {
        assert_eq!(
            check(&[], &"http://127.0.0.1/".parse().unwrap()),
            Decision::Denied
        );
    }

    #[test]
    fn malformed_grants_are_refused() {
        assert!(Grant::parse("127.0.0.1:8081").is_err());
        assert!(Grant::parse("ftp://x").is_err());
        assert!(Grant::parse("http://x/path").is_err());
        assert!(Grant::parse("http://a.*.org").is_err());
        assert!(Grant::parse("http://x:port").is_err());
    }
}
