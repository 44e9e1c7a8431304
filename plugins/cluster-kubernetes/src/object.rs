//! One Kubernetes object as Git declares it: checks, canonical form, id,
//! and the body sent to the server (ownership marks added, Secret values
//! filled in from the operator's secrets).

use crate::config::Config;
use base64::Engine;
use cairn_sdk::serde_json::{Map, Value};
use cairn_sdk::{Diagnostic, Error};

/// The label every object Cairn applies carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "cairn";
/// The annotation naming the tenant.
pub const TENANT_ANNOTATION: &str = "cairn.dev/tenant";
/// The annotation naming the Cairn address of the resource that declares
/// the object.
pub const ADDRESS_ANNOTATION: &str = "cairn.dev/address";

/// Metadata the server sets; Git may not.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "selfLink",
];

/// Built-in kinds that live in a namespace, so that one written without
/// `metadata.namespace` is caught before anything is sent. Kinds not
/// listed (custom ones) are checked against discovery when planned.
const NAMESPACED_KINDS: &[&str] = &[
    "ConfigMap",
    "Secret",
    "Service",
    "ServiceAccount",
    "Endpoints",
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "PersistentVolumeClaim",
    "LimitRange",
    "ResourceQuota",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ControllerRevision",
    "Job",
    "CronJob",
    "Role",
    "RoleBinding",
    "Ingress",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Lease",
    "Event",
];

/// Built-in cluster-scoped kinds.
const CLUSTER_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PodSecurityPolicy",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
];

/// Which object: namespace (for namespaced kinds), kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// The namespace, `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// The kind.
    pub kind: String,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// `NAMESPACE/KIND/NAME` or `KIND/NAME`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}/{}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Parses an id.
    pub fn parse(id: &str) -> Option<Self> {
        let parts: Vec<&str> = id.split('/').collect();
        let (namespace, kind, name) = match parts.as_slice() {
            [namespace, kind, name] => (Some(namespace.to_string()), *kind, *name),
            [kind, name] => (None, *kind, *name),
            _ => return None,
        };
        Some(Self {
            namespace,
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }

    /// The reference of an object (declared or live).
    pub fn of(object: &Value) -> Option<Self> {
        Some(Self {
            namespace: object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|namespace| !namespace.is_empty())
                .map(str::to_string),
            kind: object.get("kind")?.as_str()?.to_string(),
            name: object.pointer("/metadata/name")?.as_str()?.to_string(),
        })
    }
}

/// The apiVersion of an object.
pub fn api_version(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether `object` is a core Secret, whose values are secret.
pub fn is_secret(object: &Value) -> bool {
    api_version(object) == "v1" && object.get("kind").and_then(Value::as_str) == Some("Secret")
}

/// Checks an object declared at `at` (a diagnostic path prefix, empty for
/// an `object` resource) and returns its canonical form: the object as
/// written, with a Secret's `stringData` folded into `data` and the
/// defaults the API server's bugs require filled in ([`crate::defaults`]).
pub fn validate(object: &Value, at: &str) -> Result<Value, Vec<Diagnostic>> {
    let path = |field: &str| {
        if at.is_empty() {
            field.to_string()
        } else {
            format!("{at}/{field}")
        }
    };
    let Some(table) = object.as_object() else {
        return Err(vec![Diagnostic::error(
            at,
            "a Kubernetes object must be a table (a YAML mapping)",
        )]);
    };
    let mut problems = Vec::new();
    for field in ["apiVersion", "kind"] {
        match table.get(field) {
            Some(Value::String(text)) if !text.is_empty() => {}
            _ => problems.push(
                Diagnostic::error(path(field), format!("`{field}` must be set"))
                    .with_help("every object names its apiVersion and kind, as in `kubectl apply`"),
            ),
        }
    }
    let metadata = table.get("metadata").and_then(Value::as_object);
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
    match name {
        Some(name) if valid_name(name) => {}
        Some(name) => problems.push(
            Diagnostic::error(
                path("metadata/name"),
                format!("`{name}` is not a valid object name"),
            )
            .with_help("names are lower-case letters, digits, `-` and `.`, at most 253 characters"),
        ),
        None => problems.push(
            Diagnostic::error(path("metadata/name"), "`metadata.name` must be set")
                .with_help("generateName is not supported: Git names every object"),
        ),
    }
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    if let Some(namespace) = namespace
        && !valid_name(namespace)
    {
        problems.push(Diagnostic::error(
            path("metadata/namespace"),
            format!("`{namespace}` is not a valid namespace name"),
        ));
    }
    let kind = table
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if namespace.is_none() && NAMESPACED_KINDS.contains(&kind) {
        problems.push(
            Diagnostic::error(path("metadata"), format!("a {kind} lives in a namespace"))
                .with_help("set metadata.namespace: Cairn does not guess a default namespace"),
        );
    }
    if namespace.is_some() && CLUSTER_KINDS.contains(&kind) {
        problems.push(
            Diagnostic::error(
                path("metadata/namespace"),
                format!("a {kind} is cluster-scoped"),
            )
            .with_help("remove metadata.namespace"),
        );
    }
    if table.contains_key("status") {
        problems.push(
            Diagnostic::error(
                path("status"),
                "`status` is written by the cluster, not by Git",
            )
            .with_help("remove it"),
        );
    }
    if let Some(metadata) = metadata {
        for field in SERVER_METADATA {
            if metadata.contains_key(*field) {
                problems.push(
                    Diagnostic::error(
                        path(&format!("metadata/{field}")),
                        format!("`metadata.{field}` is set by the server"),
                    )
                    .with_help("remove it (it comes with objects exported from a cluster)"),
                );
            }
        }
        if let Some(value) = metadata
            .get("labels")
            .and_then(|labels| labels.get(MANAGED_BY_LABEL))
            && value != MANAGED_BY
        {
            problems.push(
                Diagnostic::error(
                    path("metadata/labels"),
                    format!(
                        "the label {MANAGED_BY_LABEL} is Cairn's own and must be `{MANAGED_BY}`"
                    ),
                )
                .with_help("remove it; Cairn adds it to every object"),
            );
        }
        if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
            for key in annotations
                .keys()
                .filter(|key| key.starts_with("cairn.dev/"))
            {
                problems.push(
                    Diagnostic::error(
                        path("metadata/annotations"),
                        format!("the annotation {key} is reserved for Cairn"),
                    )
                    .with_help("remove it; Cairn adds its annotations itself"),
                );
            }
        }
    }
    let mut canonical = object.clone();
    crate::defaults::fill(&mut canonical);
    if is_secret(object) {
        match secret_values(table, &path) {
            Ok(data) => {
                let fields = canonical.as_object_mut().expect("checked to be a table");
                fields.remove("stringData");
                if data.is_empty() {
                    fields.remove("data");
                } else {
                    fields.insert("data".into(), Value::Object(data));
                }
            }
            Err(mut errors) => problems.append(&mut errors),
        }
    }
    if problems.is_empty() {
        Ok(canonical)
    } else {
        Err(problems)
    }
}

/// A Secret's `data` and `stringData`, every value a reference
/// `{ secret = "NAME" }`: values never go in Git.
fn secret_values(
    table: &Map<String, Value>,
    path: &dyn Fn(&str) -> String,
) -> Result<Map<String, Value>, Vec<Diagnostic>> {
    let mut data = Map::new();
    let mut problems = Vec::new();
    for field in ["data", "stringData"] {
        let Some(values) = table.get(field) else {
            continue;
        };
        let Some(values) = values.as_object() else {
            problems.push(Diagnostic::error(
                path(field),
                format!("`{field}` must be a table"),
            ));
            continue;
        };
        for (key, value) in values {
            let reference = value
                .as_object()
                .filter(|reference| reference.len() == 1)
                .and_then(|reference| reference.get("secret"))
                .and_then(Value::as_str);
            match reference {
                Some(name) if !name.is_empty() => {
                    data.insert(key.clone(), Value::Object(Map::from_iter([(
                        "secret".to_string(),
                        Value::String(name.to_string()),
                    )])));
                }
                _ => problems.push(
                    Diagnostic::error(
                        path(&format!("{field}/{key}")),
                        "a Secret's values never go in Git",
                    )
                    .with_help(format!(
                        "write `{key} = {{ secret = \"NAME\" }}` and give NAME in this provider's `secrets` in cairn.toml"
                    )),
                ),
            }
        }
    }
    if problems.is_empty() {
        Ok(data)
    } else {
        Err(problems)
    }
}

/// Whether `name` is a valid DNS subdomain name, as Kubernetes names are.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The body to apply for a canonical object declared by the resource at
/// `address`: Cairn's label and annotations added, a Secret's references
/// replaced by the operator's values (base64, as `data` wants).
pub fn to_apply(canonical: &Value, config: &Config, address: &str) -> Result<Value, Error> {
    let mut body = canonical.clone();
    let metadata = body
        .as_object_mut()
        .ok_or_else(|| Error::invalid("an object must be a table"))?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let metadata = metadata
        .as_object_mut()
        .ok_or_else(|| Error::invalid("metadata must be a table"))?;
    insert(metadata, "labels", MANAGED_BY_LABEL, MANAGED_BY);
    insert(metadata, "annotations", TENANT_ANNOTATION, &config.tenant);
    insert(metadata, "annotations", ADDRESS_ANNOTATION, address);
    if is_secret(canonical)
        && let Some(Value::Object(data)) = body.get_mut("data")
    {
        for (key, value) in data.iter_mut() {
            let name = value
                .get("secret")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let secret = config.secrets.get(&name).ok_or_else(|| {
                Error::invalid(format!(
                    "the Secret's key `{key}` names the secret `{name}`, which this provider's `secrets` in cairn.toml do not have"
                ))
            })?;
            *value = Value::String(base64::engine::general_purpose::STANDARD.encode(secret));
        }
    }
    Ok(body)
}

fn insert(metadata: &mut Map<String, Value>, table: &str, key: &str, value: &str) {
    if let Some(entries) = metadata
        .entry(table)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
    {
        entries.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Whether a live object carries Cairn's label and this tenant's and
/// address's annotations: only such objects are ever deleted.
pub fn is_owned(live: &Value, config: &Config, address: &str) -> bool {
    let label = live
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(MANAGED_BY_LABEL))
        .and_then(Value::as_str);
    let annotation = |key: &str| {
        live.pointer("/metadata/annotations")
            .and_then(|annotations| annotations.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    label == Some(MANAGED_BY)
        && annotation(TENANT_ANNOTATION).as_deref() == Some(config.tenant.as_str())
        && annotation(ADDRESS_ANNOTATION).as_deref() == Some(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    #[test]
    fn ids_name_namespace_kind_and_name() {
        let object = json!({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}});
        let reference = ObjectRef::of(&object).unwrap();
        assert_eq!(reference.id(), "web/ConfigMap/a");
        assert_eq!(ObjectRef::parse("web/ConfigMap/a").unwrap(), reference);
        assert_eq!(ObjectRef::parse("Namespace/web").unwrap().namespace, None);
        assert!(ObjectRef::parse("a/b/c/d").is_none());
    }

    #[test]
    fn secrets_take_references_only_and_fold_string_data() {
        let literal = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "web"}, "stringData": {"password": "hunter2"}});
        let errors = validate(&literal, "").unwrap_err();
        assert_eq!(errors[0].path, "stringData/password");
        let referenced = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "web"}, "stringData": {"password": {"secret": "db"}}});
        let canonical = validate(&referenced, "").unwrap();
        assert_eq!(canonical["data"]["password"]["secret"], "db");
        assert!(canonical.get("stringData").is_none());
    }

    #[test]
    fn server_fields_and_missing_namespaces_are_refused() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "x"}, "status": {}});
        let paths: Vec<String> = validate(&object, "files/0")
            .unwrap_err()
            .into_iter()
            .map(|d| d.path)
            .collect();
        assert!(paths.contains(&"files/0/metadata".to_string()), "{paths:?}");
        assert!(paths.contains(&"files/0/status".to_string()));
        assert!(paths.contains(&"files/0/metadata/uid".to_string()));
    }
}
