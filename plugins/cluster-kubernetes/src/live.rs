//! Live objects in the form Cairn keeps and compares: without what the
//! server owns, and without a Secret's values.

use crate::object::is_secret;
use cairn_sdk::serde_json::Value;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What the server writes into every object and Git never sets: left out
/// of states and comparisons, so they never show as changes.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];

/// The prefix of a Secret value's keyed digest.
const DIGEST_PREFIX: &str = "hmac-sha256:";

/// A live object as kept and compared: server-owned metadata and `status`
/// removed, a Secret's values replaced by digests keyed with `key` (the
/// cluster's token), so that a changed value shows as a change and the
/// value itself is never kept.
pub fn canonical(mut object: Value, key: &[u8]) -> Value {
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
        if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
            for field in SERVER_METADATA {
                metadata.remove(*field);
            }
        }
    }
    if is_secret(&object)
        && let Some(Value::Object(data)) = object.get_mut("data")
    {
        for value in data.values_mut() {
            let text = value.as_str().unwrap_or_default();
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(text.as_bytes());
            *value = Value::String(format!(
                "{DIGEST_PREFIX}{}",
                hex::encode(mac.finalize().into_bytes())
            ));
        }
    }
    object
}

/// Whether the object is being deleted (a namespace waits for its
/// contents): for Cairn it is gone.
pub fn is_terminating(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    #[test]
    fn server_fields_go_and_secret_values_become_keyed_digests() {
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "uid": "1", "resourceVersion": "9", "managedFields": []},
            "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"});
        let kept = canonical(live.clone(), b"key");
        assert!(kept["metadata"].get("uid").is_none());
        let digest = kept["data"]["password"].as_str().unwrap();
        assert!(digest.starts_with(DIGEST_PREFIX));
        assert!(!digest.contains("aHVudGVyMg"));
        assert_eq!(canonical(live.clone(), b"key"), kept);
        assert_ne!(canonical(live, b"other"), kept);
    }
}
