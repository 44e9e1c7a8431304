//! NAPTR (RFC 3403): `ORDER PREFERENCE "FLAGS" "SERVICES" "REGEXP"
//! REPLACEMENT`. PowerDNS reads the three strings only in quotes and keeps
//! them as written, escapes included; the canonical form quotes them as
//! [`quote`] does, so that any spelling of the same bytes is one form.

use super::text::{MAX_STRING, Token, quote, tokens};
use super::{ROOT, number, target};

/// The form of a NAPTR record, for messages.
const SHAPE: &str = "ORDER PREFERENCE \"FLAGS\" \"SERVICES\" \"REGEXP\" REPLACEMENT";

/// `100 10 "S" "SIP+D2U" "" _sip._udp.example.org.`, with the strings
/// quoted whether or not they were.
pub fn naptr(raw: &str) -> Result<String, String> {
    let tokens = tokens(raw)?;
    let [order, preference, flags, services, regexp, replacement] = <[Token; 6]>::try_from(tokens)
        .map_err(|_| format!("`{raw}` should have the form `{SHAPE}`"))?;
    let order = number::<u16>(order.plain()?, "NAPTR order")?;
    let preference = number::<u16>(preference.plain()?, "NAPTR preference")?;
    for (field, what) in [
        (&flags, "flags"),
        (&services, "services"),
        (&regexp, "regexp"),
    ] {
        if field.bytes.len() > MAX_STRING {
            return Err(format!(
                "the NAPTR {what} is {} bytes long; it may hold at most {MAX_STRING}",
                field.bytes.len()
            ));
        }
    }
    if let Some(&bad) = flags.bytes.iter().find(|b| !b.is_ascii_alphanumeric()) {
        return Err(format!(
            "the NAPTR flags `{}` hold `{}`: flags are letters and digits (RFC 3403 §4.1)",
            String::from_utf8_lossy(&flags.bytes),
            bad.escape_ascii()
        ));
    }
    if !regexp.bytes.is_empty() {
        substitution(&regexp.bytes)?;
    }
    let replacement = target(replacement.plain()?)?;
    if !regexp.bytes.is_empty() && replacement != ROOT {
        return Err(format!(
            "a NAPTR record uses its regexp or its replacement, not both (RFC 3403 §4.1): make the replacement `{ROOT}` or the regexp `\"\"`"
        ));
    }
    Ok(format!(
        "{order} {preference} {} {} {} {replacement}",
        quote(&flags.bytes),
        quote(&services.bytes),
        quote(&regexp.bytes)
    ))
}

/// Checks the shape of a substitution expression (RFC 3402 §3.2):
/// `DELIM ERE DELIM REPLACEMENT DELIM [i]`, with the delimiter escaped
/// inside. Resolvers built on BIND refuse a whole answer whose regexp is
/// not of this shape.
fn substitution(regexp: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(regexp);
    let [delimiter, rest @ ..] = regexp else {
        return Ok(());
    };
    if delimiter.is_ascii_digit() || matches!(delimiter, b'\\' | b'i') {
        return Err(format!(
            "the NAPTR regexp `{shown}` starts with `{}`, which cannot be its delimiter: use `!` or `/` (RFC 3402 §3.2)",
            delimiter.escape_ascii()
        ));
    }
    let mut parts = vec![Vec::new()];
    let mut escaped = false;
    for &byte in rest {
        if escaped {
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == *delimiter {
            parts.push(Vec::new());
            continue;
        }
        parts.last_mut().expect("there is a part").push(byte);
    }
    match parts.as_slice() {
        [_, _, flags] if flags.is_empty() || flags.as_slice() == b"i" => Ok(()),
        [_, _, flags] => Err(format!(
            "the NAPTR regexp `{shown}` ends with the flags `{}`; the only flag is `i` (RFC 3402 §3.2)",
            String::from_utf8_lossy(flags)
        )),
        _ => Err(format!(
            "the NAPTR regexp `{shown}` should have the form `{d}REGEX{d}REPLACEMENT{d}` (RFC 3402 §3.2), with `{d}` escaped inside",
            d = delimiter.escape_ascii()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escapes_spelled_one_way() {
        assert_eq!(
            naptr("100 10 S SIP+D2U \"\" _SIP._udp.Example.org").unwrap(),
            r#"100 10 "S" "SIP+D2U" "" _sip._udp.example.org."#
        );
        assert_eq!(
            naptr(r#"10 100 "u" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.org!" ."#).unwrap(),
            r#"10 100 "u" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.org!" ."#
        );
        assert_eq!(
            naptr(r#"1 1 "" "\065\"" "" ."#).unwrap(),
            r#"1 1 "" "A\"" "" ."#
        );
    }

    #[test]
    fn malformed_records_say_what_is_wrong() {
        assert!(
            naptr("100 10 \"S\" \"SIP+D2U\" \"\"")
                .unwrap_err()
                .contains(SHAPE)
        );
        assert!(
            naptr("100 10 \"S+\" \"\" \"\" .")
                .unwrap_err()
                .contains("flags are letters and digits")
        );
        assert!(
            naptr("100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:a@b!\" sip.example.org.")
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            naptr("10 100 \"u\" \"E2U+sip\" \"!^.*$!sip:a@b\" .")
                .unwrap_err()
                .contains("should have the form `!REGEX!REPLACEMENT!`")
        );
        assert!(
            naptr("10 100 \"u\" \"E2U+sip\" \"!^.*$!sip:a@b!g\" .")
                .unwrap_err()
                .contains("the only flag is `i`")
        );
        assert!(
            naptr("10 100 \"u\" \"E2U+sip\" \"1^.*$1sip:a@b1\" .")
                .unwrap_err()
                .contains("cannot be its delimiter")
        );
        assert_eq!(
            naptr(r#"10 100 "u" "E2U+sip" "/^a\\/b$/sip:x@y/i" ."#).unwrap(),
            r#"10 100 "u" "E2U+sip" "/^a\\/b$/sip:x@y/i" ."#
        );
        assert!(
            naptr("70000 10 \"\" \"\" \"\" .")
                .unwrap_err()
                .contains("NAPTR order `70000` is out of range")
        );
        assert!(
            naptr("\"1\" 10 \"\" \"\" \"\" .")
                .unwrap_err()
                .contains("without quotes")
        );
    }
}
