//! Network grants: the operator's `scheme://host:port` patterns that say
//! which URLs a provider instance may reach. Deny by default: a request is
//! allowed only when some grant matches its scheme, host and port.

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
}

/// One parsed grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pattern: String,
    scheme: String,
    host: HostPattern,
    /// `None` means any port (written `*`).
    port: Option<u16>,
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
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(fail("a grant names a scheme, host and port, not a path"));
        }
        let (host, port) = split_host_port(rest).ok_or_else(|| fail("its port is not a number"))?;
        let port = match port {
            None => Some(default_port(&scheme)),
            Some("*") => None,
            Some(port) => Some(port.parse().map_err(|_| fail("its port is not a number"))?),
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(fail("it has no host"));
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

    /// Whether this grant allows a request to `scheme://host:port`.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if !self.scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        if self.port.is_some_and(|granted| granted != port) {
            return false;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match &self.host {
            HostPattern::Exact(exact) => *exact == host,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
        }
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
