//! A Cairn provider for SCIM 2.0 identity providers (RFC 7643 / RFC 7644).
//!
//! Resource types:
//! - `user` (id: the `user_name`, lower case): `display_name`, `name`,
//!   `emails`, `title`, `preferred_language`, `active` (default true),
//!   `enterprise` (the enterprise extension), `password` (a reference to an
//!   operator secret, write-only) with `password_version`, and `removal`
//!   (`deactivate`, the default, or `delete`).
//! - `group` (id: the `display_name`): `members`, by user name; membership
//!   is authoritative.
//!
//! Config: `url` (the SCIM base URL), `token_url` and `scope` for OAuth 2.0
//! client credentials (secrets `client_id`, `client_secret`) or the secret
//! `token` for a static bearer token, `token_auth`, `owner` (the prefix of
//! `externalId`, default `cairn`), `patch` (false: PUT only) and
//! `page_size`.
//!
//! What the server supports is learnt from `/ServiceProviderConfig`,
//! `/ResourceTypes` and `/Schemas` at the start of each call that talks to
//! it: PATCH or PUT, `If-Match`, filters, the endpoints, and which
//! attributes it keeps.

mod apply;
mod auth;
mod client;
mod compare;
mod group;
mod schema;
mod user;

use auth::{Auth, ClientAuth};
use client::Scim;
use group::ScimGroup;
use schema::Catalog;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use user::{EveryAttribute, ScimUser};

use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{
    Action, Change, Declarations, Diagnostic, DiffInput, Error, Observed, Outcome, Provider,
    ProviderInfo, Resource, Scope, Secrets, Validation, spec,
};
use std::collections::BTreeSet;

/// The largest page a listing asks for: bigger pages make slow answers that
/// a server may cut off.
const MAX_PAGE_SIZE: u64 = 1000;

/// The operator's configuration of a provider instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The SCIM base URL, such as `https://idp.example.org/scim/v2`.
    url: String,
    /// The OAuth 2.0 token endpoint; without it the secret `token` is used.
    #[serde(default)]
    token_url: Option<String>,
    /// The scope asked for with client credentials.
    #[serde(default)]
    scope: Option<String>,
    /// How the client authenticates at the token endpoint.
    #[serde(default = "default_token_auth")]
    token_auth: ClientAuth,
    /// The prefix of the `externalId` of every object Cairn creates.
    #[serde(default = "default_owner")]
    owner: String,
    /// Whether to use PATCH where the server supports it; false sends every
    /// change by PUT, for servers whose PATCH is unreliable.
    #[serde(default = "default_patch")]
    patch: bool,
    /// Resources per page when listing; the server's choice when unset.
    #[serde(default)]
    page_size: Option<u64>,
}

fn default_token_auth() -> ClientAuth {
    ClientAuth::ClientSecretBasic
}

fn default_patch() -> bool {
    true
}

fn default_owner() -> String {
    "cairn".into()
}

/// The provider: a configured connection to one SCIM service.
pub struct ScimProvider {
    scim: Scim,
    secrets: Secrets,
    owner: String,
    patch: bool,
}

impl Provider for ScimProvider {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "scim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "users and groups of a SCIM 2.0 identity provider (RFC 7643/7644)".into(),
            resource_types: vec![user::resource_type(), group::resource_type()],
            config_schema: json!({
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "description": "the SCIM base URL, such as https://idp.example.org/scim/v2"},
                    "token_url": {"type": "string", "description": "OAuth 2.0 token endpoint for client credentials (secrets client_id, client_secret); without it, the secret `token` is a static bearer token"},
                    "scope": {"type": "string"},
                    "token_auth": {"enum": ["client_secret_basic", "client_secret_post"], "default": "client_secret_basic"},
                    "patch": {"type": "boolean", "default": true, "description": "use PATCH where the server supports it; false sends every change by PUT"},
                    "owner": {"type": "string", "default": "cairn", "description": "externalId prefix of the objects Cairn creates"},
                    "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "resources per page when listing; the server's own page size when unset"}
                }
            }),
        }
    }

    fn configure(config: Value, secrets: Secrets, _owner: &str) -> Result<Self, Error> {
        let config: Config = spec::parse(&config)
            .map_err(|d| Error::invalid(format!("config {}: {}", d.path, d.message)))?;
        if let Some(page_size) = config.page_size
            && (page_size == 0 || page_size > MAX_PAGE_SIZE)
        {
            return Err(Error::invalid(format!(
                "config page_size: {page_size} is outside 1..={MAX_PAGE_SIZE}"
            )));
        }
        if config.owner.trim().is_empty() {
            return Err(Error::invalid("config owner: it is empty"));
        }
        let auth = Auth::from_config(
            config.token_url.as_deref(),
            config.scope,
            config.token_auth,
            &secrets,
        )?;
        Ok(Self {
            scim: Scim::new(&config.url, auth, config.page_size),
            secrets,
            owner: config.owner,
            patch: config.patch,
        })
    }

    fn validate(resource: &Resource) -> Validation {
        match resource.type_name.as_str() {
            "user" => user::validate(&resource.spec),
            "group" => group::validate(&resource.spec),
            other => Validation::invalid(vec![Diagnostic::error(
                "",
                format!("unknown resource type `{other}`: this provider has `user` and `group`"),
            )]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        let catalog = &self.scim.endpoints()?;
        let of_interest: HashSet<&str> = scope.ids.iter().map(String::as_str).collect();
        let mut observed = Vec::new();
        // Users are listed for groups too: members come back as user ids.
        let mut user_names: HashMap<String, String> = HashMap::new();
        for item in self.scim.list_all(&catalog.users_endpoint)? {
            let Ok(scim) = serde_json::from_value::<ScimUser>(item) else {
                continue;
            };
            let values = scim.member_values();
            let user = scim.canonical();
            let id = user.user_name.clone();
            for value in values {
                user_names.insert(value, id.clone());
            }
            if scope.wants("user") && of_interest.contains(id.as_str()) {
                observed.push(Observed {
                    type_name: "user".into(),
                    id,
                    state: serde_json::to_value(user).expect("a user serializes"),
                    vouched: false,
                });
            }
        }
        if scope.wants("group") {
            for item in self.scim.list_all(&catalog.groups_endpoint)? {
                let Ok(scim) = serde_json::from_value::<ScimGroup>(item) else {
                    continue;
                };
                let group = scim.canonical(&user_names);
                if of_interest.contains(group.display_name.as_str()) {
                    observed.push(Observed {
                        type_name: "group".into(),
                        id: group.display_name.clone(),
                        state: serde_json::to_value(group).expect("a group serializes"),
                        vouched: false,
                    });
                }
            }
        }
        Ok(observed)
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        let undeclared = undeclared_members(&inputs, declarations);
        let on_server = if undeclared.is_empty() {
            HashSet::new()
        } else {
            self.user_names()?
        };
        // What the server keeps matters only for users that stay (a user
        // that leaves compares alike whatever it keeps), and not for one
        // read back exactly as Git wants it, every attribute Git sets kept
        // (its comparison taking every attribute as kept finds nothing to
        // do): a plan with nothing to change then asks the server nothing
        // more (no token, no /ResourceTypes, no /Schemas). The schemas are
        // read once, for the first user that needs them.
        let mut catalog: Option<Catalog> = None;
        inputs
            .into_iter()
            .map(|input| match input.type_name.as_str() {
                "user" => {
                    if input.desired.is_none() || input.observed.is_some() {
                        let as_wanted = compare::user(&input, &EveryAttribute)?;
                        if input.desired.is_none() || as_wanted.action == Action::NoOp {
                            return Ok(as_wanted);
                        }
                    }
                    let catalog = match &mut catalog {
                        Some(catalog) => catalog,
                        none => none.insert(self.scim.catalog()?),
                    };
                    compare::user(&input, catalog)
                }
                "group" => {
                    let mut change = compare::group(input)?;
                    change.diagnostics = unknown_members(&change, &undeclared, &on_server);
                    Ok(change)
                }
                other => Err(Error::invalid(format!("unknown resource type `{other}`"))),
            })
            .collect()
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        match apply::Apply::new(&self.scim, &self.secrets, &self.owner, self.patch) {
            Ok(apply) => apply.run(&changes),
            Err(error) => vec![Outcome::Failed(error); changes.len()],
        }
    }
}

impl ScimProvider {
    /// The `userName` of every user on the server, canonical (lower case).
    fn user_names(&self) -> Result<HashSet<String>, Error> {
        let catalog = &self.scim.endpoints()?;
        Ok(self
            .scim
            .list_all(&catalog.users_endpoint)?
            .into_iter()
            .filter_map(|item| serde_json::from_value::<ScimUser>(item).ok())
            .map(|scim| scim.canonical().user_name)
            .collect())
    }
}

/// The members of the desired groups among `inputs` that the commit
/// declares no user for: they must be users on the server.
fn undeclared_members(inputs: &[DiffInput], declarations: &Declarations) -> BTreeSet<String> {
    inputs
        .iter()
        .filter(|input| input.type_name == "group")
        .flat_map(|input| members(input.desired.as_ref()))
        .filter(|member| !declarations.contains("user", member))
        .collect()
}

/// The members of a canonical group spec.
fn members(spec: Option<&Value>) -> Vec<String> {
    spec.and_then(|spec| spec.get("members"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|member| member.as_str().map(str::to_string))
        .collect()
}

/// An error for each member of `change`'s desired group that neither the
/// commit declares (`undeclared` holds those it does not) nor the server
/// has as a user: applying the group could only fail.
fn unknown_members(
    change: &Change,
    undeclared: &BTreeSet<String>,
    on_server: &HashSet<String>,
) -> Vec<Diagnostic> {
    members(change.desired.as_ref())
        .into_iter()
        .filter(|member| undeclared.contains(member) && !on_server.contains(member))
        .map(|member| {
            Diagnostic::error(
                "members",
                format!(
                    "the member `{member}` is neither a user this commit declares nor a user on the server"
                ),
            )
            .with_help(format!(
                "declare the user in Git (a `user` resource with `user_name = \"{member}\"`) or remove `{member}` from `members`"
            ))
        })
        .collect()
}

cairn_sdk::export_provider!(ScimProvider);
