//! Character-strings in presentation format (RFC 1035 §5.1): quoted and
//! unquoted tokens with `\X` and `\DDD` escapes, read into bytes and
//! written back the way PowerDNS prints them; and the two types made of
//! them alone, TXT and CAA.

use super::number;

/// The longest character-string a record may hold (RFC 1035 §3.3).
pub const MAX_STRING: usize = 255;

/// One whitespace-separated field of a record's content.
#[derive(Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The field as written, quotes and escapes included.
    pub raw: &'a str,
    /// Its bytes, quotes removed and escapes decoded.
    pub bytes: Vec<u8>,
    /// Whether it was written in double quotes.
    pub quoted: bool,
}

impl Token<'_> {
    /// The field as written, for numbers and names, which are never quoted
    /// and never escaped.
    pub fn plain(&self) -> Result<&str, String> {
        if self.quoted || self.raw.contains('\\') {
            return Err(format!(
                "`{}` should be written without quotes or escapes",
                self.raw
            ));
        }
        Ok(self.raw)
    }
}

/// Splits `raw` into fields: runs of non-blank characters, or quoted
/// strings (which may hold blanks).
pub fn tokens(raw: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = raw.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index].is_ascii_whitespace() {
            index += 1;
            continue;
        }
        let start = index;
        let (value, quoted) = if bytes[index] == b'"' {
            (read_quoted(raw, &mut index)?, true)
        } else {
            (read_unquoted(raw, &mut index)?, false)
        };
        tokens.push(Token {
            raw: &raw[start..index],
            bytes: value,
            quoted,
        });
    }
    Ok(tokens)
}

/// Reads the quoted string that starts at `index` (on its opening quote),
/// leaving `index` after its closing quote.
pub fn read_quoted(raw: &str, index: &mut usize) -> Result<Vec<u8>, String> {
    let bytes = raw.as_bytes();
    debug_assert_eq!(bytes.get(*index), Some(&b'"'));
    *index += 1;
    let mut string = Vec::new();
    loop {
        match bytes.get(*index) {
            None => return Err(format!("`{raw}` has an unclosed quote")),
            Some(b'"') => {
                *index += 1;
                return Ok(string);
            }
            Some(b'\\') => string.push(read_escape(raw, index)?),
            Some(&byte) => {
                string.push(byte);
                *index += 1;
            }
        }
    }
}

/// Reads an unquoted run of characters from `index` to the next blank.
pub fn read_unquoted(raw: &str, index: &mut usize) -> Result<Vec<u8>, String> {
    let bytes = raw.as_bytes();
    let mut string = Vec::new();
    while let Some(&byte) = bytes.get(*index) {
        match byte {
            b'\\' => string.push(read_escape(raw, index)?),
            b'"' => {
                return Err(format!(
                    "`{raw}` has a quote inside unquoted text: quote the whole field, or escape the quote as \\\""
                ));
            }
            _ if byte.is_ascii_whitespace() => break,
            _ => {
                string.push(byte);
                *index += 1;
            }
        }
    }
    Ok(string)
}

/// Decodes the escape at `index` (on its backslash): `\DDD` is the byte of
/// decimal value DDD, `\X` is X itself.
fn read_escape(raw: &str, index: &mut usize) -> Result<u8, String> {
    let bytes = raw.as_bytes();
    let digits = bytes.get(*index + 1..*index + 4);
    if let Some(digits) = digits.filter(|d| d.iter().all(u8::is_ascii_digit)) {
        let value = digits
            .iter()
            .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'));
        let byte = u8::try_from(value)
            .map_err(|_| format!("`{raw}` has an escape \\{value} above 255"))?;
        *index += 4;
        return Ok(byte);
    }
    let escaped = *bytes
        .get(*index + 1)
        .ok_or_else(|| format!("`{raw}` ends with a lone backslash"))?;
    *index += 2;
    Ok(escaped)
}

/// Parses `"a b" "c\"d" "\065"` into byte strings; every part must be
/// quoted.
pub fn parse_character_strings(raw: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut strings = Vec::new();
    for token in tokens(raw)? {
        if !token.quoted {
            return Err(format!(
                "`{raw}` mixes quoted and unquoted text: quote every part, or none"
            ));
        }
        strings.push(token.bytes);
    }
    if strings.is_empty() {
        strings.push(Vec::new());
    }
    Ok(strings)
}

/// Quotes a byte string the way PowerDNS prints it: `"` and `\` escaped
/// with a backslash, bytes outside printable ASCII as `\DDD`.
pub fn quote(bytes: &[u8]) -> String {
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

/// `FLAGS TAG "VALUE"`, with the value quoted whether or not it was.
pub fn caa(raw: &str) -> Result<String, String> {
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
pub fn txt(raw: &str) -> Result<String, String> {
    let strings = if raw.starts_with('"') {
        let strings = parse_character_strings(raw)?;
        if let Some(long) = strings.iter().find(|s| s.len() > MAX_STRING) {
            return Err(format!(
                "a quoted TXT string is {} bytes long; each may hold at most {MAX_STRING}: split it or leave the text unquoted",
                long.len()
            ));
        }
        strings
    } else {
        let bytes = raw.as_bytes();
        if bytes.is_empty() {
            vec![Vec::new()]
        } else {
            bytes.chunks(MAX_STRING).map(<[u8]>::to_vec).collect()
        }
    };
    Ok(strings
        .iter()
        .map(|string| quote(string))
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_on_blanks_outside_quotes_and_decode_escapes() {
        let tokens = tokens(r#" 10 "a b" c\032d "\"\\\065" "" "#).unwrap();
        let fields: Vec<(&[u8], bool)> = tokens
            .iter()
            .map(|t| (t.bytes.as_slice(), t.quoted))
            .collect();
        assert_eq!(
            fields,
            [
                (&b"10"[..], false),
                (b"a b", true),
                (b"c d", false),
                (b"\"\\A", true),
                (b"", true),
            ]
        );
        assert_eq!(tokens[2].raw, r"c\032d");
        assert!(tokens[2].plain().is_err());
        assert_eq!(tokens[0].plain(), Ok("10"));
    }

    #[test]
    fn malformed_strings_say_what_is_wrong() {
        assert!(tokens(r#""open"#).unwrap_err().contains("unclosed"));
        assert!(tokens(r"end\").unwrap_err().contains("lone backslash"));
        assert!(tokens(r#""\300""#).unwrap_err().contains("above 255"));
        assert!(tokens(r#"a"b"#).unwrap_err().contains("inside unquoted"));
    }

    #[test]
    fn quoting_escapes_what_powerdns_escapes() {
        assert_eq!(quote(b"a \"b\" \\ \x01\xff"), r#""a \"b\" \\ \001\255""#);
    }
}
