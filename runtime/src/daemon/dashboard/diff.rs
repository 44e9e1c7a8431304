//! `GET /ui/tenants/T/diff?from=RUN&to=RUN`: how the desired state
//! differs between the commits two runs applied — each resource added,
//! removed or changed, field by field, the values of sensitive fields
//! withheld. Both commits are read as a preview reads one (quotas,
//! signatures, the model cache read and not written), within the
//! preview's limits.

use super::page::{self, Section};
use super::session::Viewer;
use crate::daemon::http::AppState;
use crate::daemon::preview::{status_of, within_limits};
use crate::reconcile::ReconcileError;
use crate::tenant::Tenant;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_contract::FieldChange;
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The most resources a comparison lists: past this, they are counted.
/// A page of a few hundred tables is already more than anyone reads.
pub const MAX_RESOURCES_SHOWN: usize = 500;

/// The comparison's query.
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    /// The earlier run.
    pub from: Option<i64>,
    /// The later run.
    pub to: Option<i64>,
}

/// How one resource differs between two commits.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDiff {
    /// The resource.
    pub address: String,
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// The fields that differ: `before` at the first commit, `after` at
    /// the second.
    pub fields: Vec<FieldChange>,
}

/// Every leaf of `value` by its `/`-separated path.
fn leaves(value: &Value, path: &str, into: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                leaves(inner, &format!("{path}/{key}"), into);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, inner) in items.iter().enumerate() {
                leaves(inner, &format!("{path}/{index}"), into);
            }
        }
        other => {
            into.insert(path.to_string(), other.clone());
        }
    }
}

/// The fields that differ between two specs.
pub fn field_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut old = BTreeMap::new();
    let mut new = BTreeMap::new();
    if let Some(before) = before {
        leaves(before, "", &mut old);
    }
    if let Some(after) = after {
        leaves(after, "", &mut new);
    }
    let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter(|path| old.get(*path) != new.get(*path))
        .map(|path| FieldChange {
            path: match path.is_empty() {
                true => "/".to_string(),
                false => path.clone(),
            },
            sensitive: [old.get(path), new.get(path)]
                .into_iter()
                .flatten()
                .any(|value| value == "(sensitive)"),
            before: old.get(path).cloned(),
            after: new.get(path).cloned(),
        })
        .collect()
}

/// How two sets of specs (by address) differ.
pub fn compare(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<ResourceDiff> {
    let addresses: std::collections::BTreeSet<&String> =
        before.keys().chain(after.keys()).collect();
    addresses
        .into_iter()
        .filter_map(|address| {
            let (old, new) = (before.get(address), after.get(address));
            let kind = match (old, new) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(old), Some(new)) if old != new => "changed",
                _ => return None,
            };
            Some(ResourceDiff {
                address: address.clone(),
                kind,
                fields: field_changes(old, new),
            })
        })
        .collect()
}

/// The specs of `commit`, by address, as they may be shown.
async fn specs_at(
    tenant: &Tenant,
    commit: &str,
) -> Result<BTreeMap<String, Value>, ReconcileError> {
    let desired = crate::preview::desired_at(tenant, commit).await?;
    Ok(desired
        .resources
        .iter()
        .map(|resource| (resource.address.to_string(), tenant.shown_spec(resource)))
        .collect())
}

/// The handler.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Response {
    let Some(handle) = state.tenants.get(&name).filter(|_| viewer.sees(&name)) else {
        return page::no_tenant(&name);
    };
    let (Some(from), Some(to)) = (query.from, query.to) else {
        return page::refusal(
            StatusCode::BAD_REQUEST,
            "Pick two runs to compare: one in the From column and one in the To column of the history.",
        );
    };
    let runs = async {
        Ok::<_, crate::store::StoreError>((
            state.store.run(&name, from).await?,
            state.store.run(&name, to).await?,
        ))
    };
    let (first, second) = match runs.await {
        Ok((Some(first), Some(second))) => (first, second),
        Ok(_) => {
            return page::refusal(
                StatusCode::NOT_FOUND,
                &format!("Tenant `{name}` has no run {from} or no run {to}."),
            );
        }
        Err(error) => return page::store_failed(&error),
    };
    let Some(tenant) = handle.tenant.read().expect("loaded tenant").clone() else {
        return page::refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Tenant `{name}` has not loaded its plugins yet: try again shortly."),
        );
    };
    let work = async {
        let before = specs_at(&tenant, &first.commit_id).await?;
        let after = specs_at(&tenant, &second.commit_id).await?;
        Ok::<_, ReconcileError>(compare(&before, &after))
    };
    let diffs = match within_limits(work).await {
        Ok(Ok(diffs)) => diffs,
        Ok(Err(error)) => {
            return page::refusal(
                status_of(&error),
                &format!("The commits cannot be compared: {error}"),
            );
        }
        Err(refused) => return page::refusal(refused.status(), refused.message().trim()),
    };
    let base = format!("/ui/tenants/{}", page::path_segment(&name));
    let body = html! {
        p.crumbs { a href=(base) { "Tenant " (name) } " › " a href={ (base) "/history" } { "History" } }
        h1 { "Runs " (first.id) " and " (second.id) " of " (name) }
        p {
            "From run " a href={ (base) "/runs/" (first.id) } { (first.id) } " at commit " code { (page::short(&first.commit_id)) } " (" (first.commit_summary) ")"
            " to run " a href={ (base) "/runs/" (second.id) } { (second.id) } " at commit " code { (page::short(&second.commit_id)) } " (" (second.commit_summary) ")."
        }
        @if diffs.is_empty() {
            p { "The two commits declare the same resources with the same specs." }
        } @else {
            p { (diffs.len()) " resources differ." }
            @for diff in diffs.iter().take(MAX_RESOURCES_SHOWN) {
                article.drift {
                    h2 { code { (diff.address) } " " (page::word_badge(diff.kind)) }
                    (super::tenant::field_table(&format!("How {} differs", diff.address), &diff.fields, &format!("Run {}", first.id), &format!("Run {}", second.id)))
                }
            }
            @if diffs.len() > MAX_RESOURCES_SHOWN {
                p { "And " (diffs.len() - MAX_RESOURCES_SHOWN) " more." }
            }
        }
    };
    page::shell(
        &format!("Runs {} and {} of {name}", first.id, second.id),
        &viewer,
        Section::Tenants,
        None,
        body,
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_are_added_removed_and_changed_field_by_field() {
        let before = BTreeMap::from([
            (
                "dns/record/a".to_string(),
                json!({"ttl": 300, "records": ["192.0.2.1"]}),
            ),
            ("dns/record/gone".to_string(), json!({"ttl": 60})),
            ("dns/record/same".to_string(), json!({"ttl": 60})),
        ]);
        let after = BTreeMap::from([
            (
                "dns/record/a".to_string(),
                json!({"ttl": 600, "records": ["192.0.2.1", "192.0.2.2"]}),
            ),
            (
                "dns/record/new".to_string(),
                json!({"ttl": 60, "secret": "(sensitive)"}),
            ),
            ("dns/record/same".to_string(), json!({"ttl": 60})),
        ]);
        let diffs = compare(&before, &after);
        let kinds: Vec<(&str, &str)> = diffs.iter().map(|d| (d.address.as_str(), d.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("dns/record/a", "changed"),
                ("dns/record/gone", "removed"),
                ("dns/record/new", "added")
            ]
        );
        let changed: Vec<(&str, Option<&Value>, Option<&Value>)> = diffs[0]
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.before.as_ref(), f.after.as_ref()))
            .collect();
        assert_eq!(
            changed,
            [
                ("/records/1", None, Some(&json!("192.0.2.2"))),
                ("/ttl", Some(&json!(300)), Some(&json!(600))),
            ]
        );
        let secret = diffs[2]
            .fields
            .iter()
            .find(|f| f.path == "/secret")
            .unwrap();
        assert!(secret.sensitive, "a withheld value stays withheld");
    }
}
