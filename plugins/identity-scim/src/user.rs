//! The `user` resource type: its spec as written in Git, its canonical form
//! (which is also the shape of its observed state), and its SCIM
//! representation (RFC 7643 §4.1, with the enterprise extension of §4.3).

use crate::schema::{ENTERPRISE_USER, USER};
use cairn_sdk::serde_json::{Map, Value, json};
use cairn_sdk::{Diagnostic, ResourceType, Validation, spec};
use serde::{Deserialize, Serialize};

/// The longest `userName` accepted: more than any identity provider keeps,
/// short enough to keep a filter URL small.
const MAX_USER_NAME: usize = 256;

/// A user as written in Git.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    user_name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<Name>,
    #[serde(default)]
    emails: Option<Vec<EmailSpec>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    preferred_language: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    password: Option<PasswordSpec>,
    #[serde(default)]
    password_version: Option<u64>,
    #[serde(default)]
    removal: Option<String>,
    #[serde(default)]
    enterprise: Option<Enterprise>,
}

/// An email, as a bare address or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EmailSpec {
    Address(String),
    Table(EmailTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailTable {
    value: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    primary: bool,
}

/// Where the password comes from: never the repository itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSpec {
    /// The name of an operator secret of this provider instance.
    pub secret: String,
}

/// What happens to the user when its resource leaves Git.
pub const REMOVAL_DEACTIVATE: &str = "deactivate";
/// Delete the user for good.
pub const REMOVAL_DELETE: &str = "delete";

/// The enterprise extension's attributes (RFC 7643 §4.3), without
/// `manager`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    /// `employeeNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// `costCenter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// `organization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// `division`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// `department`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

impl Enterprise {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A person's name, as written in Git and in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Name {
    /// The full name, as displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// The family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
}

/// An email in canonical form: the address lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Email {
    /// The address.
    pub value: String,
    /// `work`, `home`, `other` or the server's own kinds, lower case.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether it is the preferred address; only `true` is written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
}

/// A user in canonical form. Observed users have the same shape, plus the
/// server's id and version, which are never compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The login name, lower case (SCIM compares it case-insensitively).
    pub user_name: String,
    /// The name shown to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Email addresses, sorted: compared as a set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<Email>>,
    /// The job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The preferred language, such as `en-GB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    /// Whether the user may sign in.
    pub active: bool,
    /// Enterprise extension attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Enterprise>,
    /// Desired only: where the password comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordSpec>,
    /// Desired and recorded only: bumping it sends the password again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_version: Option<u64>,
    /// Desired and recorded only: `deactivate` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<String>,
    /// Observed only: the server's id of the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_id: Option<String>,
    /// Observed only: the server's `externalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Observed only: the version (ETag) the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The fields of a user that are Cairn's alone and never sent as such.
pub const CLIENT_FIELDS: &[&str] = &["password", "password_version", "removal"];
/// The fields of a user that only the server sets.
pub const SERVER_FIELDS: &[&str] = &["scim_id", "external_id", "etag"];

/// The SCIM attribute a canonical top-level field is written to; `None`
/// for Cairn's own and server-set fields.
pub fn scim_attribute(field: &str) -> Option<&'static str> {
    Some(match field {
        "user_name" => "userName",
        "display_name" => "displayName",
        "name" => "name",
        "emails" => "emails",
        "title" => "title",
        "preferred_language" => "preferredLanguage",
        "active" => "active",
        "enterprise" => ENTERPRISE_USER,
        _ => return None,
    })
}

/// The `user` resource type.
pub fn resource_type() -> ResourceType {
    ResourceType::new("user", "a SCIM user, identified by its userName", &["user_name"])
        .sensitive(&["password"])
        .schema(json!({
            "type": "object",
            "required": ["user_name"],
            "additionalProperties": false,
            "properties": {
                "user_name": {"type": "string", "description": "the login name; compared case-insensitively"},
                // What the server sets: the observed state carries them.
                "scim_id": {"type": "string", "readOnly": true, "description": "the server's id of the user"},
                "external_id": {"type": "string", "readOnly": true, "description": "Cairn's mark on the user it created"},
                "etag": {"type": "string", "readOnly": true, "description": "the user's version on the server"},
                "display_name": {"type": "string"},
                "name": {"type": "object", "additionalProperties": false, "properties": {
                    "formatted": {"type": "string"}, "given_name": {"type": "string"},
                    "family_name": {"type": "string"}, "middle_name": {"type": "string"}}},
                "emails": {"type": "array", "items": {"oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["value"], "additionalProperties": false, "properties": {
                        "value": {"type": "string"}, "type": {"type": "string"}, "primary": {"type": "boolean"}}}]}},
                "title": {"type": "string"},
                "preferred_language": {"type": "string"},
                "active": {"type": "boolean", "default": true},
                // What only Cairn keeps: sent or acted on, never read back.
                "password": {"type": "object", "writeOnly": true, "required": ["secret"], "properties": {"secret": {"type": "string", "description": "an operator secret of this provider instance"}}},
                "password_version": {"type": "integer", "writeOnly": true, "minimum": 0, "description": "change it to send the password again"},
                "removal": {"enum": [REMOVAL_DEACTIVATE, REMOVAL_DELETE], "writeOnly": true, "default": REMOVAL_DEACTIVATE},
                "enterprise": {"type": "object", "additionalProperties": false, "properties": {
                    "employee_number": {"type": "string"}, "cost_center": {"type": "string"},
                    "organization": {"type": "string"}, "division": {"type": "string"},
                    "department": {"type": "string"}}}
            }
        }))
}

/// Trims a text and drops it when empty.
fn text(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Validates a user spec and returns its canonical form.
pub fn validate(spec: &Value) -> Validation {
    let user: UserSpec = match spec::parse(spec) {
        Ok(user) => user,
        Err(diagnostic) => return Validation::invalid(vec![password_help(spec, diagnostic)]),
    };
    let mut errors = Vec::new();
    let user_name = user.user_name.trim().to_lowercase();
    if user_name.is_empty() {
        errors.push(Diagnostic::error("user_name", "the userName is empty"));
    } else if user_name.len() > MAX_USER_NAME {
        errors.push(Diagnostic::error(
            "user_name",
            format!("the userName is longer than {MAX_USER_NAME} bytes"),
        ));
    } else if user_name.contains(['"', '\\']) || user_name.chars().any(char::is_control) {
        errors.push(Diagnostic::error(
            "user_name",
            "the userName holds a quote, a backslash or a control character",
        ));
    }
    let emails = user.emails.map(|emails| {
        let mut emails: Vec<Email> = emails
            .into_iter()
            .enumerate()
            .filter_map(|(index, email)| {
                let (value, kind, primary) = match email {
                    EmailSpec::Address(value) => (value, None, false),
                    EmailSpec::Table(table) => (table.value, table.kind, table.primary),
                };
                let value = value.trim().to_lowercase();
                if !is_email(&value) {
                    errors.push(Diagnostic::error(
                        format!("emails/{index}"),
                        format!("`{value}` is not an email address"),
                    ));
                    return None;
                }
                Some(Email {
                    value,
                    kind: text(kind).map(|kind| kind.to_lowercase()),
                    primary,
                })
            })
            .collect();
        emails.sort();
        emails.dedup();
        emails
    });
    if emails
        .as_ref()
        .is_some_and(|emails| emails.iter().filter(|email| email.primary).count() > 1)
    {
        errors.push(
            Diagnostic::error("emails", "more than one email is primary")
                .with_help("mark at most one address `primary = true`"),
        );
    }
    if user.password_version.is_some() && user.password.is_none() {
        errors.push(
            Diagnostic::error(
                "password_version",
                "`password_version` without a `password`",
            )
            .with_help("add `password = { secret = \"NAME\" }` or remove `password_version`"),
        );
    }
    let removal = user.removal.unwrap_or_else(|| REMOVAL_DEACTIVATE.into());
    if removal != REMOVAL_DEACTIVATE && removal != REMOVAL_DELETE {
        errors.push(
            Diagnostic::error("removal", format!("unknown removal `{removal}`"))
                .with_help("use \"deactivate\" (the default) or \"delete\""),
        );
    }
    if !errors.is_empty() {
        return Validation::invalid(errors);
    }
    let name = user.name.map(|name| {
        let given_name = text(name.given_name);
        let family_name = text(name.family_name);
        let middle_name = text(name.middle_name);
        // Servers render `formatted` themselves when it is missing, each in
        // its own way; writing it keeps the comparison stable.
        let formatted = text(name.formatted).or_else(|| {
            let parts: Vec<&str> = [&given_name, &middle_name, &family_name]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        Name {
            formatted,
            given_name,
            family_name,
            middle_name,
        }
    });
    let canonical = User {
        user_name,
        display_name: text(user.display_name),
        name: name.filter(|name| *name != Name::default()),
        emails: emails.filter(|emails| !emails.is_empty()),
        title: text(user.title),
        preferred_language: text(user.preferred_language),
        active: user.active.unwrap_or(true),
        enterprise: user.enterprise.filter(|e| !e.is_empty()),
        password: user.password,
        password_version: user.password_version,
        removal: Some(removal),
        ..User::default()
    };
    Validation::valid(serde_json::to_value(canonical).expect("a user serializes"))
}

/// A plain password in Git gets advice rather than serde's type error.
fn password_help(spec: &Value, diagnostic: Diagnostic) -> Diagnostic {
    if diagnostic.path == "password" && spec.get("password").is_some_and(Value::is_string) {
        return Diagnostic::error(
            "password",
            "a password written in the repository is readable by everyone who can read it",
        )
        .with_help(
            "put it in an operator secret of this provider (`secrets = { NAME = { env = \"VAR\" } }` in cairn.toml) and write `password = { secret = \"NAME\" }`",
        );
    }
    diagnostic
}

/// A light check: something before one `@` and a dotted domain after it.
fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// What a server can store, learnt from its `/Schemas`; everything when it
/// does not say.
pub trait Attributes {
    /// Whether the user schema has `path` (`emails.primary`, `title`).
    fn user_has(&self, path: &str) -> bool;
    /// Whether the server supports the enterprise extension.
    fn enterprise(&self) -> bool;
    /// Whether the enterprise extension has `attribute` (`department`).
    fn enterprise_has(&self, attribute: &str) -> bool;
    /// Whether the server's schema marks the user attribute `path`
    /// (`name.familyName`) required; none is unless it says so.
    fn user_requires(&self, path: &str) -> bool {
        let _ = path;
        false
    }
}

/// A server taken to keep every attribute and to require none: what a
/// user read back exactly as Git wants it shows of the server, which
/// kept every attribute Git sets.
pub struct EveryAttribute;

impl Attributes for EveryAttribute {
    fn user_has(&self, _: &str) -> bool {
        true
    }
    fn enterprise(&self) -> bool {
        true
    }
    fn enterprise_has(&self, _: &str) -> bool {
        true
    }
}

/// The name parts the server requires that `user` (as the server can hold
/// it, see [`supported`]) lacks: each attribute (`name.familyName`) with
/// the spec field that sets it (`family_name`). A user without one could
/// only be refused by the server.
pub fn missing_name_parts(
    user: &User,
    attributes: &impl Attributes,
) -> Vec<(&'static str, &'static str)> {
    let name = user.name.clone().unwrap_or_default();
    [
        (name.family_name.is_some(), "name.familyName", "family_name"),
        (name.given_name.is_some(), "name.givenName", "given_name"),
    ]
    .into_iter()
    .filter(|&(present, attribute, _)| !present && attributes.user_requires(attribute))
    .map(|(_, attribute, field)| (attribute, field))
    .collect()
}

/// The user as the server can hold it: attributes it does not know are
/// dropped, so that they are neither sent nor compared.
pub fn supported(user: &User, attributes: &impl Attributes) -> (User, Vec<String>) {
    let mut dropped = Vec::new();
    let mut user = user.clone();
    let mut keep = |present: bool, path: &str| {
        if present && !attributes.user_has(path) {
            dropped.push(path.to_string());
            return false;
        }
        true
    };
    if !keep(user.display_name.is_some(), "displayName") {
        user.display_name = None;
    }
    if !keep(user.title.is_some(), "title") {
        user.title = None;
    }
    if !keep(user.preferred_language.is_some(), "preferredLanguage") {
        user.preferred_language = None;
    }
    if !keep(user.name.is_some(), "name") {
        user.name = None;
    }
    if let Some(name) = &mut user.name {
        for (field, attribute) in [
            (&mut name.formatted, "name.formatted"),
            (&mut name.given_name, "name.givenName"),
            (&mut name.family_name, "name.familyName"),
            (&mut name.middle_name, "name.middleName"),
        ] {
            if !keep(field.is_some(), attribute) {
                *field = None;
            }
        }
        if *name == Name::default() {
            user.name = None;
        }
    }
    if !keep(user.emails.is_some(), "emails") {
        user.emails = None;
    }
    if let Some(emails) = &mut user.emails {
        let has_primary = emails.iter().any(|email| email.primary);
        let has_type = emails.iter().any(|email| email.kind.is_some());
        if !keep(has_primary, "emails.primary") {
            emails.iter_mut().for_each(|email| email.primary = false);
        }
        if !keep(has_type, "emails.type") {
            emails.iter_mut().for_each(|email| email.kind = None);
        }
        emails.sort();
        emails.dedup();
    }
    if user.enterprise.is_some() && !attributes.enterprise() {
        dropped.push(ENTERPRISE_USER.to_string());
        user.enterprise = None;
    }
    if let Some(enterprise) = &mut user.enterprise {
        for (field, attribute) in [
            (&mut enterprise.employee_number, "employeeNumber"),
            (&mut enterprise.cost_center, "costCenter"),
            (&mut enterprise.organization, "organization"),
            (&mut enterprise.division, "division"),
            (&mut enterprise.department, "department"),
        ] {
            if field.is_some() && !attributes.enterprise_has(attribute) {
                dropped.push(format!("{ENTERPRISE_USER}:{attribute}"));
                *field = None;
            }
        }
        if enterprise.is_empty() {
            user.enterprise = None;
        }
    }
    (user, dropped)
}

/// The SCIM representation of a desired user, with `externalId` and, when
/// given, the password.
pub fn to_scim(
    user: &User,
    external_id: &str,
    password: Option<&str>,
    attributes: &impl Attributes,
) -> Value {
    let mut body = Map::new();
    let mut schemas = vec![json!(USER)];
    body.insert("userName".into(), json!(user.user_name));
    body.insert("externalId".into(), json!(external_id));
    body.insert("active".into(), json!(user.active));
    if let Some(display_name) = &user.display_name {
        body.insert("displayName".into(), json!(display_name));
    }
    // Some servers (Canaille among them) insist on a formatted name: the
    // display name or the userName stands in when the spec has none.
    let mut name = user.name.clone().unwrap_or_default();
    if name.formatted.is_none() && attributes.user_has("name.formatted") {
        name.formatted = Some(
            user.display_name
                .clone()
                .unwrap_or_else(|| user.user_name.clone()),
        );
    }
    let mut scim_name = Map::new();
    for (key, value) in [
        ("formatted", &name.formatted),
        ("givenName", &name.given_name),
        ("familyName", &name.family_name),
        ("middleName", &name.middle_name),
    ] {
        if let Some(value) = value {
            scim_name.insert(key.into(), json!(value));
        }
    }
    if !scim_name.is_empty() {
        body.insert("name".into(), Value::Object(scim_name));
    }
    if let Some(emails) = &user.emails {
        let emails: Vec<Value> = emails
            .iter()
            .map(|email| {
                let mut entry = Map::new();
                entry.insert("value".into(), json!(email.value));
                if let Some(kind) = &email.kind {
                    entry.insert("type".into(), json!(kind));
                }
                if email.primary {
                    entry.insert("primary".into(), json!(true));
                }
                Value::Object(entry)
            })
            .collect();
        body.insert("emails".into(), Value::Array(emails));
    }
    if let Some(title) = &user.title {
        body.insert("title".into(), json!(title));
    }
    if let Some(language) = &user.preferred_language {
        body.insert("preferredLanguage".into(), json!(language));
    }
    if let Some(enterprise) = &user.enterprise {
        let mut extension = Map::new();
        for (key, value) in [
            ("employeeNumber", &enterprise.employee_number),
            ("costCenter", &enterprise.cost_center),
            ("organization", &enterprise.organization),
            ("division", &enterprise.division),
            ("department", &enterprise.department),
        ] {
            if let Some(value) = value {
                extension.insert(key.into(), json!(value));
            }
        }
        schemas.push(json!(ENTERPRISE_USER));
        body.insert(ENTERPRISE_USER.into(), Value::Object(extension));
    }
    if let Some(password) = password {
        body.insert("password".into(), json!(password));
    }
    body.insert("schemas".into(), Value::Array(schemas));
    Value::Object(body)
}

/// A SCIM user as the server returned it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    /// The server's id.
    pub id: String,
    /// The login name.
    pub user_name: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    name: Option<ScimName>,
    #[serde(default)]
    emails: Option<Vec<ScimEmail>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    preferred_language: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )]
    enterprise: Option<ScimEnterprise>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScimName {
    #[serde(default)]
    formatted: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    middle_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ScimEmail {
    value: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    primary: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScimEnterprise {
    #[serde(default)]
    employee_number: Option<String>,
    #[serde(default)]
    cost_center: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    division: Option<String>,
    #[serde(default)]
    department: Option<String>,
}

/// The `meta` attribute: its version and location.
#[derive(Debug, Deserialize)]
pub struct Meta {
    /// The resource's version, an ETag.
    #[serde(default)]
    pub version: Option<String>,
    /// The resource's URL.
    #[serde(default)]
    pub location: Option<String>,
}

impl ScimUser {
    /// The values a group member may carry to name this user: its id and,
    /// for servers that use another key in members (Canaille uses the
    /// userName), the last segment of its location.
    pub fn member_values(&self) -> Vec<String> {
        let mut values = vec![self.id.clone()];
        if let Some(segment) = self
            .meta
            .as_ref()
            .and_then(|meta| meta.location.as_deref())
            .and_then(|location| location.trim_end_matches('/').rsplit('/').next())
            .filter(|segment| !segment.is_empty() && *segment != self.id)
        {
            values.push(segment.to_string());
        }
        values
    }

    /// The user in canonical form, with the server's id and version.
    pub fn canonical(self) -> User {
        let name = self
            .name
            .map(|name| Name {
                formatted: text(name.formatted),
                given_name: text(name.given_name),
                family_name: text(name.family_name),
                middle_name: text(name.middle_name),
            })
            .filter(|name| *name != Name::default());
        let emails = self.emails.map(|emails| {
            let mut emails: Vec<Email> = emails
                .into_iter()
                .map(|email| Email {
                    value: email.value.trim().to_lowercase(),
                    kind: text(email.kind).map(|kind| kind.to_lowercase()),
                    primary: email.primary.unwrap_or(false),
                })
                .collect();
            emails.sort();
            emails.dedup();
            emails
        });
        let enterprise = self
            .enterprise
            .map(|e| Enterprise {
                employee_number: text(e.employee_number),
                cost_center: text(e.cost_center),
                organization: text(e.organization),
                division: text(e.division),
                department: text(e.department),
            })
            .filter(|e| !e.is_empty());
        User {
            user_name: self.user_name.trim().to_lowercase(),
            display_name: text(self.display_name),
            name,
            emails: emails.filter(|emails| !emails.is_empty()),
            title: text(self.title),
            preferred_language: text(self.preferred_language),
            active: self.active.unwrap_or(true),
            enterprise,
            scim_id: Some(self.id),
            external_id: text(self.external_id),
            etag: self.meta.and_then(|meta| meta.version),
            ..User::default()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A server that keeps every attribute.
    pub(crate) use super::EveryAttribute as Everything;

    struct NoPrimary;
    impl Attributes for NoPrimary {
        fn user_has(&self, path: &str) -> bool {
            path != "emails.primary"
        }
        fn enterprise(&self) -> bool {
            false
        }
        fn enterprise_has(&self, _: &str) -> bool {
            false
        }
    }

    fn canonical(spec: Value) -> User {
        let validation = validate(&spec);
        assert!(
            validation.diagnostics.is_empty(),
            "{:?}",
            validation.diagnostics
        );
        serde_json::from_value(validation.canonical.unwrap()).unwrap()
    }

    #[test]
    fn user_names_and_emails_are_normalised_and_emails_are_a_set() {
        let user = canonical(json!({
            "user_name": " Alice ",
            "emails": ["Alice@Example.ORG", {"value": "a@example.net", "type": "Work"}, "alice@example.org"],
            "name": {"given_name": "Alice", "family_name": "Liddell"}
        }));
        assert_eq!(user.user_name, "alice");
        let values: Vec<&str> = user
            .emails
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.value.as_str())
            .collect();
        assert_eq!(values, ["a@example.net", "alice@example.org"]);
        assert_eq!(user.emails.unwrap()[0].kind.as_deref(), Some("work"));
        assert_eq!(
            user.name.unwrap().formatted.as_deref(),
            Some("Alice Liddell")
        );
        assert!(user.active);
        assert_eq!(user.removal.as_deref(), Some(REMOVAL_DEACTIVATE));
    }

    #[test]
    fn a_password_in_git_is_refused_with_advice() {
        let validation = validate(&json!({"user_name": "a", "password": "hunter2"}));
        let error = &validation.diagnostics[0];
        assert_eq!(error.path, "password");
        assert!(error.help.as_deref().unwrap().contains("secret"));
        assert!(!format!("{validation:?}").contains("hunter2"));
    }

    #[test]
    fn bad_fields_are_reported_by_path() {
        let validation = validate(&json!({
            "user_name": "a", "emails": ["nope"], "password_version": 2, "removal": "shred"
        }));
        let paths: Vec<&str> = validation
            .diagnostics
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(paths, ["emails/0", "password_version", "removal"]);
    }

    #[test]
    fn the_scim_body_fills_what_strict_servers_require() {
        let user = canonical(json!({"user_name": "bob", "display_name": "Bob"}));
        let body = to_scim(&user, "cairn/user/bob", Some("pw"), &Everything);
        assert_eq!(body["name"]["formatted"], "Bob");
        assert_eq!(body["active"], true);
        assert_eq!(body["externalId"], "cairn/user/bob");
        assert_eq!(body["password"], "pw");
        assert!(body.get("removal").is_none());
    }

    #[test]
    fn every_compared_field_has_its_scim_attribute() {
        let user = canonical(json!({
            "user_name": "e", "display_name": "E", "name": {"family_name": "F"},
            "emails": ["e@example.org"], "title": "T", "preferred_language": "en",
            "enterprise": {"department": "D"}
        }));
        let body = to_scim(&user, "x", None, &Everything);
        let view = serde_json::to_value(&user).unwrap();
        for field in view.as_object().unwrap().keys() {
            if CLIENT_FIELDS.contains(&field.as_str()) {
                assert_eq!(scim_attribute(field), None);
                continue;
            }
            let attribute = scim_attribute(field).unwrap_or_else(|| panic!("{field}"));
            assert!(body.get(attribute).is_some(), "{field} → {attribute}");
        }
    }

    #[test]
    fn attributes_the_server_lacks_are_neither_sent_nor_compared() {
        let user = canonical(json!({
            "user_name": "c",
            "emails": [{"value": "c@example.org", "primary": true}],
            "enterprise": {"department": "R&D"}
        }));
        let (user, dropped) = supported(&user, &NoPrimary);
        assert_eq!(dropped, ["emails.primary", ENTERPRISE_USER]);
        assert!(!user.emails.unwrap()[0].primary);
        assert!(user.enterprise.is_none());
    }

    #[test]
    fn a_server_user_becomes_canonical_without_server_set_attributes() {
        let scim: ScimUser = serde_json::from_value(json!({
            "id": "42", "userName": "Dora", "active": true,
            "emails": [{"value": "DORA@example.org", "primary": true}],
            "groups": [{"value": "g1"}],
            "meta": {"resourceType": "User", "version": "W/\"abc\""}
        }))
        .unwrap();
        let user = scim.canonical();
        assert_eq!(user.user_name, "dora");
        assert_eq!(user.scim_id.as_deref(), Some("42"));
        assert_eq!(user.etag.as_deref(), Some("W/\"abc\""));
        assert!(user.emails.unwrap()[0].primary);
    }
}
