//! Comparing desired and observed users and groups.
//!
//! Only what the repository manages is compared: the fields the desired
//! spec sets, plus those the last apply set (so that a field removed from
//! Git is cleared). Attributes the server does not keep (learnt from its
//! `/Schemas`) are left out with a warning, server-set attributes (`id`,
//! `meta`, `groups`) never take part, and the password, which the server
//! never returns, is sent again only when `password_version` changes.

use crate::group::Group;
use crate::user::{self, Attributes, REMOVAL_DEACTIVATE, REMOVAL_DELETE, User};
use cairn_sdk::diff::{self, field_changes, summarize};
use cairn_sdk::serde_json::{Map, Value, json};
use cairn_sdk::spec::{from_state, to_json};
use cairn_sdk::{Action, Change, Diagnostic, DiffInput, Error, FieldChange, log};

/// A canonical document without the named top-level fields.
fn without(value: &Value, fields: &[&str]) -> Map<String, Value> {
    let mut map = value.as_object().cloned().unwrap_or_default();
    for field in fields {
        map.remove(*field);
    }
    map
}

/// The server-held fields of a user.
fn server_view(user: &User) -> Map<String, Value> {
    let mut fields = user::CLIENT_FIELDS.to_vec();
    fields.extend(user::SERVER_FIELDS);
    without(&to_json(user), &fields)
}

/// The top-level fields the desired user sets that the observed one has
/// otherwise (for a user found already there when it was to be created).
pub fn differing_fields(observed: &User, desired: &User) -> Vec<String> {
    let seen = server_view(observed);
    server_view(desired)
        .into_iter()
        .filter(|(key, value)| seen.get(key) != Some(value))
        .map(|(key, _)| key)
        .collect()
}

/// `observed` with the fields of Cairn's own (`password_version`,
/// `removal`) taken from `desired`: the state recorded when nothing on the
/// server needs to change.
pub fn with_client_fields(observed: &User, desired: &User) -> User {
    User {
        password_version: desired.password_version,
        removal: desired.removal.clone(),
        password: None,
        ..observed.clone()
    }
}

/// Compares one user.
pub fn user(input: &DiffInput, attributes: &impl Attributes) -> Result<Change, Error> {
    let desired: Option<User> = from_state(&input.desired, "desired user")?;
    let observed: Option<User> = from_state(&input.observed, "observed user")?;
    let prior: Option<User> = from_state(&input.prior, "recorded user")?;
    let change = |action, summary: String, fields, observed: Option<&User>| Change {
        type_name: input.type_name.clone(),
        id: input.id.clone(),
        action,
        summary,
        fields,
        desired: input.desired.clone(),
        observed: observed.map(to_json),
        diagnostics: Vec::new(),
        recheck_after_ms: None,
        holds: Vec::new(),
        notice: None,
    };
    let (desired, observed) = match (desired, observed) {
        (None, None) => return Ok(change(Action::NoOp, "no changes".into(), Vec::new(), None)),
        (Some(desired), None) => {
            let (server, dropped) = user::supported(&desired, attributes);
            warn_dropped(&input.id, &dropped);
            let mut fields = field_changes(None, Some(&Value::Object(server_view(&server))));
            if desired.password.is_some() {
                fields.push(password_field());
            }
            let summary = summarize(Action::Create, &fields);
            let mut created = change(Action::Create, summary, fields, None);
            created.diagnostics = missing_name_parts(&server, attributes);
            return Ok(created);
        }
        (None, Some(observed)) => {
            let removal = prior
                .and_then(|prior| prior.removal)
                .unwrap_or_else(|| REMOVAL_DEACTIVATE.into());
            let summary = if removal == REMOVAL_DELETE {
                "delete the user (removal = \"delete\")".to_string()
            } else if !observed.active {
                "already inactive: stop tracking it".to_string()
            } else {
                "deactivate the user (active = false); removal = \"delete\" would delete it"
                    .to_string()
            };
            let observed = User {
                removal: Some(removal),
                ..observed
            };
            return Ok(change(Action::Delete, summary, Vec::new(), Some(&observed)));
        }
        (Some(desired), Some(observed)) => (desired, observed),
    };
    let (server, dropped) = user::supported(&desired, attributes);
    warn_dropped(&input.id, &dropped);
    let wanted = server_view(&server);
    let recorded = prior.as_ref().map(server_view).unwrap_or_default();
    // Fields neither Git nor the last apply set are the server's business.
    let seen: Map<String, Value> = server_view(&observed)
        .into_iter()
        .filter(|(key, _)| wanted.contains_key(key) || recorded.contains_key(key))
        .collect();
    let mut fields = field_changes(Some(&Value::Object(seen)), Some(&Value::Object(wanted)));
    let prior_version = prior.as_ref().and_then(|prior| prior.password_version);
    if desired.password.is_some() && desired.password_version != prior_version {
        fields.push(password_field());
    }
    if let Some(prior) = &prior {
        if prior.password_version != desired.password_version {
            fields.push(FieldChange {
                path: "password_version".into(),
                before: prior.password_version.map(|v| json!(v)),
                after: desired.password_version.map(|v| json!(v)),
                sensitive: false,
            });
        }
        if prior.removal != desired.removal {
            fields.push(FieldChange {
                path: "removal".into(),
                before: prior.removal.as_ref().map(|v| json!(v)),
                after: desired.removal.as_ref().map(|v| json!(v)),
                sensitive: false,
            });
        }
    }
    let action = if fields.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    };
    let summary = summarize(action, &fields);
    let observed = with_client_fields(&observed, &desired);
    let mut updated = change(action, summary, fields, Some(&observed));
    if action == Action::Update {
        updated.diagnostics = missing_name_parts(&server, attributes);
    }
    Ok(updated)
}

/// An error for each name part the server requires that the user lacks:
/// found when planning, before any change of the commit is made.
fn missing_name_parts(server: &User, attributes: &impl Attributes) -> Vec<Diagnostic> {
    user::missing_name_parts(server, attributes)
        .into_iter()
        .map(|(attribute, field)| {
            Diagnostic::error(
                "name",
                format!("the SCIM server requires {attribute}, which this user does not set"),
            )
            .with_help(format!(
                "write `name = {{ {field} = \"…\" }}` for this user"
            ))
        })
        .collect()
}

/// The password as a field change: its value never leaves the provider.
fn password_field() -> FieldChange {
    FieldChange {
        path: "password".into(),
        before: None,
        after: Some(json!("(sensitive)")),
        sensitive: true,
    }
}

fn warn_dropped(id: &str, dropped: &[String]) {
    if !dropped.is_empty() {
        log::warn(
            "the SCIM server does not keep these attributes; they are neither sent nor compared",
            &[("user", id), ("attributes", &dropped.join(", "))],
        );
    }
}

/// Compares one group: its members as a set.
pub fn group(input: DiffInput) -> Result<Change, Error> {
    let desired: Option<Group> = from_state(&input.desired, "desired group")?;
    let observed: Option<Group> = from_state(&input.observed, "observed group")?;
    let view = |group: &Group| {
        Value::Object(without(
            &to_json(group),
            &["scim_id", "external_id", "etag"],
        ))
    };
    let fields = field_changes(
        observed.as_ref().map(view).as_ref(),
        desired.as_ref().map(view).as_ref(),
    );
    let action = diff::action(desired.is_some(), observed.is_some(), &fields);
    let summary = match (&desired, &observed, action) {
        (Some(desired), Some(observed), Action::Update) => members_summary(observed, desired),
        (Some(desired), None, Action::Create) => {
            format!("create with {} member(s)", desired.members.len())
        }
        _ => summarize(action, &fields),
    };
    Ok(input.into_change(action, summary, fields))
}

/// `add alice, remove bob`.
fn members_summary(observed: &Group, desired: &Group) -> String {
    let added: Vec<&str> = desired
        .members
        .iter()
        .filter(|member| !observed.members.contains(member))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = observed
        .members
        .iter()
        .filter(|member| !desired.members.contains(member))
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("add {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("remove {}", removed.join(", ")));
    }
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::tests::Everything;

    fn input(desired: Option<Value>, observed: Option<Value>, prior: Option<Value>) -> DiffInput {
        DiffInput {
            type_name: "user".into(),
            id: "alice".into(),
            desired,
            observed,
            prior,
            halt: false,
        }
    }

    fn canonical(spec: Value) -> Value {
        user::validate(&spec).canonical.expect("valid")
    }

    #[test]
    fn server_set_and_unmanaged_attributes_do_not_count() {
        let desired = canonical(json!({"user_name": "alice", "emails": ["a@example.org"]}));
        let observed = json!({
            "user_name": "alice", "active": true, "scim_id": "1", "etag": "W/\"1\"",
            "emails": [{"value": "a@example.org"}], "title": "set by hand",
            "name": {"formatted": "alice"}
        });
        let change = user(
            &input(Some(desired.clone()), Some(observed), Some(desired)),
            &Everything,
        )
        .unwrap();
        assert_eq!(change.action, Action::NoOp, "{:?}", change.fields);
    }

    #[test]
    fn a_field_removed_from_git_is_cleared() {
        let desired = canonical(json!({"user_name": "alice"}));
        let prior = canonical(json!({"user_name": "alice", "title": "Boss"}));
        let observed = json!({"user_name": "alice", "active": true, "title": "Boss"});
        let change = user(
            &input(Some(desired), Some(observed), Some(prior)),
            &Everything,
        )
        .unwrap();
        assert_eq!(change.action, Action::Update);
        assert_eq!(change.fields[0].path, "title");
        assert_eq!(change.fields[0].after, None);
    }

    #[test]
    fn the_password_is_sent_again_only_for_a_new_version() {
        let spec = |version: u64| {
            canonical(
                json!({"user_name": "alice", "password": {"secret": "pw"}, "password_version": version}),
            )
        };
        let observed = json!({"user_name": "alice", "active": true});
        let mut recorded = spec(1);
        recorded.as_object_mut().unwrap().remove("password");
        let same = user(
            &input(
                Some(spec(1)),
                Some(observed.clone()),
                Some(recorded.clone()),
            ),
            &Everything,
        )
        .unwrap();
        assert_eq!(same.action, Action::NoOp, "{:?}", same.fields);
        let bumped = user(
            &input(Some(spec(2)), Some(observed), Some(recorded)),
            &Everything,
        )
        .unwrap();
        assert_eq!(bumped.action, Action::Update);
        assert!(
            bumped.summary.contains("password (sensitive)"),
            "{}",
            bumped.summary
        );
        assert!(!bumped.summary.contains("pw\""));
    }

    #[test]
    fn a_removed_user_is_deactivated_unless_it_asked_to_be_deleted() {
        let observed = json!({"user_name": "alice", "active": true});
        let kept = canonical(json!({"user_name": "alice"}));
        let change = user(
            &input(None, Some(observed.clone()), Some(kept)),
            &Everything,
        )
        .unwrap();
        assert_eq!(change.action, Action::Delete);
        assert!(change.summary.starts_with("deactivate"));
        assert_eq!(change.observed.unwrap()["removal"], "deactivate");
        let deleted = canonical(json!({"user_name": "alice", "removal": "delete"}));
        let change = user(&input(None, Some(observed), Some(deleted)), &Everything).unwrap();
        assert_eq!(change.observed.unwrap()["removal"], "delete");
    }

    #[test]
    fn group_membership_changes_are_summarised() {
        let change = group(DiffInput {
            type_name: "group".into(),
            id: "ops".into(),
            desired: Some(json!({"display_name": "ops", "members": ["alice", "carol"]})),
            observed: Some(
                json!({"display_name": "ops", "members": ["alice", "bob"], "scim_id": "g"}),
            ),
            prior: None,
            halt: false,
        })
        .unwrap();
        assert_eq!(change.action, Action::Update);
        assert_eq!(change.summary, "add carol, remove bob");
    }
}
