//! The mark an `object`'s recorded state carries of the body its apply
//! sent, so that `diff` knows without a dry run that an object is exactly
//! as applying the same body left it.
//!
//! A server-side apply of a body to an object that applying that very
//! body produced changes nothing: that is what applying declares. So when
//! the state the last apply returned (the host hands it over as `prior`)
//! carries the mark of the body the declared object makes now, and the
//! object observed is that state, the answer is "no change" and the dry
//! run is not sent. The convergence check after an apply is that case for
//! every object the apply made (the dry runs it made were a third of
//! applying 500 objects); anything else — Git moved, a hand edit, a
//! controller's write, another body for any reason — is dry-run as
//! before.

use crate::object;
use cairn_sdk::serde_json::Value;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The state's field holding the mark. Not Kubernetes': it is never
/// observed, and the type's schema marks it `writeOnly`, so the host
/// leaves it out when it checks that an object is as the last apply left
/// it.
pub const FIELD: &str = "cairnApplied";

/// The prefix of a mark.
const PREFIX: &str = "hmac-sha256:";

/// The mark of applying `body`: its text's HMAC-SHA256 keyed with `key`
/// (the cluster's token). Keyed, because a Secret's body carries its
/// values, which an unkeyed digest in the inventory would let anyone who
/// reads it test guesses against.
pub fn mark(body: &Value, key: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body.to_string().as_bytes());
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// `state`, the kept form of what applying `body` returned, with the mark
/// of `body`.
pub fn marked(mut state: Value, body: &Value, key: &[u8]) -> Value {
    if let Some(fields) = state.as_object_mut() {
        fields.insert(FIELD.to_string(), Value::String(mark(body, key)));
    }
    state
}

/// Whether `observed` is exactly as applying `body` left it: `prior` (the
/// state the last apply returned) carries `body`'s mark, and `observed`
/// is `prior` without it.
pub fn as_applied(body: &Value, observed: &Value, prior: &Value, key: &[u8]) -> bool {
    let (Some(observed), Some(prior)) = (observed.as_object(), prior.as_object()) else {
        return false;
    };
    if prior.get(FIELD).and_then(Value::as_str) != Some(mark(body, key).as_str()) {
        return false;
    }
    observed.len() + 1 == prior.len()
        && observed
            .iter()
            .all(|(name, value)| name != FIELD && prior.get(name) == Some(value))
}

/// The body `desired` (the declared object of the resource at `address`)
/// is applied as, when it can be made.
pub fn body_of(desired: &Value, config: &crate::config::Config, address: &str) -> Option<Value> {
    object::to_apply(desired, config, address).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    const KEY: &[u8] = b"token";

    fn body() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "1"}})
    }

    fn returned() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "n"}, "data": {"a": "1"}})
    }

    #[test]
    fn an_object_read_back_as_the_apply_of_the_same_body_left_it_is_as_applied() {
        let prior = marked(returned(), &body(), KEY);
        assert!(prior[FIELD].as_str().unwrap().starts_with(PREFIX));
        assert!(as_applied(&body(), &returned(), &prior, KEY));
    }

    #[test]
    fn another_body_a_changed_object_or_another_key_is_not() {
        let prior = marked(returned(), &body(), KEY);
        let mut other_body = body();
        other_body["data"]["a"] = json!("2");
        assert!(!as_applied(&other_body, &returned(), &prior, KEY));

        let mut edited = returned();
        edited["data"]["a"] = json!("by hand");
        assert!(!as_applied(&body(), &edited, &prior, KEY));
        let mut added = returned();
        added["data"]["b"] = json!("by hand");
        assert!(!as_applied(&body(), &added, &prior, KEY));
        let mut labelled = returned();
        labelled["spec"] = json!({});
        assert!(!as_applied(&body(), &labelled, &prior, KEY));

        assert!(!as_applied(&body(), &returned(), &prior, b"another token"));
        assert!(!as_applied(&body(), &returned(), &returned(), KEY));
    }

    #[test]
    fn the_mark_does_not_show_the_body() {
        let secret = json!({"kind": "Secret", "data": {"password": "aHVudGVyMg=="}});
        let mark = mark(&secret, KEY);
        assert!(!mark.contains("aHVudGVyMg"));
        assert_eq!(mark.len(), PREFIX.len() + 64);
    }
}
