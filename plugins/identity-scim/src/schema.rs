//! What a SCIM server says about itself (RFC 7644 §4): its features
//! (`/ServiceProviderConfig`), its endpoints (`/ResourceTypes`) and the
//! attributes it keeps (`/Schemas`).

use crate::user::Attributes;
use serde::Deserialize;
use serde_json::Value;

/// The core user schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise user extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The message of a PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The features a server supports.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// PATCH of single resources.
    pub patch: bool,
    /// `filter=` on list requests.
    pub filter: bool,
    /// The most results a filtered or listed page returns, when said.
    pub max_results: Option<u64>,
    /// ETags in `meta.version` and `If-Match`.
    pub etag: bool,
    /// `/Bulk` (learnt and reported; changes are sent one by one).
    pub bulk: bool,
}

/// `/ServiceProviderConfig`: each feature is `{ "supported": bool, … }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceProviderConfig {
    #[serde(default)]
    patch: Option<Supported>,
    #[serde(default)]
    filter: Option<Supported>,
    #[serde(default)]
    etag: Option<Supported>,
    #[serde(default)]
    bulk: Option<Supported>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Supported {
    #[serde(default)]
    supported: bool,
    #[serde(default)]
    max_results: Option<u64>,
}

impl Features {
    /// Reads a `/ServiceProviderConfig` document.
    pub fn from_config(document: &Value) -> Self {
        let config: ServiceProviderConfig = match serde_json::from_value(document.clone()) {
            Ok(config) => config,
            Err(_) => return Self::default(),
        };
        let on = |feature: &Option<Supported>| feature.as_ref().is_some_and(|f| f.supported);
        Self {
            patch: on(&config.patch),
            filter: on(&config.filter),
            max_results: config.filter.as_ref().and_then(|f| f.max_results),
            etag: on(&config.etag),
            bulk: on(&config.bulk),
        }
    }
}

/// One attribute of a schema, with its sub-attributes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attribute {
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    sub_attributes: Vec<Attribute>,
}

/// A schema from `/Schemas`.
#[derive(Debug, Clone, Deserialize)]
struct Schema {
    id: String,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

/// A resource type from `/ResourceTypes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeDoc {
    #[serde(default)]
    name: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    schema: String,
    #[serde(default)]
    schema_extensions: Vec<Extension>,
}

#[derive(Debug, Clone, Deserialize)]
struct Extension {
    schema: String,
}

/// The server's attributes and endpoints. When the server does not say
/// (no `/Schemas`), every RFC attribute is assumed.
#[derive(Debug, Clone)]
pub struct Catalog {
    user: Option<Vec<Attribute>>,
    group: Option<Vec<Attribute>>,
    enterprise_attributes: Option<Vec<Attribute>>,
    enterprise: bool,
    /// The users endpoint, such as `/Users`.
    pub users_endpoint: String,
    /// The groups endpoint, such as `/Groups`.
    pub groups_endpoint: String,
}

impl Default for Catalog {
    fn default() -> Self {
        Self {
            user: None,
            group: None,
            enterprise_attributes: None,
            enterprise: true,
            users_endpoint: "/Users".into(),
            groups_endpoint: "/Groups".into(),
        }
    }
}

/// The resources of a list answer, or the answer itself when a server
/// returns a bare array.
fn resources(document: &Value) -> Vec<Value> {
    match document {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

impl Catalog {
    /// Builds the catalog from `/ResourceTypes` and `/Schemas` answers;
    /// either may be missing.
    pub fn from_documents(resource_types: Option<&Value>, schemas: Option<&Value>) -> Self {
        let mut catalog = Self::default();
        if let Some(document) = resource_types {
            let types: Vec<ResourceTypeDoc> = resources(document)
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect();
            for kind in &types {
                let endpoint = endpoint_path(&kind.endpoint);
                if kind.schema == USER || kind.name == "User" {
                    catalog.users_endpoint = endpoint;
                    catalog.enterprise = kind
                        .schema_extensions
                        .iter()
                        .any(|extension| extension.schema == ENTERPRISE_USER);
                } else if kind.schema == GROUP || kind.name == "Group" {
                    catalog.groups_endpoint = endpoint;
                }
            }
        }
        if let Some(document) = schemas {
            let schemas: Vec<Schema> = resources(document)
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect();
            for schema in schemas {
                match schema.id.as_str() {
                    USER => catalog.user = Some(schema.attributes),
                    GROUP => catalog.group = Some(schema.attributes),
                    ENTERPRISE_USER => catalog.enterprise_attributes = Some(schema.attributes),
                    _ => {}
                }
            }
        }
        catalog
    }

    /// Whether the group schema has `path` (`members.$ref`).
    pub fn group_has(&self, path: &str) -> bool {
        has(self.group.as_deref(), path)
    }
}

/// An endpoint relative to the base URL. RFC 7643 §6 makes it relative
/// (`/Users`); some servers (Canaille) give an absolute URL, whose last
/// segment is the endpoint.
fn endpoint_path(endpoint: &str) -> String {
    let relative = match endpoint.split_once("://") {
        Some((_, rest)) => rest.rsplit('/').next().unwrap_or_default(),
        None => endpoint,
    };
    format!("/{}", relative.trim_start_matches('/'))
}

/// The attribute at `path`, when the schema is known and has it.
fn find<'a>(attributes: Option<&'a [Attribute]>, path: &str) -> Option<&'a Attribute> {
    let mut attributes = attributes?;
    let mut found = None;
    for part in path.split('.') {
        let attribute = attributes
            .iter()
            .find(|attribute| attribute.name.eq_ignore_ascii_case(part))?;
        attributes = &attribute.sub_attributes;
        found = Some(attribute);
    }
    found
}

/// Whether `attributes` has `path` (`emails.primary`); names are
/// case-insensitive (RFC 7643 §2.1). Unknown schemas have everything.
fn has(attributes: Option<&[Attribute]>, path: &str) -> bool {
    let Some(mut attributes) = attributes else {
        return true;
    };
    for part in path.split('.') {
        match attributes
            .iter()
            .find(|attribute| attribute.name.eq_ignore_ascii_case(part))
        {
            Some(attribute) => attributes = &attribute.sub_attributes,
            None => return false,
        }
    }
    true
}

impl Attributes for Catalog {
    fn user_has(&self, path: &str) -> bool {
        has(self.user.as_deref(), path)
    }

    fn enterprise(&self) -> bool {
        self.enterprise
    }

    fn enterprise_has(&self, attribute: &str) -> bool {
        has(self.enterprise_attributes.as_deref(), attribute)
    }

    fn user_requires(&self, path: &str) -> bool {
        find(self.user.as_deref(), path).is_some_and(|attribute| attribute.required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_come_from_the_service_provider_config() {
        let features = Features::from_config(&json!({
            "patch": {"supported": true},
            "filter": {"supported": true, "maxResults": 50},
            "etag": {"supported": false},
            "bulk": {"supported": false, "maxOperations": 0}
        }));
        assert!(features.patch && features.filter && !features.etag && !features.bulk);
        assert_eq!(features.max_results, Some(50));
    }

    #[test]
    fn attributes_and_endpoints_come_from_schemas_and_resource_types() {
        let catalog = Catalog::from_documents(
            Some(&json!({"Resources": [
                {"name": "User", "endpoint": "/Users", "schema": USER, "schemaExtensions": []},
                {"name": "Group", "endpoint": "http://idp/scim/v2/Groups", "schema": GROUP}
            ]})),
            Some(&json!({"Resources": [
                {"id": USER, "attributes": [
                    {"name": "userName"},
                    {"name": "emails", "subAttributes": [{"name": "value"}, {"name": "type"}]},
                    {"name": "name", "required": true, "subAttributes": [{"name": "familyName", "required": true}]}
                ]}
            ]})),
        );
        assert!(catalog.user_has("emails.type"));
        assert!(catalog.user_has("Emails.Value"));
        assert!(!catalog.user_has("emails.primary"));
        assert!(!catalog.user_has("title"));
        assert!(!catalog.enterprise());
        assert!(catalog.user_requires("name.familyName"));
        assert!(!catalog.user_requires("emails.type"));
        assert_eq!(catalog.groups_endpoint, "/Groups");
        // No group schema was given: everything is assumed.
        assert!(catalog.group_has("members.$ref"));
    }
}
