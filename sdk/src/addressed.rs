//! Refuses what the host hands a provider for an object that is not the one
//! it names: a type the provider does not have, or an id that the identity
//! fields of the spec beside it do not give.
//!
//! The host builds every id from the identity fields of the canonical spec
//! ([`ResourceType::id_of`]). A provider that addresses the server by the
//! id (a URL path made of it) while it writes the spec's fields would act
//! on one object and report another; one that addresses it by the spec
//! would act on an object the host did not ask about. Either way an input
//! whose id and spec disagree (a saved plan edited by hand, a host bug) is
//! refused with `invalid` before the provider sees it.

use crate::{Error, ProviderInfo, ResourceType};
use serde_json::Value;

/// The type `type_name` of `info`, or why there is none.
fn known<'a>(info: &'a ProviderInfo, type_name: &str) -> Result<&'a ResourceType, Error> {
    info.resource_type(type_name).ok_or_else(|| {
        let names: Vec<&str> = info
            .resource_types
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        Error::invalid(format!(
            "`{}` has no resource type `{type_name}` (it has {})",
            info.name,
            names.join(", ")
        ))
    })
}

/// Why the object `type_name`/`id`, with its desired spec and observed
/// state, is not one `info` manages under that id; `None` when it is.
///
/// The id is checked against the desired spec, or without one (a delete)
/// against the observed state. An observed state without its identity
/// fields is not held against the id: the host never builds one from it.
pub(crate) fn refusal(
    info: &ProviderInfo,
    type_name: &str,
    id: &str,
    desired: Option<&Value>,
    observed: Option<&Value>,
) -> Option<Error> {
    let resource_type = match known(info, type_name) {
        Ok(resource_type) => resource_type,
        Err(error) => return Some(error),
    };
    let (built, from) = match (desired, observed) {
        (Some(desired), _) => match resource_type.id_of(desired) {
            Ok(built) => (built, "desired spec"),
            Err(missing) => {
                return Some(Error::invalid(format!(
                    "the desired spec of {type_name} `{id}` has no `{}`, which identifies it",
                    missing.field
                )));
            }
        },
        (None, Some(observed)) => match resource_type.id_of(observed) {
            Ok(built) => (built, "observed state"),
            Err(_) => return None,
        },
        (None, None) => return None,
    };
    (built != id).then(|| {
        Error::invalid(format!(
            "the id `{id}` is not the {type_name} its {from} describes, whose identity fields give `{built}`: \
             refusing to act on an object other than the one named"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use serde_json::json;

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "kv".into(),
            version: "1.0.0".into(),
            description: String::new(),
            resource_types: vec![ResourceType::new("entry", "", &["bucket", "key"])],
            config_schema: json!({}),
        }
    }

    #[test]
    fn an_id_its_spec_gives_is_accepted() {
        let spec = json!({"bucket": "b", "key": "k"});
        assert!(refusal(&info(), "entry", "b/k", Some(&spec), None).is_none());
        assert!(refusal(&info(), "entry", "b/k", None, Some(&spec)).is_none());
        assert!(refusal(&info(), "entry", "b/k", None, None).is_none());
    }

    #[test]
    fn an_id_of_another_object_is_refused_as_invalid() {
        let spec = json!({"bucket": "b", "key": "k"});
        let error = refusal(&info(), "entry", "b/other", Some(&spec), None).unwrap();
        assert_eq!(error.kind, ErrorKind::Invalid);
        assert!(error.message.contains("`b/other`"), "{}", error.message);
        assert!(error.message.contains("give `b/k`"), "{}", error.message);
        let observed = refusal(&info(), "entry", "b/other", None, Some(&spec)).unwrap();
        assert!(
            observed.message.contains("observed state"),
            "{}",
            observed.message
        );
    }

    #[test]
    fn a_desired_spec_without_its_identity_is_refused() {
        let error = refusal(&info(), "entry", "b/k", Some(&json!({"bucket": "b"})), None).unwrap();
        assert!(error.message.contains("no `key`"), "{}", error.message);
    }

    #[test]
    fn an_observed_state_without_its_identity_is_not_held_against_the_id() {
        let state = json!({"value": "v"});
        assert!(refusal(&info(), "entry", "b/k", None, Some(&state)).is_none());
    }

    #[test]
    fn an_unknown_type_is_refused_with_the_types_there_are() {
        let error = refusal(&info(), "bucket", "b", None, None).unwrap();
        assert_eq!(error.kind, ErrorKind::Invalid);
        assert_eq!(
            error.message,
            "`kv` has no resource type `bucket` (it has entry)"
        );
    }
}
