//! A resource's canonical spec, kept as its canonical JSON text with the
//! text's digest. Most plans compare most resources by digest alone (Git
//! did not move them and their objects are as the last apply left them),
//! so the JSON value is built only when something reads it, each time: a
//! tenant of 10,000 records neither parses nor frees 10,000 values to find
//! that nothing changed, and the daemon keeps texts, not trees of values,
//! in its model cache.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A canonical spec: its text (keys sorted, no spaces, as
/// `Value::to_string` writes it) and that text's sha256, shared by every
/// clone.
#[derive(Clone)]
pub struct Spec(Arc<Inner>);

struct Inner {
    /// The canonical text.
    text: Box<str>,
    /// [`crate::plan::text_digest`] of `text`.
    digest: Box<str>,
}

impl Spec {
    /// The spec of `value`.
    pub fn new(value: &Value) -> Self {
        let text = value.to_string();
        let digest = crate::plan::text_digest(&text);
        Self(Arc::new(Inner {
            text: text.into(),
            digest: digest.into(),
        }))
    }

    /// The spec's value, built from its text.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0.text).expect("a spec's canonical text is JSON")
    }

    /// The sha256 of its canonical text, hex: what the inventory records of
    /// the spec last applied.
    pub fn digest(&self) -> &str {
        &self.0.digest
    }

    /// Its canonical text.
    pub fn text(&self) -> &str {
        &self.0.text
    }
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for Spec {}

/// How the model cache keeps a spec: the text and its digest, so that
/// neither a parse nor a hash is needed to read it back.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    text: std::borrow::Cow<'a, str>,
    digest: std::borrow::Cow<'a, str>,
}

impl Serialize for Spec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            text: self.text().into(),
            digest: self.digest().into(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        // Checked without building it, so that `value` cannot fail: a cache
        // that does not hold JSON is unreadable, and loaded in full.
        serde_json::from_str::<serde::de::IgnoredAny>(&stored.text)
            .map_err(|error| serde::de::Error::custom(format!("a spec is not JSON: {error}")))?;
        Ok(Self(Arc::new(Inner {
            text: stored.text.into(),
            digest: stored.digest.into(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_is_the_plans_digest_of_the_value() {
        let value = json!({"name": "www", "records": ["192.0.2.1"], "ttl": 300});
        let spec = Spec::new(&value);
        assert_eq!(spec.digest(), crate::plan::digest(&value));
        assert_eq!(spec.text(), value.to_string());
    }

    #[test]
    fn a_spec_read_back_builds_its_value_from_its_text() {
        let value = json!({"b": [1, 2], "a": {"c": null}});
        let spec = Spec::new(&value);
        let stored = serde_json::to_string(&spec).unwrap();
        let read: Spec = serde_json::from_str(&stored).unwrap();
        assert_eq!(read.value(), value);
        assert_eq!(read.digest(), spec.digest());
        assert_eq!(read, spec);
    }
}
