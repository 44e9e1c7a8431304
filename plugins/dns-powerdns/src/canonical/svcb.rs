//! SVCB and HTTPS (RFC 9460): `PRIORITY TARGET [KEY[=VALUE] …]`, in the
//! form PowerDNS 4.7 prints: parameters in the order of their key numbers,
//! the keys it knows by name (`mandatory`, `alpn`, `no-default-alpn`,
//! `port`, `ipv4hint`, `ech`, `ipv6hint`) and the others as `keyNNNN` with
//! a quoted value; `alpn`, `port` and the hints unquoted, `ech` quoted;
//! `mandatory` listed in key order; IPv6 hints as `inet_ntop` writes them.
//! What RFC 9460 §2.4 and §8 call errors in a zone file is refused here
//! too, and so are the few values PowerDNS cannot read back.

use super::text::{MAX_STRING, quote, read_quoted, read_unquoted};
use super::{number, target};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The parameter keys PowerDNS 4.7 prints by name, and their numbers
/// (RFC 9460 §14.3.2).
const NAMED_KEYS: &[(&str, u16)] = &[
    ("mandatory", MANDATORY),
    ("alpn", ALPN),
    ("no-default-alpn", NO_DEFAULT_ALPN),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", ECH),
    ("ipv6hint", 6),
];

/// Keys named by later RFCs that PowerDNS 4.7 prints as `keyNNNN`:
/// `dohpath` (RFC 9461) and `ohttp` (RFC 9540).
const LATER_KEYS: &[(&str, u16)] = &[("dohpath", 7), ("ohttp", OHTTP)];

/// `mandatory`: the keys a client must understand to use the record.
const MANDATORY: u16 = 0;
/// `alpn`: the protocols the endpoint speaks.
const ALPN: u16 = 1;
/// `no-default-alpn`: the protocol's default is not among them.
const NO_DEFAULT_ALPN: u16 = 2;
/// `ech`: the Encrypted ClientHello configuration, base64.
const ECH: u16 = 5;
/// `ohttp` (RFC 9540): the endpoint is an Oblivious HTTP gateway; no value.
const OHTTP: u16 = 8;

/// The reserved "invalid key" (RFC 9460 §14.3.2).
const INVALID_KEY: u16 = 65535;

/// Bytes PowerDNS 4.7 cannot read back in a `keyNNNN` value, even quoted:
/// its parser takes them for the zone file's comment and grouping signs.
const UNREADABLE_IN_VALUES: &[u8] = b"();";

/// Characters an ALPN id may not hold here: the list's separator and
/// escape, the quote, and the signs PowerDNS 4.7 cannot read in an `alpn`
/// value.
const NOT_IN_ALPN: &[u8] = b",\\\"();";

/// A parameter's value as written.
#[derive(Debug)]
struct Value {
    /// Its bytes, quotes removed and escapes decoded.
    bytes: Vec<u8>,
    /// Whether it was written with escapes.
    escaped: bool,
}

/// The parameters of a record, keyed by number.
type Parameters = BTreeMap<u16, Option<Value>>;

/// The canonical SVCB or HTTPS content.
pub fn svcb(raw: &str) -> Result<String, String> {
    let (priority, rest) = first_field(raw);
    let (target_name, rest) = first_field(rest);
    if target_name.is_empty() {
        return Err(format!(
            "`{raw}` should have the form `PRIORITY TARGET [KEY=VALUE …]`"
        ));
    }
    let priority = number::<u16>(priority, "priority")?;
    let target_name = target(target_name)?;
    let params = parameters(rest)?;
    if priority == 0 && !params.is_empty() {
        return Err(
            "a record of priority 0 is in AliasMode and has no parameters (RFC 9460 §2.4.2): give it a priority of 1 or more, or remove the parameters"
                .into(),
        );
    }
    let mut out = format!("{priority} {target_name}");
    for (key, value) in &params {
        out.push(' ');
        out.push_str(&canonical_parameter(*key, value.as_ref(), &params)?);
    }
    Ok(out)
}

/// The first blank-separated field of `raw`, and what follows it.
fn first_field(raw: &str) -> (&str, &str) {
    let raw = raw.trim_start();
    let end = raw
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(raw.len());
    raw.split_at(end)
}

/// The parameters, keyed by number; a key given twice is an error.
fn parameters(raw: &str) -> Result<Parameters, String> {
    let bytes = raw.as_bytes();
    let mut params = BTreeMap::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index].is_ascii_whitespace() {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && bytes[index] != b'=' && !bytes[index].is_ascii_whitespace() {
            index += 1;
        }
        let name = &raw[start..index];
        let value = if bytes.get(index) == Some(&b'=') {
            index += 1;
            let value_start = index;
            let bytes = if bytes.get(index) == Some(&b'"') {
                read_quoted(raw, &mut index)?
            } else {
                read_unquoted(raw, &mut index)?
            };
            Some(Value {
                bytes,
                escaped: raw[value_start..index].contains('\\'),
            })
        } else {
            None
        };
        let key = key_number(name)?;
        if params.insert(key, value).is_some() {
            return Err(format!(
                "the parameter `{}` is given twice (RFC 9460 §2.2)",
                key_name(key)
            ));
        }
    }
    Ok(params)
}

/// The number of the key written `name`.
fn key_number(name: &str) -> Result<u16, String> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, key)) = NAMED_KEYS
        .iter()
        .chain(LATER_KEYS)
        .find(|(known, _)| *known == lower)
    {
        return Ok(*key);
    }
    let Some(digits) = lower.strip_prefix("key") else {
        return Err(format!(
            "unknown SVCB parameter `{name}`: use {}, or keyNNNN for another key",
            NAMED_KEYS
                .iter()
                .chain(LATER_KEYS)
                .map(|(known, _)| *known)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let key = number::<u16>(digits, "SVCB key number")?;
    if let Some((known, _)) = NAMED_KEYS.iter().find(|(_, number)| *number == key) {
        return Err(format!(
            "write `{name}` by its name, `{known}`: PowerDNS reads `key{key}` as wire-format bytes"
        ));
    }
    if key == INVALID_KEY {
        return Err(format!(
            "the SVCB key {INVALID_KEY} is reserved as invalid (RFC 9460 §14.3.2)"
        ));
    }
    Ok(key)
}

/// The key's name as PowerDNS prints it.
fn key_name(key: u16) -> String {
    NAMED_KEYS
        .iter()
        .find(|(_, number)| *number == key)
        .map(|(name, _)| (*name).to_string())
        .unwrap_or_else(|| format!("key{key}"))
}

/// `KEY=VALUE` in canonical form; `params` are the record's parameters,
/// for the checks that span several.
fn canonical_parameter(
    key: u16,
    value: Option<&Value>,
    params: &Parameters,
) -> Result<String, String> {
    let name = key_name(key);
    let text = || -> Result<&str, String> {
        let value = value.ok_or_else(|| format!("the parameter `{name}` needs a value"))?;
        let text = std::str::from_utf8(&value.bytes)
            .ok()
            .filter(|text| !text.is_empty())
            .ok_or_else(|| format!("the parameter `{name}` needs a value"))?;
        Ok(text)
    };
    let value = match name.as_str() {
        "mandatory" => {
            let mut keys = Vec::new();
            for item in text()?.split(',') {
                let key = key_number(item)?;
                if key == MANDATORY {
                    return Err("`mandatory` may not list itself (RFC 9460 §8)".into());
                }
                if keys.contains(&key) {
                    return Err(format!(
                        "`mandatory` lists `{}` twice (RFC 9460 §8)",
                        key_name(key)
                    ));
                }
                if !params.contains_key(&key) {
                    return Err(format!(
                        "`mandatory` lists `{}`, which the record does not give (RFC 9460 §8)",
                        key_name(key)
                    ));
                }
                keys.push(key);
            }
            keys.sort_unstable();
            keys.into_iter().map(key_name).collect::<Vec<_>>().join(",")
        }
        "alpn" => {
            if value.is_some_and(|value| value.escaped) {
                return Err(
                    "`alpn` holds an escape: PowerDNS 4.7 reads `\\,` as a separator, so ids here are written plainly"
                        .into(),
                );
            }
            let ids: Vec<&str> = text()?.split(',').collect();
            for id in &ids {
                alpn_id(id)?;
            }
            ids.join(",")
        }
        "no-default-alpn" => {
            if value.is_some() {
                return Err("`no-default-alpn` takes no value".into());
            }
            if !params.contains_key(&ALPN) {
                return Err(
                    "`no-default-alpn` needs `alpn` beside it, or no client can use the record (RFC 9460 §7.1.1)"
                        .into(),
                );
            }
            return Ok(name);
        }
        "port" => number::<u16>(text()?, "port")?.to_string(),
        "ipv4hint" => list(text()?, |address| {
            address
                .parse::<Ipv4Addr>()
                .map(|ip| ip.to_string())
                .map_err(|_| format!("the ipv4hint `{address}` is not an IPv4 address"))
        })?,
        "ech" => {
            let config = text()?;
            base64(config)?;
            quote(config.as_bytes())
        }
        "ipv6hint" => list(text()?, |address| {
            address
                .parse::<Ipv6Addr>()
                .map(|ip| inet_ntop(&ip))
                .map_err(|_| format!("the ipv6hint `{address}` is not an IPv6 address"))
        })?,
        _ => {
            let value = value
                .map(|value| value.bytes.as_slice())
                .unwrap_or_default();
            if key == OHTTP && !value.is_empty() {
                return Err("`ohttp` takes no value (RFC 9540 §4)".into());
            }
            if let Some(bad) = value.iter().find(|b| UNREADABLE_IN_VALUES.contains(b)) {
                return Err(format!(
                    "the value of `{name}` holds `{}`, which PowerDNS 4.7 cannot read in an SVCB value",
                    bad.escape_ascii()
                ));
            }
            quote(value)
        }
    };
    Ok(format!("{name}={value}"))
}

/// One ALPN protocol id.
fn alpn_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("`alpn` has an empty protocol id (two commas in a row?)".into());
    }
    if id.len() > MAX_STRING {
        return Err(format!(
            "the ALPN id `{id}` is longer than {MAX_STRING} bytes"
        ));
    }
    if let Some(bad) = id
        .bytes()
        .find(|b| !b.is_ascii_graphic() || NOT_IN_ALPN.contains(b))
    {
        return Err(format!(
            "the ALPN id `{id}` holds `{}`: ids here are printable ASCII without blanks, `,`, `\\`, `\"`, `(`, `)` or `;`",
            bad.escape_ascii()
        ));
    }
    Ok(())
}

/// A comma-separated list, each item made canonical by `item`, in the
/// order given.
fn list(raw: &str, item: impl Fn(&str) -> Result<String, String>) -> Result<String, String> {
    let items: Result<Vec<String>, String> = raw.split(',').map(item).collect();
    Ok(items?.join(","))
}

/// Checks that `raw` is base64 (RFC 4648 §4) in its one canonical
/// spelling: padded, and zero in the bits the padding leaves over, since
/// PowerDNS decodes the value and prints it encoded again.
fn base64(raw: &str) -> Result<(), String> {
    let not_base64 = |why: &str| format!("the ech value `{raw}` is not base64: {why}");
    if !raw.len().is_multiple_of(4) {
        return Err(not_base64(
            "its length is not a multiple of 4 (is it padded with `=`?)",
        ));
    }
    let data = raw.trim_end_matches('=');
    let padding = raw.len() - data.len();
    if padding > 2 {
        return Err(not_base64("it ends with more than two `=`"));
    }
    let mut last = 0;
    for byte in data.bytes() {
        last = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(not_base64(&format!("it holds `{}`", byte.escape_ascii()))),
        };
    }
    let unused_bits = [0, 2, 4][padding];
    if last & ((1 << unused_bits) - 1) != 0 {
        return Err(not_base64(
            "its last character carries bits the padding drops; encode the value again",
        ));
    }
    Ok(())
}

/// An IPv6 address as glibc's `inet_ntop` writes it, which PowerDNS uses:
/// as Rust writes it, except that an IPv4-compatible address
/// (`::192.0.2.1`, the first 96 bits zero and the next 16 not) keeps its
/// dotted tail.
fn inet_ntop(ip: &Ipv6Addr) -> String {
    let segments = ip.segments();
    if segments[..6].iter().all(|s| *s == 0) && segments[6] != 0 {
        let [.., a, b, c, d] = ip.octets();
        return format!("::{}", Ipv4Addr::new(a, b, c, d));
    }
    ip.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_in_key_order_with_powerdns_quoting() {
        assert_eq!(
            svcb("1 . port=8443 ipv4hint=192.0.2.1 ALPN=\"h2,h3\"").unwrap(),
            "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1"
        );
        assert_eq!(
            svcb("1 Svc.Example.NET key65000=a=b ech=AEX+DQ== ipv6hint=2001:DB8:0:0:1:0:0:1,::c000:201,::ffff:192.0.2.1 mandatory=port,alpn alpn=h2 no-default-alpn port=\"443\"").unwrap(),
            "1 svc.example.net. mandatory=alpn,port alpn=h2 no-default-alpn port=443 ech=\"AEX+DQ==\" ipv6hint=2001:db8::1:0:0:1,::192.0.2.1,::ffff:192.0.2.1 key65000=\"a=b\""
        );
        assert_eq!(
            svcb("1 . key65000 key65001=\"a b\\\"c\\065\\001\"").unwrap(),
            "1 . key65000=\"\" key65001=\"a b\\\"cA\\001\""
        );
    }

    #[test]
    fn later_keys_are_written_as_powerdns_prints_them() {
        assert_eq!(
            svcb("1 doh.example.net. alpn=h2 dohpath=/dns-query{?dns} ohttp").unwrap(),
            "1 doh.example.net. alpn=h2 key7=\"/dns-query{?dns}\" key8=\"\""
        );
        assert_eq!(
            svcb("1 . mandatory=key7 key7=/q{?dns}").unwrap(),
            "1 . mandatory=key7 key7=\"/q{?dns}\""
        );
    }

    #[test]
    fn the_root_target_and_alias_mode() {
        assert_eq!(svcb("0 .").unwrap(), "0 .");
        assert_eq!(
            svcb(" 0  Pool.example.NET ").unwrap(),
            "0 pool.example.net."
        );
        assert_eq!(svcb("1 .").unwrap(), "1 .");
        assert!(
            svcb("0 pool.example.net. alpn=h2")
                .unwrap_err()
                .contains("AliasMode")
        );
        assert!(svcb("1").unwrap_err().contains("PRIORITY TARGET"));
        assert!(svcb("65536 .").unwrap_err().contains("out of range"));
    }

    #[test]
    fn rfc_9460_presentation_errors_are_refused() {
        for (raw, expected) in [
            ("1 . foo=bar", "unknown SVCB parameter `foo`"),
            ("1 . key1=h2", "by its name, `alpn`"),
            ("1 . key65535=x", "reserved"),
            ("1 . key70000=x", "out of range"),
            ("1 . port=1 port=2", "given twice"),
            ("1 . mandatory=port", "does not give"),
            ("1 . mandatory=mandatory", "list itself"),
            ("1 . mandatory=alpn,alpn alpn=h2", "twice"),
            ("1 . no-default-alpn", "needs `alpn`"),
            ("1 . alpn=h2 no-default-alpn=x", "takes no value"),
            ("1 . alpn=h2,,h3", "empty protocol id"),
            ("1 . alpn=", "needs a value"),
            ("1 . alpn", "needs a value"),
            ("1 . alpn=h2\\,x", "holds an escape"),
            ("1 . alpn=\"h 2\"", "holds ` `"),
            ("1 . port=99999", "out of range"),
            ("1 . ipv4hint=192.0.2.1,nope", "not an IPv4 address"),
            ("1 . ipv6hint=192.0.2.1", "not an IPv6 address"),
            ("1 . ech=AEX+DQ", "multiple of 4"),
            ("1 . ech=AEX+DR==", "bits the padding drops"),
            ("1 . ech=!!!!", "holds `!`"),
            ("1 . key65000=\"a;b\"", "cannot read"),
            ("1 . ohttp=x", "takes no value"),
        ] {
            let error = svcb(raw).unwrap_err();
            assert!(error.contains(expected), "{raw}: {error}");
        }
    }
}
