//! The secrets a provider instance receives with `configure`.

use crate::Error;
use std::fmt;

/// The secrets the operator referenced for a provider instance, by name.
/// Their values never show in `Debug` output.
#[derive(Clone, Default)]
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Wraps name/value pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of the secret `name`, if the operator gave one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of the secret `name`, or an
    /// [`ErrorKind::Invalid`](crate::ErrorKind::Invalid) error telling the
    /// operator to reference it.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| {
            Error::invalid(format!(
                "the secret `{name}` is missing: add `secrets = {{ {name} = {{ env = \"VAR\" }} }}` to this provider in cairn.toml"
            ))
        })
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_out_of_debug_output() {
        let secrets = Secrets::new(vec![("token".into(), "hunter2".into())]);
        assert_eq!(secrets.get("token"), Some("hunter2"));
        let shown = format!("{secrets:?}");
        assert!(
            shown.contains("token") && !shown.contains("hunter2"),
            "{shown}"
        );
        let missing = secrets.require("api_key").unwrap_err();
        assert!(missing.message.contains("secrets = { api_key"), "{missing}");
    }
}
