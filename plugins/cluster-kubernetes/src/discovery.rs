//! API discovery: which kinds the server serves, where, and whether they
//! live in namespaces. Group versions are fetched as they are needed and
//! kept for the rest of the call.

use crate::api::Api;
use crate::object::ObjectRef;
use cairn_sdk::Error;
use cairn_sdk::serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// One kind the server serves.
#[derive(Debug, Clone)]
pub struct Kind {
    /// `v1` or `GROUP/VERSION`.
    pub api_version: String,
    /// `ConfigMap`.
    pub kind: String,
    /// The resource's plural name in paths: `configmaps`.
    pub plural: String,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// Whether it can be listed.
    pub listable: bool,
}

impl Kind {
    /// The path of the collection in `namespace` (or cluster-wide).
    pub fn collection(&self, namespace: Option<&str>) -> String {
        let root = if self.api_version.contains('/') {
            format!("/apis/{}", self.api_version)
        } else {
            format!("/api/{}", self.api_version)
        };
        match namespace {
            Some(namespace) if self.namespaced => {
                format!("{root}/namespaces/{namespace}/{}", self.plural)
            }
            _ => format!("{root}/{}", self.plural),
        }
    }

    /// The path of one object.
    pub fn object_path(&self, object: &ObjectRef) -> String {
        format!(
            "{}/{}",
            self.collection(object.namespace.as_deref()),
            object.name
        )
    }

    /// Whether `object`'s namespace fits this kind's scope; otherwise what
    /// to do.
    pub fn check_scope(&self, object: &ObjectRef) -> Result<(), Error> {
        match (&object.namespace, self.namespaced) {
            (None, true) => Err(Error::invalid(format!(
                "{} is a namespaced kind: set metadata.namespace on {}",
                self.kind,
                object.id()
            ))),
            (Some(namespace), false) => Err(Error::invalid(format!(
                "{} is cluster-scoped: remove metadata.namespace ({namespace}) from {}",
                self.kind,
                object.id()
            ))),
            _ => Ok(()),
        }
    }
}

/// What the server serves, learnt lazily.
pub struct Discovery<'a> {
    api: &'a Api,
    /// The API groups' preferred versions, in the server's order; `None`
    /// until first needed.
    groups: RefCell<Option<Vec<String>>>,
    /// Group version → its kinds (`None`: the server does not serve it),
    /// shared rather than copied for each object resolved.
    versions: RefCell<HashMap<String, Option<Rc<[Kind]>>>>,
}

impl<'a> Discovery<'a> {
    /// Discovery through `api`.
    pub fn new(api: &'a Api) -> Self {
        Self {
            api,
            groups: RefCell::new(None),
            versions: RefCell::new(HashMap::new()),
        }
    }

    /// The kinds of one group version.
    fn kinds_of(&self, api_version: &str) -> Result<Option<Rc<[Kind]>>, Error> {
        if let Some(known) = self.versions.borrow().get(api_version) {
            return Ok(known.clone());
        }
        let path = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        let kinds = self
            .api
            .get(&path)?
            .map(|list| Rc::from(parse_resources(api_version, &list)));
        self.versions
            .borrow_mut()
            .insert(api_version.to_string(), kinds.clone());
        Ok(kinds)
    }

    /// The preferred version of every group, core first.
    fn preferred_versions(&self) -> Result<Vec<String>, Error> {
        if let Some(groups) = self.groups.borrow().as_ref() {
            return Ok(groups.clone());
        }
        let mut versions = vec!["v1".to_string()];
        if let Some(groups) = self.api.get("/apis")? {
            versions.extend(
                groups
                    .get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|group| group.pointer("/preferredVersion/groupVersion"))
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
        }
        *self.groups.borrow_mut() = Some(versions.clone());
        Ok(versions)
    }

    /// The kind `kind` of `api_version`, `None` when not served.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Result<Option<Kind>, Error> {
        Ok(self
            .kinds_of(api_version)?
            .and_then(|kinds| kinds.iter().find(|k| k.kind == kind).cloned()))
    }

    /// The kind `kind` in the first group that serves it (core first,
    /// then the server's order of preferred versions), for an id that
    /// names only the kind.
    pub fn resolve_kind(&self, kind: &str) -> Result<Option<Kind>, Error> {
        for api_version in self.preferred_versions()? {
            if let Some(found) = self.resolve(&api_version, kind)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every listable kind of every group's preferred version.
    pub fn listable(&self) -> Result<Vec<Kind>, Error> {
        let mut all = Vec::new();
        for api_version in self.preferred_versions()? {
            all.extend(
                self.kinds_of(&api_version)?
                    .iter()
                    .flat_map(|kinds| kinds.iter())
                    .filter(|kind| kind.listable)
                    .cloned(),
            );
        }
        Ok(all)
    }

    /// Forgets what is known of `api_version` and the groups, after a CRD
    /// changed what the server serves.
    pub fn forget(&self, api_version: &str) {
        self.versions.borrow_mut().remove(api_version);
        *self.groups.borrow_mut() = None;
    }
}

/// The kinds of an `APIResourceList`, subresources left out.
fn parse_resources(api_version: &str, list: &Value) -> Vec<Kind> {
    list.get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|resource| {
            let plural = resource.get("name")?.as_str()?;
            if plural.contains('/') {
                return None;
            }
            let verbs: Vec<&str> = resource
                .get("verbs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            Some(Kind {
                api_version: api_version.to_string(),
                kind: resource.get("kind")?.as_str()?.to_string(),
                plural: plural.to_string(),
                namespaced: resource.get("namespaced")?.as_bool()?,
                listable: verbs.contains(&"list"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    #[test]
    fn paths_follow_group_and_scope() {
        let resources = parse_resources(
            "apps/v1",
            &json!({"resources": [
                {"name": "deployments", "kind": "Deployment", "namespaced": true, "verbs": ["get", "list"]},
                {"name": "deployments/scale", "kind": "Scale", "namespaced": true, "verbs": ["get"]}
            ]}),
        );
        assert_eq!(resources.len(), 1);
        let object = ObjectRef::parse("web/Deployment/api").unwrap();
        assert_eq!(
            resources[0].object_path(&object),
            "/apis/apps/v1/namespaces/web/deployments/api"
        );
        let namespaces = Kind {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            namespaced: false,
            listable: true,
        };
        let web = ObjectRef::parse("Namespace/web").unwrap();
        assert_eq!(namespaces.object_path(&web), "/api/v1/namespaces/web");
        assert!(namespaces.check_scope(&object).is_err());
    }
}
