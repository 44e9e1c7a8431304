//! The types that carry a hash or a key in hexadecimal: SSHFP (RFC 4255),
//! TLSA (RFC 6698) and DS (RFC 4034). PowerDNS prints their numbers in
//! decimal and their hex in lower case without blanks; blanks inside the
//! hex are allowed on input (RFC 4034 §5.3, RFC 6698 §2.2) and dropped.
//! A digest of a known type must have that digest's length: PowerDNS
//! stores a wrong one and then serves a malformed answer.

use super::number;

/// A digest type and the length of its digests, in bytes.
struct DigestLength {
    /// The type's number in its record.
    number: u8,
    /// Its name, for messages.
    name: &'static str,
    /// The length of every digest of that type.
    bytes: usize,
}

/// SSHFP fingerprint types (RFC 4255 §3.1.2, RFC 6594 §3.1).
const SSHFP_TYPES: &[DigestLength] = &[
    DigestLength {
        number: 1,
        name: "SHA-1",
        bytes: 20,
    },
    DigestLength {
        number: 2,
        name: "SHA-256",
        bytes: 32,
    },
];

/// TLSA matching types (RFC 6698 §2.1.3); type 0 is the whole
/// certificate or key, of any length.
const TLSA_MATCHING_TYPES: &[DigestLength] = &[
    DigestLength {
        number: 1,
        name: "SHA-256",
        bytes: 32,
    },
    DigestLength {
        number: 2,
        name: "SHA-512",
        bytes: 64,
    },
];

/// DS digest types (RFC 4034 §5.1.3, RFC 4509, RFC 5933, RFC 6605).
const DS_DIGEST_TYPES: &[DigestLength] = &[
    DigestLength {
        number: 1,
        name: "SHA-1",
        bytes: 20,
    },
    DigestLength {
        number: 2,
        name: "SHA-256",
        bytes: 32,
    },
    DigestLength {
        number: 3,
        name: "GOST R 34.11-94",
        bytes: 32,
    },
    DigestLength {
        number: 4,
        name: "SHA-384",
        bytes: 48,
    },
];

/// The DNSSEC algorithms' mnemonics (RFC 4034 Appendix A.1 and the IANA
/// registry), which a DS may give instead of the number. PowerDNS reads
/// only numbers, so the canonical form is the number.
const DNSSEC_ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
];

/// `ALGORITHM TYPE FINGERPRINT`, such as `4 2 0123…cdef`.
pub fn sshfp(raw: &str) -> Result<String, String> {
    let ([algorithm, fingerprint_type], hex) = numbers_then_hex(raw, "ALGORITHM TYPE FINGERPRINT")?;
    let algorithm = number::<u8>(algorithm, "SSHFP algorithm")?;
    let fingerprint_type = number::<u8>(fingerprint_type, "SSHFP fingerprint type")?;
    if fingerprint_type == 0 {
        return Err(
            "the SSHFP fingerprint type 0 is reserved: use 1 (SHA-1) or 2 (SHA-256)".into(),
        );
    }
    let fingerprint = digest(
        &hex,
        ("fingerprint", "fingerprint type"),
        fingerprint_type,
        SSHFP_TYPES,
    )?;
    Ok(format!("{algorithm} {fingerprint_type} {fingerprint}"))
}

/// `USAGE SELECTOR MATCHING-TYPE DATA`, such as `3 1 1 0123…cdef`.
pub fn tlsa(raw: &str) -> Result<String, String> {
    let ([usage, selector, matching_type], hex) =
        numbers_then_hex(raw, "USAGE SELECTOR MATCHING-TYPE DATA")?;
    let usage = number::<u8>(usage, "TLSA certificate usage")?;
    let selector = number::<u8>(selector, "TLSA selector")?;
    let matching_type = number::<u8>(matching_type, "TLSA matching type")?;
    let data = digest(
        &hex,
        ("certificate association data", "matching type"),
        matching_type,
        TLSA_MATCHING_TYPES,
    )?;
    Ok(format!("{usage} {selector} {matching_type} {data}"))
}

/// `KEY-TAG ALGORITHM DIGEST-TYPE DIGEST`, such as `60485 5 1 2bb1…2118`.
pub fn ds(raw: &str) -> Result<String, String> {
    let ([key_tag, algorithm, digest_type], hex) =
        numbers_then_hex(raw, "KEY-TAG ALGORITHM DIGEST-TYPE DIGEST")?;
    let key_tag = number::<u16>(key_tag, "DS key tag")?;
    let algorithm = match DNSSEC_ALGORITHMS
        .iter()
        .find(|(mnemonic, _)| mnemonic.eq_ignore_ascii_case(algorithm))
    {
        Some((_, number)) => *number,
        None => number::<u8>(algorithm, "DS algorithm")?,
    };
    let digest_type = number::<u8>(digest_type, "DS digest type")?;
    if digest_type == 0 {
        return Err(
            "the DS digest type 0 is reserved: use 2 (SHA-256), 4 (SHA-384) or 1 (SHA-1)".into(),
        );
    }
    let digest = digest(
        &hex,
        ("digest", "digest type"),
        digest_type,
        DS_DIGEST_TYPES,
    )?;
    Ok(format!("{key_tag} {algorithm} {digest_type} {digest}"))
}

/// The `N` leading fields of `raw` and the hex fields after them (at least
/// one).
fn numbers_then_hex<'a, const N: usize>(
    raw: &'a str,
    shape: &str,
) -> Result<([&'a str; N], Vec<&'a str>), String> {
    let mut parts = raw.split_whitespace();
    let leading: Vec<&str> = parts.by_ref().take(N).collect();
    let hex: Vec<&str> = parts.collect();
    match <[&str; N]>::try_from(leading) {
        Ok(leading) if !hex.is_empty() => Ok((leading, hex)),
        _ => Err(format!("`{raw}` should have the form `{shape}`")),
    }
}

/// The hex `parts`, joined and lower-cased, checked against the length of
/// the digest type `number` when `known` lists it; `what` names the field
/// and the field that gives its type.
fn digest(
    parts: &[&str],
    (what, kind): (&str, &str),
    number: u8,
    known: &[DigestLength],
) -> Result<String, String> {
    let hex: String = parts.concat().to_ascii_lowercase();
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "the {what} `{hex}` holds `{bad}`, which is not a hexadecimal digit"
        ));
    }
    if !hex.len().is_multiple_of(2) {
        return Err(format!(
            "the {what} has {} hexadecimal digits, an odd number: each byte is two digits",
            hex.len()
        ));
    }
    if let Some(expected) = known.iter().find(|known| known.number == number)
        && hex.len() != expected.bytes * 2
    {
        return Err(format!(
            "with {kind} {number} ({}), the {what} is {} bytes, {} hexadecimal digits; this one has {}",
            expected.name,
            expected.bytes,
            expected.bytes * 2,
            hex.len()
        ));
    }
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: &str = "2BB183AF5F22588179A53B0A98631FAD1A292118";
    const SHA256: &str = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn hex_is_lower_case_without_blanks() {
        assert_eq!(
            sshfp(&format!("4  2 {} {}", &SHA256[..32], &SHA256[32..])).unwrap(),
            format!("4 2 {}", SHA256.to_ascii_lowercase())
        );
        assert_eq!(
            tlsa(&format!("3 1 1 {SHA256}")).unwrap(),
            format!("3 1 1 {}", SHA256.to_ascii_lowercase())
        );
        assert_eq!(tlsa("3 0 0 3082AB").unwrap(), "3 0 0 3082ab");
        assert_eq!(
            ds(&format!("60485 5 1 {SHA1}")).unwrap(),
            format!("60485 5 1 {}", SHA1.to_ascii_lowercase())
        );
    }

    #[test]
    fn ds_algorithms_may_be_mnemonics() {
        assert_eq!(
            ds(&format!("12345 ecdsap256sha256 2 {SHA256}")).unwrap(),
            format!("12345 13 2 {}", SHA256.to_ascii_lowercase())
        );
        assert!(
            ds(&format!("12345 NOPE 2 {SHA256}"))
                .unwrap_err()
                .contains("DS algorithm `NOPE` is not a valid number")
        );
    }

    #[test]
    fn digests_of_known_types_have_their_length() {
        let short = &SHA256[..62];
        assert_eq!(
            sshfp(&format!("4 2 {short}")).unwrap_err(),
            "with fingerprint type 2 (SHA-256), the fingerprint is 32 bytes, 64 hexadecimal digits; this one has 62"
        );
        assert!(
            tlsa(&format!("3 1 2 {SHA256}"))
                .unwrap_err()
                .contains("SHA-512")
        );
        assert!(
            ds(&format!("1 13 2 {SHA1}"))
                .unwrap_err()
                .contains("with digest type 2 (SHA-256), the digest is 32 bytes")
        );
        // Unknown types take any whole number of bytes.
        assert_eq!(sshfp("1 9 abcd").unwrap(), "1 9 abcd");
    }

    #[test]
    fn malformed_digests_and_numbers_are_named() {
        assert!(sshfp("1 1 abc").unwrap_err().contains("odd number"));
        assert!(sshfp("1 1 xyz0").unwrap_err().contains("`x`"));
        assert!(
            sshfp("1 1")
                .unwrap_err()
                .contains("ALGORITHM TYPE FINGERPRINT")
        );
        assert!(
            sshfp(&format!("1 0 {SHA1}"))
                .unwrap_err()
                .contains("reserved")
        );
        assert!(
            tlsa(&format!("256 1 1 {SHA256}"))
                .unwrap_err()
                .contains("TLSA certificate usage `256` is out of range")
        );
        assert!(
            ds(&format!("65536 13 2 {SHA256}"))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            ds(&format!("1 13 0 {SHA256}"))
                .unwrap_err()
                .contains("reserved")
        );
    }
}
