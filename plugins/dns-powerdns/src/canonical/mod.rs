//! Canonical forms of DNS names and record contents, so that what Git says
//! and what PowerDNS answers compare equal when they mean the same thing.
//!
//! The canonical content of a record is the text PowerDNS's API returns for
//! it (the version `scripts/setup.sh` installs, 4.7), found by writing each
//! form through the API and reading it back: PowerDNS refuses a write whose
//! content is not already in the form it would print, and `list` reads
//! back what it printed, so the same function serves both sides. One module
//! per family of types; this one holds names, numbers and the simple types.

mod digest;
mod loc;
mod naptr;
mod svcb;
mod text;

use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types this provider manages.
pub const SUPPORTED_TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR", "DNAME", "SSHFP", "TLSA", "DS",
    "NAPTR", "LOC", "SVCB", "HTTPS",
];

/// The longest domain name in presentation form (RFC 1035 §2.3.4).
const MAX_NAME_LENGTH: usize = 253;

/// The longest label of a domain name (RFC 1035 §2.3.4).
const MAX_LABEL_LENGTH: usize = 63;

/// The root name, `.`, where a target may be "nothing": an SRV target of
/// `.` says the service is decidedly not available (RFC 2782), an SVCB or
/// HTTPS target of `.` means the owner name itself, or in AliasMode that
/// the service is not available (RFC 9460 §2.5), and a NAPTR replacement
/// of `.` means the regexp field is used instead (RFC 3403 §4.1).
const ROOT: &str = ".";

/// Lower-cases a domain name and makes it absolute (trailing dot).
pub fn name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("the name is empty".into());
    }
    if trimmed == ROOT || trimmed == "@" {
        return Err(format!(
            "`{trimmed}` is not a usable name: write the full name, ending with a dot"
        ));
    }
    let mut name = trimmed.to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    if name.len() > MAX_NAME_LENGTH + 1 {
        return Err(format!(
            "the name is longer than {MAX_NAME_LENGTH} characters"
        ));
    }
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{trimmed}` has an empty label (two dots in a row)"
            ));
        }
        if label.len() > MAX_LABEL_LENGTH {
            return Err(format!(
                "the label `{label}` is longer than {MAX_LABEL_LENGTH} characters"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '*'))
        {
            return Err(format!(
                "`{trimmed}` contains `{bad}`, which a host name cannot hold"
            ));
        }
    }
    Ok(name)
}

/// A target name, which unlike other names may be the root `.` (only the
/// fields whose RFC gives the root a meaning call this; see [`ROOT`]).
fn target(raw: &str) -> Result<String, String> {
    if raw.trim() == ROOT {
        return Ok(ROOT.into());
    }
    name(raw)
}

/// The canonical content of one record of type `record_type`.
pub fn content(record_type: &str, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    match record_type {
        "A" => raw
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| format!("`{raw}` is not an IPv4 address")),
        "AAAA" => raw
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| format!("`{raw}` is not an IPv6 address")),
        "CNAME" | "NS" | "PTR" | "DNAME" => name(raw),
        "MX" => {
            let [preference, exchange] = fields::<2>(raw, "PREFERENCE HOST")?;
            Ok(format!(
                "{} {}",
                number::<u16>(preference, "preference")?,
                name(exchange)?
            ))
        }
        "SRV" => {
            let [priority, weight, port, target_name] =
                fields::<4>(raw, "PRIORITY WEIGHT PORT TARGET")?;
            Ok(format!(
                "{} {} {} {}",
                number::<u16>(priority, "priority")?,
                number::<u16>(weight, "weight")?,
                number::<u16>(port, "port")?,
                target(target_name)?
            ))
        }
        "CAA" => text::caa(raw),
        "TXT" => text::txt(raw),
        "SSHFP" => digest::sshfp(raw),
        "TLSA" => digest::tlsa(raw),
        "DS" => digest::ds(raw),
        "NAPTR" => naptr::naptr(raw),
        "LOC" => loc::loc(raw),
        "SVCB" | "HTTPS" => svcb::svcb(raw),
        other => Err(format!(
            "the type {other} is not supported; use one of {}",
            SUPPORTED_TYPES.join(", ")
        )),
    }
}

fn fields<'a, const N: usize>(raw: &'a str, shape: &str) -> Result<[&'a str; N], String> {
    let parts: Vec<&str> = raw.split_whitespace().collect();
    parts
        .try_into()
        .map_err(|_| format!("`{raw}` should have the form `{shape}`"))
}

/// An unsigned integer field whose range is its type's.
trait Unsigned: TryFrom<u64> + std::fmt::Display {
    /// The largest value the field holds.
    const MAX: u64;
}

impl Unsigned for u8 {
    const MAX: u64 = u8::MAX as u64;
}

impl Unsigned for u16 {
    const MAX: u64 = u16::MAX as u64;
}

impl Unsigned for u32 {
    const MAX: u64 = u32::MAX as u64;
}

/// Reads the decimal field `what`, saying its range when it is out of it.
fn number<T: Unsigned>(raw: &str, what: &str) -> Result<T, String> {
    let out_of_range = || format!("the {what} `{raw}` is out of range: it is 0 to {}", T::MAX);
    if raw.is_empty() || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("the {what} `{raw}` is not a valid number"));
    }
    let value: u64 = raw.parse().map_err(|_| out_of_range())?;
    T::try_from(value).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_lower_case_and_absolute() {
        assert_eq!(name("WWW.Example.org").unwrap(), "www.example.org.");
        assert_eq!(name("a.example.org.").unwrap(), "a.example.org.");
        assert!(name("a..b").unwrap_err().contains("empty label"));
        assert!(name("a b.org").unwrap_err().contains("` `"));
    }

    #[test]
    fn addresses_and_hosts_are_canonical() {
        assert_eq!(content("A", " 192.0.2.1 ").unwrap(), "192.0.2.1");
        assert_eq!(content("AAAA", "2001:DB8:0:0::1").unwrap(), "2001:db8::1");
        assert_eq!(
            content("MX", "10  Mail.example.org").unwrap(),
            "10 mail.example.org."
        );
        assert_eq!(
            content("SRV", "10 5 5060 sip.example.org.").unwrap(),
            "10 5 5060 sip.example.org."
        );
        assert!(content("A", "300.0.0.1").unwrap_err().contains("IPv4"));
        assert!(
            content("MX", "mail.example.org.")
                .unwrap_err()
                .contains("PREFERENCE HOST")
        );
    }

    #[test]
    fn txt_is_quoted_and_long_text_is_split() {
        assert_eq!(content("TXT", "v=spf1 -all").unwrap(), "\"v=spf1 -all\"");
        assert_eq!(content("TXT", "\"a\" \"b\"").unwrap(), "\"a\" \"b\"");
        assert_eq!(content("TXT", "say \"hi\"").unwrap(), "\"say \\\"hi\\\"\"");
        assert_eq!(content("TXT", "\"\\065b\"").unwrap(), "\"Ab\"");
        let long = "x".repeat(300);
        assert_eq!(
            content("TXT", &long).unwrap(),
            format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
        );
        assert!(content("TXT", "\"open").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn caa_values_are_quoted_and_tags_lower_case() {
        assert_eq!(
            content("CAA", "0 ISSUE letsencrypt.org").unwrap(),
            "0 issue \"letsencrypt.org\""
        );
        assert_eq!(
            content("CAA", "128 iodef \"mailto:a@example.org\"").unwrap(),
            "128 iodef \"mailto:a@example.org\""
        );
        assert_eq!(
            content("CAA", "0  issue\t\"le.org\"").unwrap(),
            "0 issue \"le.org\""
        );
    }

    #[test]
    fn the_root_is_a_target_only_where_an_rfc_gives_it_a_meaning() {
        assert_eq!(content("SRV", "0 0 0 .").unwrap(), "0 0 0 .");
        for (record_type, raw) in [
            ("MX", "10 ."),
            ("CNAME", "."),
            ("DNAME", "."),
            ("NS", "."),
            ("PTR", "."),
        ] {
            let error = content(record_type, raw).unwrap_err();
            assert!(
                error.contains("not a usable name"),
                "{record_type}: {error}"
            );
        }
    }

    #[test]
    fn dname_targets_are_names() {
        assert_eq!(
            content("DNAME", "Other.Example.NET").unwrap(),
            "other.example.net."
        );
    }

    #[test]
    fn numbers_out_of_range_say_the_range() {
        let error = content("SRV", "10 5 65536 sip.example.org.").unwrap_err();
        assert_eq!(error, "the port `65536` is out of range: it is 0 to 65535");
        let error = content("MX", "-1 mail.example.org.").unwrap_err();
        assert!(error.contains("not a valid number"), "{error}");
    }

    /// The provider's page, whose table of record types shows what each
    /// type looks like written and in canonical form.
    const DOCS: &str = include_str!("../../../../docs/providers/dns-powerdns.md");

    #[test]
    fn the_documented_canonical_forms_are_the_canonical_forms() {
        let section = DOCS
            .split("\n## ")
            .find(|section| section.starts_with("Record types"))
            .expect("the page has a section `Record types`");
        let mut documented = std::collections::BTreeSet::new();
        for row in section
            .lines()
            .filter(|line| line.starts_with("| ") && line.contains('`'))
        {
            let record_type = row.split('|').nth(1).expect("a type column").trim();
            let spans: Vec<&str> = row.split('`').skip(1).step_by(2).collect();
            let [written, canonical] = spans.as_slice() else {
                panic!("the row `{row}` should have two code spans");
            };
            assert_eq!(
                content(record_type, written).as_deref(),
                Ok(*canonical),
                "{row}"
            );
            assert_eq!(
                content(record_type, canonical).as_deref(),
                Ok(*canonical),
                "{row}"
            );
            documented.insert(record_type);
        }
        let supported: std::collections::BTreeSet<&str> = SUPPORTED_TYPES.iter().copied().collect();
        assert_eq!(documented, supported, "every supported type has an example");
    }
}
