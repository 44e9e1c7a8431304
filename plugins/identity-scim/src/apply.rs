//! Making changes: users first (so that groups can name them), then
//! groups, then group deletions, then user removals.
//!
//! Creates are idempotent: when the server already has the object (409),
//! it is looked up and, if its `externalId` says Cairn made it, brought to
//! the desired state; otherwise the change fails with a conflict. Updates
//! use PATCH when the server supports it and PUT otherwise, with
//! `If-Match` when it supports ETags.

use crate::client::{Discovery, Scim};
use crate::compare::{self, with_client_fields};
use crate::group::{self, Group, ScimGroup, UNKNOWN_MEMBER_PREFIX};
use crate::schema::PATCH_OP;
use crate::user::{self, REMOVAL_DELETE, ScimUser, User};
use cairn_sdk::http::Method;
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::spec::{required_state, to_json};
use cairn_sdk::{Action, Change, Error, ErrorKind, Outcome, Secrets};
use std::collections::HashMap;

/// Member names resolved one filter request each, up to this many; beyond
/// it one paged listing of every user is cheaper.
const FILTER_LOOKUP_LIMIT: usize = 20;

/// One `apply` call.
pub struct Apply<'a> {
    scim: &'a Scim,
    secrets: &'a Secrets,
    owner: &'a str,
    discovery: &'a Discovery,
    /// Whether changes go by PATCH (the server supports it and the
    /// operator did not turn it off) or by PUT.
    patch: bool,
    /// userName → server id, filled as users are created or looked up.
    user_ids: HashMap<String, String>,
    /// A member's value on the server → userName.
    member_names: HashMap<String, String>,
}

impl<'a> Apply<'a> {
    /// Prepares an apply; asks the server what it supports. `allow_patch`
    /// false sends every change by PUT.
    pub fn new(
        scim: &'a Scim,
        secrets: &'a Secrets,
        owner: &'a str,
        allow_patch: bool,
    ) -> Result<Self, Error> {
        let discovery = scim.discovery()?;
        Ok(Self {
            scim,
            secrets,
            owner,
            discovery,
            patch: allow_patch && discovery.features.patch,
            user_ids: HashMap::new(),
            member_names: HashMap::new(),
        })
    }

    /// The `externalId` of Cairn's object: its owner tag and address.
    fn external_id(&self, type_name: &str, id: &str) -> String {
        format!("{}/{type_name}/{id}", self.owner)
    }

    /// Applies every change, one outcome each, in order.
    pub fn run(mut self, changes: &[Change]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; changes.len()];
        // Users that stay, then groups that stay, then groups that go,
        // then users that go: a group never names a user not yet there.
        let stages: [(&str, bool); 4] = [
            ("user", false),
            ("group", false),
            ("group", true),
            ("user", true),
        ];
        for (type_name, removals) in stages {
            for (index, change) in changes.iter().enumerate() {
                if change.type_name != type_name || (change.action == Action::Delete) != removals {
                    continue;
                }
                let result = match type_name {
                    "user" => self.user(change),
                    _ => self.group(change),
                };
                outcomes[index] = Some(match result {
                    Ok(state) => Outcome::Applied(state),
                    Err(error) => {
                        Outcome::Failed(error.context(format!("{type_name} {}", change.id)))
                    }
                });
            }
        }
        outcomes
            .into_iter()
            .zip(changes)
            .map(|(outcome, change)| {
                outcome.unwrap_or_else(|| {
                    Outcome::Failed(Error::invalid(format!(
                        "unknown resource type `{}`",
                        change.type_name
                    )))
                })
            })
            .collect()
    }

    fn users_endpoint(&self) -> &str {
        &self.discovery.catalog.users_endpoint
    }

    fn groups_endpoint(&self) -> &str {
        &self.discovery.catalog.groups_endpoint
    }

    /// The resource a write answered with, or a fresh read when the answer
    /// had no body (204).
    fn resource(&self, response: cairn_sdk::http::Response, path: &str) -> Result<Value, Error> {
        if response.body.is_empty() {
            return self.scim.call(Method::GET, path, None, None)?.json();
        }
        response.json()
    }

    fn if_match<'s>(&self, etag: &'s Option<String>) -> Option<&'s str> {
        etag.as_deref().filter(|_| self.discovery.features.etag)
    }

    // ---- users -------------------------------------------------------

    fn user(&mut self, change: &Change) -> Result<Option<Value>, Error> {
        match change.action {
            Action::NoOp => Ok(change.observed.clone()),
            Action::Create => {
                let desired: User = required_state(&change.desired)?;
                self.create_user(&desired, &change.id).map(Some)
            }
            Action::Update | Action::Replace => {
                let desired: User = required_state(&change.desired)?;
                let observed: User = required_state(&change.observed)?;
                let send_password = change.fields.iter().any(|field| field.path == "password");
                let mut fields: Vec<String> = change
                    .fields
                    .iter()
                    .map(|field| field.path.split('/').next().unwrap_or_default().to_string())
                    .filter(|field| !user::CLIENT_FIELDS.contains(&field.as_str()))
                    .collect();
                fields.dedup();
                self.update_user(&desired, &observed, &fields, send_password)
                    .map(Some)
            }
            Action::Delete => {
                let observed: User = required_state(&change.observed)?;
                self.remove_user(&observed).map(|()| None)
            }
        }
    }

    fn password(&self, desired: &User) -> Result<Option<String>, Error> {
        desired
            .password
            .as_ref()
            .map(|reference| {
                self.secrets.get(&reference.secret).map(String::from).ok_or_else(|| {
                    Error::invalid(format!(
                        "the password names the secret `{}`, which this provider instance does not have: add it to `secrets` in cairn.toml",
                        reference.secret
                    ))
                })
            })
            .transpose()
    }

    fn canonical_user(&mut self, resource: Value, desired: &User) -> Result<Value, Error> {
        let scim: ScimUser = serde_json::from_value(resource)
            .map_err(|error| Error::internal(format!("the server's user is not SCIM: {error}")))?;
        self.remember(&scim);
        let observed = scim.canonical();
        Ok(to_json(&with_client_fields(&observed, desired)))
    }

    /// Refuses a user the server's schema would refuse for a missing
    /// required name part, with what to write instead.
    /// (The plan finds the same first; this holds for a saved plan applied
    /// after the server's schema changed.)
    fn check_required(&self, user: &User) -> Result<(), Error> {
        match user::missing_name_parts(user, &self.discovery.catalog).first() {
            Some((attribute, field)) => Err(Error::invalid(format!(
                "the SCIM server requires {attribute}: write `name = {{ {field} = \"…\" }}` for this user"
            ))),
            None => Ok(()),
        }
    }

    fn create_user(&mut self, desired: &User, id: &str) -> Result<Value, Error> {
        let (server, _) = user::supported(desired, &self.discovery.catalog);
        self.check_required(&server)?;
        let external_id = self.external_id("user", id);
        let password = self.password(desired)?;
        let body = user::to_scim(
            &server,
            &external_id,
            password.as_deref(),
            &self.discovery.catalog,
        );
        let endpoint = self.users_endpoint().to_string();
        let response = self.scim.send(Method::POST, &endpoint, Some(&body), None)?;
        // Already there: ours from an interrupted apply, or someone else's.
        // Some servers (Canaille 0.3) answer a duplicate with a 500 rather
        // than a 409: a failed create of a name the server has is one too.
        let existing = match response.status {
            409 => Some(self.find_user(&desired.user_name)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Conflict,
                    "the server says the user exists but cannot find it",
                )
            })?),
            500.. => self.find_user(&desired.user_name)?,
            _ => None,
        };
        if let Some(existing) = existing {
            if existing.external_id.as_deref() != Some(external_id.as_str()) {
                return Err(not_ours(
                    "user",
                    &desired.user_name,
                    existing.external_id.as_deref(),
                ));
            }
            let fields = compare::differing_fields(&existing, &server);
            return self.update_user(desired, &existing, &fields, password.is_some());
        }
        let response = response.error_for_status(&format!("POST {endpoint}"))?;
        let resource = response.json()?;
        self.canonical_user(resource, desired)
    }

    /// Keeps how the server names a user.
    fn remember(&mut self, scim: &ScimUser) {
        let name = scim.user_name.to_lowercase();
        for value in scim.member_values() {
            self.member_names.insert(value, name.clone());
        }
        self.user_ids.insert(name, scim.id.clone());
    }

    /// A user by userName, by filter when the server has it.
    fn find_user(&mut self, user_name: &str) -> Result<Option<User>, Error> {
        let endpoint = self.users_endpoint().to_string();
        let candidates = if self.discovery.features.filter {
            self.scim.find(&endpoint, "userName", user_name)?
        } else {
            self.scim.list_all(&endpoint)?
        };
        let mut found = None;
        for item in candidates {
            let Ok(scim) = serde_json::from_value::<ScimUser>(item) else {
                continue;
            };
            self.remember(&scim);
            if scim.user_name.eq_ignore_ascii_case(user_name) {
                found = Some(scim.canonical());
            }
        }
        Ok(found)
    }

    /// Brings the user's `fields` (canonical names, as the diff found
    /// them) to the desired values, and sends the password when asked.
    /// Attributes Git does not manage are left as they are: PATCH touches
    /// only the changed ones, and PUT sends the server's own representation
    /// with them replaced.
    fn update_user(
        &mut self,
        desired: &User,
        observed: &User,
        fields: &[String],
        send_password: bool,
    ) -> Result<Value, Error> {
        let (server, _) = user::supported(desired, &self.discovery.catalog);
        self.check_required(&server)?;
        let scim_id = observed
            .scim_id
            .clone()
            .ok_or_else(|| Error::internal("the observed user has no server id"))?;
        let path = format!("{}/{scim_id}", self.users_endpoint());
        let password = if send_password {
            self.password(desired)?
        } else {
            None
        };
        let external_id = observed
            .external_id
            .clone()
            .unwrap_or_else(|| self.external_id("user", &desired.user_name));
        let wanted = user::to_scim(&server, &external_id, None, &self.discovery.catalog);
        let mut changed: Vec<(String, Option<Value>)> = fields
            .iter()
            .filter_map(|field| user::scim_attribute(field))
            .map(|attribute| (attribute.to_string(), wanted.get(attribute).cloned()))
            .collect();
        changed.dedup();
        if let Some(password) = &password {
            changed.push(("password".into(), Some(json!(password))));
        }
        if changed.is_empty() {
            // Only Cairn's own fields moved: nothing to send.
            return Ok(to_json(&with_client_fields(observed, desired)));
        }
        let if_match = self.if_match(&observed.etag);
        let response = if self.patch {
            let operations: Vec<Value> = changed
                .iter()
                .map(|(attribute, value)| match value {
                    Some(value) => json!({"op": "replace", "path": attribute, "value": value}),
                    None => json!({"op": "remove", "path": attribute}),
                })
                .collect();
            let body = json!({"schemas": [PATCH_OP], "Operations": operations});
            self.write(Method::PATCH, &path, &body, if_match)?
        } else {
            let mut body: Value = self.scim.call(Method::GET, &path, None, None)?.json()?;
            let object = body
                .as_object_mut()
                .ok_or_else(|| Error::internal(format!("GET {path} did not answer an object")))?;
            object.remove("meta");
            for (attribute, value) in changed {
                match value {
                    Some(value) => object.insert(attribute, value),
                    None => object.remove(&attribute),
                };
            }
            // The server's schemas, plus the extension when it is written.
            let mut schemas: Vec<Value> = object
                .get("schemas")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for schema in wanted["schemas"].as_array().into_iter().flatten() {
                if !schemas.contains(schema) {
                    schemas.push(schema.clone());
                }
            }
            object.insert("schemas".into(), Value::Array(schemas));
            self.write(Method::PUT, &path, &body, if_match)?
        };
        let resource = self.resource(response, &path)?;
        self.canonical_user(resource, desired)
    }

    fn remove_user(&mut self, observed: &User) -> Result<(), Error> {
        let Some(scim_id) = &observed.scim_id else {
            return Ok(());
        };
        let path = format!("{}/{scim_id}", self.users_endpoint());
        let if_match = self.if_match(&observed.etag);
        if observed.removal.as_deref() == Some(REMOVAL_DELETE) {
            return self.delete(&path, if_match);
        }
        if !observed.active {
            return Ok(());
        }
        let external_id = observed.external_id.clone().unwrap_or_default();
        let response = if self.patch {
            let body = json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "active", "value": false}
            ]});
            self.write(Method::PATCH, &path, &body, if_match)
        } else {
            let inactive = User {
                active: false,
                ..observed.clone()
            };
            let body = user::to_scim(&inactive, &external_id, None, &self.discovery.catalog);
            self.write(Method::PUT, &path, &body, if_match)
        };
        match response {
            Err(error) if error.kind == ErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// A PATCH or PUT; a 412 means someone changed the object since it was
    /// observed.
    fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<cairn_sdk::http::Response, Error> {
        let response = self.scim.send(method, path, Some(body), if_match)?;
        if response.status == 412 {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{method} {path}: the object changed on the server since it was observed (ETag mismatch); the next plan sees its new state"
                ),
            ));
        }
        response.error_for_status(&format!("{method} {path}"))
    }

    fn delete(&self, path: &str, if_match: Option<&str>) -> Result<(), Error> {
        let response = self.scim.send(Method::DELETE, path, None, if_match)?;
        if response.status == 404 {
            return Ok(());
        }
        if response.status == 412 {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "DELETE {path}: the object changed on the server since it was observed (ETag mismatch)"
                ),
            ));
        }
        response
            .error_for_status(&format!("DELETE {path}"))
            .map(|_| ())
    }

    // ---- groups ------------------------------------------------------

    fn group(&mut self, change: &Change) -> Result<Option<Value>, Error> {
        match change.action {
            Action::NoOp => Ok(change.observed.clone()),
            Action::Create => {
                let desired: Group = required_state(&change.desired)?;
                self.create_group(&desired, &change.id).map(Some)
            }
            Action::Update | Action::Replace => {
                let desired: Group = required_state(&change.desired)?;
                let observed: Group = required_state(&change.observed)?;
                self.update_group(&desired, &observed).map(Some)
            }
            Action::Delete => {
                let observed: Group = required_state(&change.observed)?;
                match &observed.scim_id {
                    Some(scim_id) => {
                        let path = format!("{}/{scim_id}", self.groups_endpoint());
                        self.delete(&path, self.if_match(&observed.etag))
                            .map(|()| None)
                    }
                    None => Ok(None),
                }
            }
        }
    }

    /// The server ids of `names`: by filter for a few, by one listing for
    /// many. A name no user has is an error that says what to do.
    fn resolve(&mut self, names: &[String]) -> Result<Vec<String>, Error> {
        let missing: Vec<&String> = names
            .iter()
            .filter(|name| {
                !name.starts_with(UNKNOWN_MEMBER_PREFIX) && !self.user_ids.contains_key(*name)
            })
            .collect();
        if !missing.is_empty() {
            let endpoint = self.users_endpoint().to_string();
            if self.discovery.features.filter && missing.len() <= FILTER_LOOKUP_LIMIT {
                let missing: Vec<String> = missing.into_iter().cloned().collect();
                for name in missing {
                    if let Some(found) = self.find_user(&name)?
                        && let Some(id) = found.scim_id
                    {
                        self.user_ids.insert(name, id);
                    }
                }
            } else {
                for item in self.scim.list_all(&endpoint)? {
                    if let Ok(user) = serde_json::from_value::<ScimUser>(item) {
                        self.remember(&user);
                    }
                }
            }
        }
        names
            .iter()
            .map(|name| match name.strip_prefix(UNKNOWN_MEMBER_PREFIX) {
                Some(id) => Ok(id.to_string()),
                None => self.user_ids.get(name).cloned().ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("the member `{name}` is no user on the server: declare it as a `user` resource (and list it in this group's depends_on), or remove it from members"),
                    )
                }),
            })
            .collect()
    }

    /// Members as the server takes them: `value`, and `$ref` where its
    /// schema has one (Canaille requires it).
    fn member_values(&self, ids: &[String]) -> Vec<Value> {
        let with_ref = self.discovery.catalog.group_has("members.$ref");
        ids.iter()
            .map(|id| {
                if with_ref {
                    let url = self.scim.url(&format!("{}/{id}", self.users_endpoint()));
                    json!({"value": id, "$ref": url})
                } else {
                    json!({"value": id})
                }
            })
            .collect()
    }

    fn canonical_group(&self, resource: Value) -> Result<Value, Error> {
        let scim: ScimGroup = serde_json::from_value(resource)
            .map_err(|error| Error::internal(format!("the server's group is not SCIM: {error}")))?;
        Ok(to_json(&scim.canonical(&self.member_names)))
    }

    fn create_group(&mut self, desired: &Group, id: &str) -> Result<Value, Error> {
        let ids = self.resolve(&desired.members)?;
        let external_id = self.external_id("group", id);
        let body = group::to_scim(desired, &external_id, &self.member_values(&ids));
        let endpoint = self.groups_endpoint().to_string();
        let response = self.scim.send(Method::POST, &endpoint, Some(&body), None)?;
        // As for users: a 500 for a name the server has is a duplicate.
        let existing = match response.status {
            409 => Some(self.find_group(&desired.display_name)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Conflict,
                    "the server says the group exists but cannot find it",
                )
            })?),
            500.. => self.find_group(&desired.display_name)?,
            _ => None,
        };
        if let Some(existing) = existing {
            if existing.external_id.as_deref() != Some(external_id.as_str()) {
                return Err(not_ours(
                    "group",
                    &desired.display_name,
                    existing.external_id.as_deref(),
                ));
            }
            return self.update_group(desired, &existing);
        }
        let response = response.error_for_status(&format!("POST {endpoint}"))?;
        self.canonical_group(response.json()?)
    }

    fn find_group(&mut self, display_name: &str) -> Result<Option<Group>, Error> {
        let endpoint = self.groups_endpoint().to_string();
        let candidates = if self.discovery.features.filter {
            self.scim.find(&endpoint, "displayName", display_name)?
        } else {
            self.scim.list_all(&endpoint)?
        };
        let names: HashMap<String, String> = HashMap::new();
        Ok(candidates
            .into_iter()
            .filter_map(|item| serde_json::from_value::<ScimGroup>(item).ok())
            .map(|group| group.canonical(&names))
            .find(|group| group.display_name == display_name))
    }

    fn update_group(&mut self, desired: &Group, observed: &Group) -> Result<Value, Error> {
        let scim_id = observed
            .scim_id
            .clone()
            .ok_or_else(|| Error::internal("the observed group has no server id"))?;
        let path = format!("{}/{scim_id}", self.groups_endpoint());
        // Every member is resolved, so that the recorded state names them
        // all.
        let ids = self.resolve(&desired.members)?;
        let if_match = self.if_match(&observed.etag);
        let response = if self.patch {
            // Membership is authoritative: one `replace` of the whole set
            // (RFC 7644 §3.5.2.3), whatever the server calls its members.
            let operations = vec![
                json!({"op": "replace", "path": "members", "value": self.member_values(&ids)}),
            ];
            let body = json!({"schemas": [PATCH_OP], "Operations": operations});
            self.write(Method::PATCH, &path, &body, if_match)?
        } else {
            let external_id = observed
                .external_id
                .clone()
                .unwrap_or_else(|| self.external_id("group", &desired.display_name));
            let body = group::to_scim(desired, &external_id, &self.member_values(&ids));
            self.write(Method::PUT, &path, &body, if_match)?
        };
        let resource = self.resource(response, &path)?;
        self.canonical_group(resource)
    }
}

fn not_ours(kind: &str, name: &str, external_id: Option<&str>) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "a {kind} named `{name}` exists and Cairn did not create it (externalId {}): set `adopt = true` on the resource to take it over, or rename it",
            external_id.map_or("unset".to_string(), |id| format!("`{id}`"))
        ),
    )
}
