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
    /// A JSON Schema of the spec.
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
}
