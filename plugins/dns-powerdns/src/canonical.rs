//! Canonical forms of DNS names and record contents, so that what Git says
//! and what PowerDNS answers compare equal when they mean the same thing.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types this provider manages.
pub const SUPPORTED_TYPES: &[&str] =
    &["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR"];

/// The longest character-string a TXT record may hold (RFC 1035 §3.3).
const TXT_CHUNK: usize = 255;

/// The longest domain name in presentation form (RFC 1035 §2.3.4).
const MAX_NAME_LENGTH: usize = 253;

/// Lower-cases a domain name and makes it absolute (trailing dot).
pub fn name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("the name is empty".into());
    }
    if trimmed == "." || trimmed == "@" {
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
        if label.len() > 63 {
            return Err(format!("the label `{label}` is longer than 63 characters"));
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
        "CNAME" | "NS" | "PTR" => name(raw),
        "MX" => {
            let [preference, exchange] = fields::<2>(raw, "PREFERENCE HOST")?;
            Ok(format!(
                "{} {}",
                number::<u16>(preference, "preference")?,
                name(exchange)?
            ))
        }
        "SRV" => {
            let [priority, weight, port, target] = fields::<4>(raw, "PRIORITY WEIGHT PORT TARGET")?;
            Ok(format!(
                "{} {} {} {}",
                number::<u16>(priority, "priority")?,
                number::<u16>(weight, "weight")?,
                number::<u16>(port, "port")?,
                name(target)?
            ))
        }
        "CAA" => caa(raw),
        "TXT" => txt(raw),
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

fn number<T: std::str::FromStr + std::fmt::Display>(raw: &str, what: &str) -> Result<T, String> {
    raw.parse::<T>()
        .map_err(|_| format!("the {what} `{raw}` is not a valid number"))
}

/// `FLAGS TAG "VALUE"`, with the value quoted whether or not it was.
fn caa(raw: &str) -> Result<String, String> {
    let shape = || format!("`{raw}` should have the form `FLAGS TAG \"VALUE\"`");
    let (flags, rest) = raw.split_once(char::is_whitespace).ok_or_else(shape)?;
    let (tag, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(shape)?;
    let flags = number::<u8>(flags, "flags")?;
    let tag = tag.to_ascii_lowercase();
    if !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "the CAA tag `{tag}` may hold only letters and digits"
        ));
    }
    let value = value.trim();
    let strings = if value.starts_with('"') {
        parse_character_strings(value)?
    } else {
        vec![value.as_bytes().to_vec()]
    };
    let value: Vec<u8> = strings.concat();
    Ok(format!("{flags} {tag} {}", quote(&value)))
}

/// TXT contents: quoted character-strings are kept as they are split; an
/// unquoted text is one string, split into 255-byte chunks.
fn txt(raw: &str) -> Result<String, String> {
    let strings = if raw.starts_with('"') {
        let strings = parse_character_strings(raw)?;
        if let Some(long) = strings.iter().find(|s| s.len() > TXT_CHUNK) {
            return Err(format!(
                "a quoted TXT string is {} bytes long; each may hold at most {TXT_CHUNK}: split it or leave the text unquoted",
                long.len()
            ));
        }
        strings
    } else {
        let bytes = raw.as_bytes();
        if bytes.is_empty() {
            vec![Vec::new()]
        } else {
            bytes.chunks(TXT_CHUNK).map(<[u8]>::to_vec).collect()
        }
    };
    Ok(strings
        .iter()
        .map(|string| quote(string))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Parses `"a b" "c\"d" "\065"` into byte strings.
fn parse_character_strings(raw: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = raw.as_bytes();
    let mut strings = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b' ' | b'\t' => index += 1,
            b'"' => {
                index += 1;
                let mut string = Vec::new();
                loop {
                    match bytes.get(index) {
                        None => return Err(format!("`{raw}` has an unclosed quote")),
                        Some(b'"') => {
                            index += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes.get(index + 1..index + 4);
                            match digits {
                                Some(d) if d.iter().all(u8::is_ascii_digit) => {
                                    let value: u32 = std::str::from_utf8(d)
                                        .map_err(|e| e.to_string())?
                                        .parse()
                                        .map_err(|e: std::num::ParseIntError| e.to_string())?;
                                    let byte = u8::try_from(value).map_err(|_| {
                                        format!("`{raw}` has an escape \\{value} above 255")
                                    })?;
                                    string.push(byte);
                                    index += 4;
                                }
                                _ => {
                                    let escaped = bytes.get(index + 1).ok_or_else(|| {
                                        format!("`{raw}` ends with a lone backslash")
                                    })?;
                                    string.push(*escaped);
                                    index += 2;
                                }
                            }
                        }
                        Some(byte) => {
                            string.push(*byte);
                            index += 1;
                        }
                    }
                }
                strings.push(string);
            }
            _ => {
                return Err(format!(
                    "`{raw}` mixes quoted and unquoted text: quote every part, or none"
                ));
            }
        }
    }
    if strings.is_empty() {
        strings.push(Vec::new());
    }
    Ok(strings)
}

/// Quotes a byte string the way PowerDNS prints it: `"` and `\` escaped
/// with a backslash, bytes outside printable ASCII as `\DDD`.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03}")),
        }
    }
    out.push('"');
    out
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
}
