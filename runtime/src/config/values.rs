//! The values `cairn.toml` writes as text: sizes, durations and names.

use super::MIN_INTERVAL;
use std::time::Duration;

/// A size could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    /// It does not start with a number.
    #[error("\"{text}\" is not a size: write it like \"64MiB\"")]
    NotANumber {
        /// The text.
        text: String,
    },
    /// Its unit is unknown.
    #[error("unknown size unit `{unit}` in \"{text}\": use B, KiB, MiB or GiB")]
    UnknownUnit {
        /// The text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// It does not fit in 64 bits.
    #[error("\"{text}\" is too large")]
    TooLarge {
        /// The text.
        text: String,
    },
}

/// A duration could not be read, or is too short.
#[derive(Debug, thiserror::Error)]
pub enum DurationError {
    /// It is not a duration.
    #[error("\"{text}\": {source} (write it like \"1m\" or \"30s\")")]
    Unreadable {
        /// The text.
        text: String,
        /// The parser's complaint.
        #[source]
        source: humantime::DurationError,
    },
    /// It is shorter than the shortest accepted.
    #[error("\"{text}\" is shorter than {minimum:?}")]
    TooShort {
        /// The text.
        text: String,
        /// The shortest accepted.
        minimum: Duration,
    },
}

/// Parses sizes such as `64MiB`, `512KiB`, `1GiB` or a plain byte count.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| SizeError::NotANumber {
        text: text.to_string(),
    })?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(SizeError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| SizeError::TooLarge {
            text: text.to_string(),
        })
}

/// Parses an interval of at least [`MIN_INTERVAL`]; `default` when absent.
pub(super) fn parse_interval(
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, DurationError> {
    let Some(text) = text else {
        return Ok(default);
    };
    let duration = humantime::parse_duration(text).map_err(|source| DurationError::Unreadable {
        text: text.to_string(),
        source,
    })?;
    if duration < MIN_INTERVAL {
        return Err(DurationError::TooShort {
            text: text.to_string(),
            minimum: MIN_INTERVAL,
        });
    }
    Ok(duration)
}

/// Whether `name` may be a name: names appear in addresses
/// (`NAME/TYPE/ID`) and in URLs.
pub(super) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .to_string()
                .contains("unknown size unit")
        );
    }
}
