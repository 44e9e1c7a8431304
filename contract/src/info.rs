//! What a provider is and what it manages: the answer to `describe`.

use serde::Serialize;
use serde_json::Value;

/// What a provider is and what it manages; the answer to `describe`.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    /// The provider's name, such as `powerdns`.
    pub name: String,
    /// The provider's version (semantic versioning).
    pub version: String,
    /// One line saying what the provider talks to.
    pub description: String,
    /// The object kinds it manages.
    pub resource_types: Vec<ResourceType>,
    /// A JSON Schema of the operator's `config` table.
    pub config_schema: Value,
}

impl ProviderInfo {
    /// The resource type called `name`.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|t| t.name == name)
    }
}

/// One kind of object a provider manages.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceType {
    /// The name used in resource files: `[[PROVIDER.NAME]]`.
    pub name: String,
    /// One line saying what the type is.
    pub description: String,
    /// A JSON Schema of the spec. Its top-level properties marked
    /// `"writeOnly": true` are what only the client keeps, which `list`
    /// never shows: the host leaves them out when it checks whether an
    /// object is as the last apply left it.
    pub schema: Value,
    /// The spec fields that together identify an object. A field may be a
    /// `/`-separated path into nested tables (`metadata/name`); a field
    /// ending in `?` is optional and left out of the id when absent.
    pub identity: Vec<String>,
    /// Fields whose change replaces the object.
    pub force_replace: Vec<String>,
    /// Fields holding secrets: never shown in plans, logs or the audit
    /// trail, and never stored by the host.
    pub sensitive: Vec<String>,
}

impl ResourceType {
    /// A type with a name, a description and the fields of its identity.
    pub fn new(name: &str, description: &str, identity: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            schema: Value::Object(Default::default()),
            identity: identity.iter().map(|field| field.to_string()).collect(),
            force_replace: Vec::new(),
            sensitive: Vec::new(),
        }
    }

    /// Sets the JSON Schema of the spec.
    pub fn schema(mut self, schema: Value) -> Self {
        self.schema = schema;
        self
    }

    /// Declares fields whose change replaces the object.
    pub fn force_replace(mut self, fields: &[&str]) -> Self {
        self.force_replace = fields.iter().map(|field| field.to_string()).collect();
        self
    }

    /// Declares fields holding secrets.
    pub fn sensitive(mut self, fields: &[&str]) -> Self {
        self.sensitive = fields.iter().map(|field| field.to_string()).collect();
        self
    }

    /// The id of the object `spec` describes: its identity fields' values
    /// joined by `/` (a number written as JSON writes it), or the first
    /// field it lacks. The host builds every resource's id this way, and a
    /// provider checks with it that an id it is handed belongs to the spec
    /// beside it.
    pub fn id_of(&self, spec: &Value) -> Result<String, MissingIdentity> {
        let mut parts = Vec::with_capacity(self.identity.len());
        for field in &self.identity {
            let (path, optional) = match field.strip_suffix('?') {
                Some(path) => (path, true),
                None => (field.as_str(), false),
            };
            let value = path.split('/').try_fold(spec, |value, key| value.get(key));
            match value {
                Some(Value::String(text)) if !text.is_empty() => parts.push(text.clone()),
                Some(Value::Number(number)) => parts.push(number.to_string()),
                None | Some(Value::Null) if optional => {}
                _ => {
                    return Err(MissingIdentity {
                        field: path.to_string(),
                    });
                }
            }
        }
        Ok(parts.join("/"))
    }
}

/// An identity field a spec lacks (or holds empty, or not as a string or a
/// number), by its `/`-separated path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingIdentity {
    /// The field's path.
    pub field: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_fields_may_be_nested_and_optional() {
        let object = ResourceType::new(
            "object",
            "",
            &["metadata/namespace?", "kind", "metadata/name"],
        );
        let namespaced =
            json!({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}});
        assert_eq!(object.id_of(&namespaced).unwrap(), "web/ConfigMap/a");
        let cluster = json!({"kind": "Namespace", "metadata": {"name": "web"}});
        assert_eq!(object.id_of(&cluster).unwrap(), "Namespace/web");
        let nameless = json!({"kind": "Namespace", "metadata": {}});
        assert_eq!(
            object.id_of(&nameless).unwrap_err(),
            MissingIdentity {
                field: "metadata/name".into()
            }
        );
    }

    #[test]
    fn numbers_count_and_empty_strings_do_not() {
        let port = ResourceType::new("port", "", &["host", "port"]);
        assert_eq!(
            port.id_of(&json!({"host": "a", "port": 80})).unwrap(),
            "a/80"
        );
        assert_eq!(
            port.id_of(&json!({"host": "", "port": 80}))
                .unwrap_err()
                .field,
            "host"
        );
        assert_eq!(
            port.id_of(&json!({"host": "a", "port": true}))
                .unwrap_err()
                .field,
            "port"
        );
    }
}
