//! LOC (RFC 1876): `D [M [S]] N|S D [M [S]] E|W ALT[m] [SIZE[m] [HP[m]
//! [VP[m]]]]`, in the form PowerDNS prints:
//! `52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m` — every
//! field given, seconds to the thousandth, metres to the centimetre. What
//! PowerDNS cannot store exactly is refused rather than rounded: a value
//! finer than the wire format, a size that is not a digit times a power of
//! ten, and the ranges where PowerDNS 4.7 wraps around.

use super::number;

/// Thousandths of an arc second in a degree: the wire format's unit.
const MS_PER_DEGREE: u64 = 3_600_000;

/// The lowest altitude, in centimetres: the wire format counts from
/// 100,000 m below the reference spheroid (RFC 1876 §2).
const MIN_ALTITUDE_CM: i64 = -10_000_000;

/// The highest altitude PowerDNS 4.7 prints back as it was written, in
/// centimetres: it reads the stored value as signed 32 bits, so anything
/// above 2^31 - 1 - 10,000,000 cm comes back negative (RFC 1876 allows up
/// to 42,849,672.95 m).
const MAX_ALTITUDE_CM: i64 = (1 << 31) - 1 - 10_000_000;

/// The largest size or precision PowerDNS 4.7 stores, in centimetres: it
/// computes them in 32 bits, so 5e9 cm and above wrap around (RFC 1876
/// allows up to 9e9 cm, 90,000,000 m).
const MAX_SIZE_CM: u64 = 4_000_000_000;

/// The sizes and precisions a record gives when it leaves them out, in
/// centimetres (RFC 1876 §3): 1 m, 10,000 m and 10 m.
const DEFAULT_SIZES_CM: [u64; 3] = [100, 1_000_000, 1_000];

/// The form of a LOC record, for messages.
const SHAPE: &str = "D [M [S]] N|S D [M [S]] E|W ALTITUDE[m] [SIZE[m] [HP[m] [VP[m]]]]";

/// The canonical LOC content.
pub fn loc(raw: &str) -> Result<String, String> {
    let mut parts = raw.split_whitespace().peekable();
    let latitude = angle(&mut parts, raw, ["N", "S"], 90)?;
    let longitude = angle(&mut parts, raw, ["E", "W"], 180)?;
    let altitude = parts
        .next()
        .ok_or_else(|| format!("`{raw}` has no altitude; write it in the form `{SHAPE}`"))?;
    let altitude = centimetres(altitude, "altitude", true)?;
    if !(MIN_ALTITUDE_CM..=MAX_ALTITUDE_CM).contains(&altitude) {
        return Err(format!(
            "the altitude {} is out of range: PowerDNS stores {} to {}",
            metres(altitude),
            metres(MIN_ALTITUDE_CM),
            metres(MAX_ALTITUDE_CM)
        ));
    }
    let mut sizes = DEFAULT_SIZES_CM;
    for (size, what) in sizes
        .iter_mut()
        .zip(["size", "horizontal precision", "vertical precision"])
    {
        if let Some(part) = parts.next() {
            *size = size_cm(part, what)?;
        }
    }
    if let Some(extra) = parts.next() {
        return Err(format!(
            "`{raw}` has `{extra}` after the vertical precision; write it in the form `{SHAPE}`"
        ));
    }
    let [size, horizontal, vertical] = sizes.map(|cm| metres(cm as i64));
    Ok(format!(
        "{latitude} {longitude} {} {size} {horizontal} {vertical}",
        metres(altitude)
    ))
}

/// Reads `D [M [S]] H` and prints it `D M S.sss H`. PowerDNS prints the
/// equator and the prime meridian as S and W.
fn angle<'a>(
    parts: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    raw: &str,
    hemispheres: [&str; 2],
    max_degrees: u64,
) -> Result<String, String> {
    let [positive, negative] = hemispheres;
    let mut fields = Vec::new();
    let hemisphere = loop {
        let part = parts
            .next()
            .ok_or_else(|| format!("`{raw}` should have the form `{SHAPE}`"))?;
        if part.eq_ignore_ascii_case(positive) {
            break positive;
        }
        if part.eq_ignore_ascii_case(negative) {
            break negative;
        }
        if fields.len() == 3 {
            return Err(format!(
                "`{raw}` has `{part}` where {positive} or {negative} should be; write it in the form `{SHAPE}`"
            ));
        }
        fields.push(part);
    };
    let (degrees, minutes, seconds) = match fields.as_slice() {
        [degrees] => (*degrees, "0", "0"),
        [degrees, minutes] => (*degrees, *minutes, "0"),
        [degrees, minutes, seconds] => (*degrees, *minutes, *seconds),
        _ => {
            return Err(format!(
                "`{raw}` has no degrees before {hemisphere}; write it in the form `{SHAPE}`"
            ));
        }
    };
    let degrees = u64::from(number::<u8>(degrees, "degrees")?);
    let minutes = u64::from(number::<u8>(minutes, "minutes")?);
    let seconds_ms = thousandths(seconds)?;
    if minutes > 59 || seconds_ms > 59_999 {
        return Err(format!(
            "`{raw}` has minutes or seconds of 60 or more: they are 0 to 59, and 0 to 59.999"
        ));
    }
    let total = degrees * MS_PER_DEGREE + minutes * 60_000 + seconds_ms;
    if total > max_degrees * MS_PER_DEGREE {
        return Err(format!(
            "`{raw}` goes beyond {max_degrees} degrees {positive} or {negative}"
        ));
    }
    let hemisphere = if total == 0 { negative } else { hemisphere };
    Ok(format!(
        "{} {} {}.{:03} {hemisphere}",
        total / MS_PER_DEGREE,
        total / 60_000 % 60,
        total / 1000 % 60,
        total % 1000
    ))
}

/// Seconds, to the thousandth (the wire format's unit), as thousandths.
fn thousandths(raw: &str) -> Result<u64, String> {
    let value = decimal(raw, 3, "seconds", false)?;
    Ok(value.unsigned_abs())
}

/// A length in metres, `m` optional, to the centimetre, as centimetres.
fn centimetres(raw: &str, what: &str, signed: bool) -> Result<i64, String> {
    let number = raw
        .strip_suffix('m')
        .or_else(|| raw.strip_suffix('M'))
        .unwrap_or(raw);
    decimal(number, 2, what, signed)
}

/// A size or precision: a digit times a power of ten centimetres, as the
/// wire format stores it (RFC 1876 §2).
fn size_cm(raw: &str, what: &str) -> Result<u64, String> {
    let cm = centimetres(raw, what, false)?.unsigned_abs();
    if cm > MAX_SIZE_CM {
        return Err(format!(
            "the {what} {raw} is too large: PowerDNS stores at most {}",
            metres(MAX_SIZE_CM as i64)
        ));
    }
    if cm == 0 {
        return Ok(0);
    }
    let power = 10u64.pow(cm.ilog10());
    let digit = cm / power;
    if digit * power != cm {
        return Err(format!(
            "the {what} {raw} cannot be stored: a LOC size or precision is one digit times a power of ten (RFC 1876); use {} or {}",
            metres((digit * power) as i64),
            metres(((digit + 1) * power) as i64)
        ));
    }
    Ok(cm)
}

/// A decimal number with at most `places` digits after the point, scaled
/// to an integer (`1.5` with 2 places is 150).
fn decimal(raw: &str, places: u32, what: &str, signed: bool) -> Result<i64, String> {
    let invalid = || format!("the {what} `{raw}` is not a valid number");
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        _ => (false, raw),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (unsigned.contains('.') && fraction.is_empty())
    {
        return Err(invalid());
    }
    if fraction.len() > places as usize {
        return Err(format!(
            "the {what} `{raw}` is finer than LOC stores: at most {places} digits after the point"
        ));
    }
    let scale = 10i64.pow(places);
    let whole: i64 = whole
        .parse()
        .ok()
        .filter(|whole: &i64| *whole <= i64::MAX / scale / 10)
        .ok_or_else(|| format!("the {what} `{raw}` is out of range"))?;
    let fraction: i64 = format!("{fraction:0<width$}", width = places as usize)
        .parse()
        .map_err(|_| invalid())?;
    let value = whole * scale + fraction;
    Ok(if negative { -value } else { value })
}

/// Centimetres as PowerDNS prints metres: `-2.00m`.
fn metres(cm: i64) -> String {
    let sign = if cm < 0 { "-" } else { "" };
    let cm = cm.unsigned_abs();
    format!("{sign}{}.{:02}m", cm / 100, cm % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_given_in_powerdns_form() {
        assert_eq!(
            loc("52 22 23 N 4 53 32 E -2m").unwrap(),
            "52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m"
        );
        assert_eq!(
            loc("52 n 4 e 10").unwrap(),
            "52 0 0.000 N 4 0 0.000 E 10.00m 1.00m 10000.00m 10.00m"
        );
        assert_eq!(
            loc("31 58 52.1 S 115 49 11.7 E 20m 10m 1000m 2m").unwrap(),
            "31 58 52.100 S 115 49 11.700 E 20.00m 10.00m 1000.00m 2.00m"
        );
        assert_eq!(
            loc("42 21 43.952 N 71 5 6.344 W -24m 0.5m 0.01m 0m").unwrap(),
            "42 21 43.952 N 71 5 6.344 W -24.00m 0.50m 0.01m 0.00m"
        );
    }

    #[test]
    fn the_equator_and_the_prime_meridian_print_as_south_and_west() {
        assert_eq!(
            loc("0 0 0 N 0 0 0 E 0m").unwrap(),
            "0 0 0.000 S 0 0 0.000 W 0.00m 1.00m 10000.00m 10.00m"
        );
        assert_eq!(
            loc("0 0 0.001 N 0 0 0.001 E 0m").unwrap(),
            "0 0 0.001 N 0 0 0.001 E 0.00m 1.00m 10000.00m 10.00m"
        );
    }

    #[test]
    fn canonical_forms_are_read_back_unchanged() {
        for form in [
            "90 0 0.000 S 180 0 0.000 W -100000.00m 40000000.00m 0.00m 9000000.00m",
            "0 0 0.000 S 0 0 0.000 W 21374836.47m 1.00m 10000.00m 10.00m",
            "51 30 12.748 N 0 7 39.611 W 0.00m 0.00m 0.00m 0.00m",
        ] {
            assert_eq!(loc(form).unwrap(), form);
        }
    }

    #[test]
    fn what_powerdns_cannot_store_exactly_is_refused() {
        let error = loc("52 N 4 E 10m 15m").unwrap_err();
        assert!(error.contains("use 10.00m or 20.00m"), "{error}");
        let error = loc("52 N 4 E 10m 50000000m").unwrap_err();
        assert!(error.contains("at most 40000000.00m"), "{error}");
        let error = loc("52 N 4 E 21374836.48m").unwrap_err();
        assert!(error.contains("out of range"), "{error}");
        let error = loc("52 N 4 E -100000.01m").unwrap_err();
        assert!(error.contains("out of range"), "{error}");
        let error = loc("52 N 4 E 1.234m").unwrap_err();
        assert!(error.contains("finer than LOC stores"), "{error}");
        let error = loc("52 22 23.0005 N 4 E 1m").unwrap_err();
        assert!(error.contains("finer than LOC stores"), "{error}");
    }

    #[test]
    fn malformed_positions_say_what_is_wrong() {
        assert!(
            loc("91 N 4 E 1m")
                .unwrap_err()
                .contains("beyond 90 degrees")
        );
        assert!(
            loc("90 0 1 N 4 E 1m")
                .unwrap_err()
                .contains("beyond 90 degrees")
        );
        assert!(
            loc("1 N 181 E 1m")
                .unwrap_err()
                .contains("beyond 180 degrees")
        );
        assert!(loc("1 60 N 4 E 1m").unwrap_err().contains("60 or more"));
        assert!(loc("1 0 60 N 4 E 1m").unwrap_err().contains("60 or more"));
        assert!(loc("1 N 4 E").unwrap_err().contains("no altitude"));
        assert!(
            loc("1 2 3 4 N 4 E 1m")
                .unwrap_err()
                .contains("where N or S")
        );
        assert!(loc("N 4 E 1m").unwrap_err().contains("no degrees"));
        assert!(
            loc("1.5 N 4 E 1m")
                .unwrap_err()
                .contains("not a valid number")
        );
        assert!(
            loc("1 N 4 E 1m 1m 1m 1m 1m")
                .unwrap_err()
                .contains("after the vertical")
        );
        assert!(
            loc("1 N 4 E -1x")
                .unwrap_err()
                .contains("not a valid number")
        );
    }
}
