//! Convergence: whether what a provider reports after an apply is what it
//! applied, under the provider's own comparison; and the host's rule for
//! `null`, which every comparison shares.
//!
//! # The check
//!
//! After a batch of changes is applied, the objects the provider made or
//! changed are observed once more (`list`, one call per batch) and the
//! spec each change applied is compared with that observation by the
//! provider itself (`diff`, one call per batch) — and with the state the
//! apply returned, when it differs from the observation. Either comparison
//! must come back with nothing to do; one that does not is a provider
//! that did not converge: the next plan would propose the same change
//! again, and the daemon would re-apply it at every drift check. Cairn
//! reports it once — "provider `dns` did not converge on ttl (applied
//! 300, observed "300")" — and holds the resource: no change is planned
//! for it until its spec in Git or its provider's plugin changes.
//!
//! A state that is exactly the spec applied (with the `ignore_changes`
//! fields taken as observed) is not sent to `diff`: equal values are no
//! change, by the contract, so a batch read back as applied costs one
//! `list` and no `diff`.
//!
//! When the check itself cannot be made (the provider cannot observe or
//! compare), the apply's own outcome stands: the next plan finds out. A
//! change that asks to be compared again over time (`recheck-after-ms`: a
//! chaos run) is not checked: its desired state moves with the clock, and
//! the look it asked for is its check.
//!
//! # `null` and an absent field
//!
//! A field change whose before and after are both `null` or absent
//! changes nothing, and an update or replace made only of such changes is
//! no change at all: in plans and in the check alike. A provider that
//! means `null` to differ from an absent field says so with a field
//! change whose values are not both null (the enclosing object, say), or
//! with a change that lists no fields.

use super::port::Provider;
use super::provider_diff;
use cairn_contract::{Action, Change, DiffInput, FieldChange, ProviderInfo};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// The fields a report of non-convergence names; the rest are counted. A
/// report is one line of the apply's output, the history and an alert.
const FIELDS_NAMED: usize = 3;

/// The characters of one value a report shows before it is cut: enough
/// for a name, an address or a short list, not a whole manifest.
const VALUE_SHOWN: usize = 80;

/// A field change whose values are both `null` or absent.
fn null_either_way(field: &FieldChange) -> bool {
    field.before.as_ref().is_none_or(Value::is_null)
        && field.after.as_ref().is_none_or(Value::is_null)
}

/// Whether a provider's change does anything: not a no-op, and not an
/// update or replace whose every field is `null` or absent on both sides.
pub(crate) fn makes_a_difference(change: &Change) -> bool {
    match change.action {
        Action::NoOp => false,
        Action::Update | Action::Replace => {
            change.fields.is_empty() || !change.fields.iter().all(null_either_way)
        }
        Action::Create | Action::Delete => true,
    }
}

/// A change's fields as the host shows and keeps them: without those that
/// are `null` or absent on both sides, sensitive ones (by the provider's
/// mark or its type's `sensitive` fields) with their values withheld.
pub(crate) fn shown_fields(info: &ProviderInfo, change: &Change) -> Vec<FieldChange> {
    let sensitive = info
        .resource_type(&change.type_name)
        .map_or(&[][..], |t| &t.sensitive[..]);
    let mut fields: Vec<FieldChange> = change
        .fields
        .iter()
        .filter(|field| !null_either_way(field))
        .cloned()
        .collect();
    for field in &mut fields {
        let top = field.path.split('/').next().unwrap_or_default();
        field.sensitive |= sensitive.iter().any(|s| s == top);
        // A provider may give a whole document as one field (a create):
        // its sensitive top-level keys are withheld inside it.
        if field.path.is_empty() && !field.sensitive {
            for value in [&mut field.before, &mut field.after].into_iter().flatten() {
                *value = super::withhold_top_level(value, sensitive);
            }
        }
    }
    super::redact_fields(&mut fields);
    fields
}

/// What the applied spec was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The object observed after the apply.
    Observed,
    /// The state the apply returned.
    Returned,
}

impl Seen {
    fn word(self) -> &'static str {
        match self {
            Self::Observed => "observed",
            Self::Returned => "apply returned",
        }
    }
}

/// Why `provider` did not converge, from its answer to the comparison of
/// the spec applied with what it saw; `None` when the answer is that
/// nothing differs.
fn verdict(provider: &str, info: &ProviderInfo, seen: Seen, answer: &Change) -> Option<String> {
    if !makes_a_difference(answer) {
        return None;
    }
    let fields = shown_fields(info, answer);
    let head = format!("provider `{provider}` did not converge");
    if answer.action == Action::Create {
        return Some(match seen {
            Seen::Observed => format!("{head}: the object it applied is not there when observed"),
            Seen::Returned => format!("{head}: the apply returned no object"),
        });
    }
    if fields.is_empty() {
        return Some(format!(
            "{head}: comparing the spec applied with what {} still says `{}`",
            match seen {
                Seen::Observed => "it observed",
                Seen::Returned => "the apply returned",
            },
            answer.summary
        ));
    }
    let named: Vec<String> = fields
        .iter()
        .take(FIELDS_NAMED)
        .map(|field| {
            format!(
                "{} (applied {}, {} {})",
                field.path,
                shown(field.after.as_ref()),
                seen.word(),
                shown(field.before.as_ref())
            )
        })
        .collect();
    let more = match fields.len().saturating_sub(FIELDS_NAMED) {
        0 => String::new(),
        more => format!(" and {more} more field(s)"),
    };
    Some(format!("{head} on {}{more}", named.join(", ")))
}

/// A value as a report shows it: JSON, `(unset)` when absent, cut after
/// [`VALUE_SHOWN`] characters.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(unset)".to_string();
    };
    let text = value.to_string();
    match text.char_indices().nth(VALUE_SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// One change a provider reported made, to check.
pub(crate) struct Made<'a> {
    /// The change as applied: its type, id and desired spec.
    pub change: &'a Change,
    /// The state the apply returned.
    pub returned: Option<&'a Value>,
    /// The type's sensitive fields, which the inventory does not record.
    pub sensitive: &'a [String],
    /// The resource's `ignore_changes` fields: whatever the provider
    /// observes of them is accepted.
    pub ignore_changes: &'a [String],
}

impl Made<'_> {
    /// What the inventory records of the apply, as the next plan hands it
    /// to `diff`: the returned state (or the one observed before, when the
    /// apply returned none), without its sensitive fields. Made only for
    /// the few changes the check asks about.
    fn prior(&self) -> Option<Value> {
        self.returned
            .or(self.change.observed.as_ref())
            .map(|state| super::without_sensitive(state, self.sensitive))
    }
}

/// Checks the changes of one provider's batch that the provider reported
/// made, and returns, for each in `made`'s order, why it did not converge
/// (`None`: it did, or the check could not be made). `name` is the
/// provider instance's, as reports show it.
#[tracing::instrument(level = "debug", skip_all, fields(made = made.len()))]
pub(crate) async fn check<P: Provider>(
    name: &str,
    provider: &P,
    made: &[Made<'_>],
) -> Vec<Option<String>> {
    let mut verdicts: Vec<Option<String>> = vec![None; made.len()];
    let made_something: Vec<usize> = (0..made.len())
        .filter(|&i| made[i].change.desired.is_some())
        .collect();
    if made_something.is_empty() {
        return verdicts;
    }
    let types: BTreeSet<String> = made_something
        .iter()
        .map(|&i| made[i].change.type_name.clone())
        .collect();
    let ids: BTreeSet<String> = made_something
        .iter()
        .map(|&i| made[i].change.id.clone())
        .collect();
    // By type, then id: looked up by the change's own names, not copies.
    let observed: Option<HashMap<String, HashMap<String, Value>>> = match provider
        .list(types.into_iter().collect(), ids.into_iter().collect())
        .await
    {
        Ok(objects) => {
            let mut by_type: HashMap<String, HashMap<String, Value>> = HashMap::new();
            for object in objects {
                by_type
                    .entry(object.type_name)
                    .or_default()
                    .insert(object.id, object.state);
            }
            Some(by_type)
        }
        Err(error) => {
            tracing::warn!(provider = name, %error, "cannot observe what was applied; its convergence is found out by the next plan");
            None
        }
    };

    // Each type's write-only fields, found once rather than per change.
    let write_only: HashMap<&str, Vec<String>> = provider
        .info()
        .resource_types
        .iter()
        .map(|t| (t.name.as_str(), super::write_only_fields(&t.schema)))
        .collect();
    let mut asked: Vec<(usize, Seen)> = Vec::new();
    let mut inputs: Vec<DiffInput> = Vec::new();
    for &i in &made_something {
        let Made {
            change,
            returned,
            ignore_changes,
            ..
        } = &made[i];
        let spec = change.desired.as_ref().expect("chosen for their spec");
        let mut ask = |seen: Seen, state: Option<&Value>| {
            // The spec as it should be seen: its ignored fields as they
            // are (a copy only when there are any).
            let desired = match state {
                Some(state) if !ignore_changes.is_empty() => Cow::Owned(
                    super::planner::with_ignored_fields(spec, state, ignore_changes),
                ),
                _ => Cow::Borrowed(spec),
            };
            if state == Some(desired.as_ref()) {
                return;
            }
            asked.push((i, seen));
            inputs.push(DiffInput {
                type_name: change.type_name.clone(),
                id: change.id.clone(),
                desired: Some(desired.into_owned()),
                observed: state.cloned(),
                prior: made[i].prior(),
                halt: false,
            });
        };
        match &observed {
            Some(observed) => {
                let now = observed
                    .get(change.type_name.as_str())
                    .and_then(|of_type| of_type.get(change.id.as_str()));
                ask(Seen::Observed, now);
                // What only the client keeps (the type's write-only
                // fields) is never observed: a returned state that differs
                // from the observed one only there is the same state.
                let same = match (*returned, now) {
                    (Some(returned), Some(now)) => super::same_but_write_only(
                        now,
                        returned,
                        write_only
                            .get(change.type_name.as_str())
                            .map_or(&[], Vec::as_slice),
                    ),
                    (returned, now) => returned == now,
                };
                if returned.is_some() && !same {
                    ask(Seen::Returned, *returned);
                }
            }
            None => {
                if returned.is_some() {
                    ask(Seen::Returned, *returned);
                }
            }
        }
    }
    if inputs.is_empty() {
        return verdicts;
    }
    // What was applied is on the server now: every reference it makes is
    // there to be found, and the answers' diagnostics are not read here.
    let answers = match provider_diff(provider, &inputs, &[]).await {
        Ok(answers) => answers,
        Err(error) => {
            tracing::warn!(provider = name, %error, "cannot compare what was applied; its convergence is found out by the next plan");
            return verdicts;
        }
    };
    let info = provider.info();
    for ((index, seen), answer) in asked.into_iter().zip(&answers) {
        if verdicts[index].is_none() {
            verdicts[index] = verdict(name, info, seen, answer);
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fake::{Call, FakeProvider};
    use serde_json::json;

    fn change(action: Action, fields: Vec<FieldChange>) -> Change {
        Change {
            type_name: "record".into(),
            id: "www".into(),
            action,
            summary: "the summary".into(),
            fields,
            desired: Some(json!({})),
            observed: Some(json!({})),
            diagnostics: Vec::new(),
            recheck_after_ms: None,
            holds: Vec::new(),
            notice: None,
        }
    }

    fn field(path: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange {
            path: path.into(),
            before,
            after,
            sensitive: false,
        }
    }

    #[test]
    fn null_and_an_absent_field_are_no_difference() {
        let null_only = change(
            Action::Update,
            vec![
                field("comment", Some(Value::Null), None),
                field("note", None, Some(Value::Null)),
            ],
        );
        assert!(!makes_a_difference(&null_only));
        let replace = Change {
            action: Action::Replace,
            ..null_only.clone()
        };
        assert!(!makes_a_difference(&replace));
        let real = change(
            Action::Update,
            vec![
                field("comment", Some(Value::Null), None),
                field("ttl", Some(json!(60)), Some(json!(300))),
            ],
        );
        assert!(makes_a_difference(&real));
        // A value that becomes null is a change.
        let cleared = change(
            Action::Update,
            vec![field("ttl", Some(json!(60)), Some(Value::Null))],
        );
        assert!(makes_a_difference(&cleared));
        // An update that lists no field is the provider's word alone.
        assert!(makes_a_difference(&change(Action::Update, Vec::new())));
        assert!(!makes_a_difference(&change(Action::NoOp, Vec::new())));
        assert!(makes_a_difference(&change(Action::Create, Vec::new())));
    }

    #[test]
    fn a_whole_document_as_one_field_has_its_secrets_withheld() {
        let info = FakeProvider::new("dns")
            .with_type("record", &[], &["password"])
            .info()
            .clone();
        let created = change(
            Action::Create,
            vec![field(
                "",
                None,
                Some(json!({"name": "ada", "password": "hunter2"})),
            )],
        );
        let shown = shown_fields(&info, &created);
        assert_eq!(
            shown[0].after,
            Some(json!({"name": "ada", "password": "(sensitive)"}))
        );
    }

    #[test]
    fn shown_fields_drop_nulls_and_withhold_secrets() {
        let info = FakeProvider::new("dns")
            .with_type("record", &[], &["password"])
            .info()
            .clone();
        let answer = change(
            Action::Update,
            vec![
                field("comment", Some(Value::Null), None),
                field("password/hash", Some(json!("a")), Some(json!("b"))),
                field("ttl", Some(json!(60)), Some(json!(300))),
            ],
        );
        let shown = shown_fields(&info, &answer);
        let paths: Vec<&str> = shown.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["password/hash", "ttl"]);
        assert!(shown[0].sensitive);
        assert_eq!(shown[0].after, Some(json!("(sensitive)")));
    }

    #[test]
    fn a_report_names_the_fields_with_both_values() {
        let info = FakeProvider::new("dns")
            .with_type("record", &[], &["password"])
            .info()
            .clone();
        let one = change(
            Action::Update,
            vec![field("ttl", Some(json!("300")), Some(json!(300)))],
        );
        assert_eq!(
            verdict("dns", &info, Seen::Observed, &one).as_deref(),
            Some(r#"provider `dns` did not converge on ttl (applied 300, observed "300")"#)
        );
        assert_eq!(
            verdict("dns", &info, Seen::Returned, &one).as_deref(),
            Some(r#"provider `dns` did not converge on ttl (applied 300, apply returned "300")"#)
        );
        let many = change(
            Action::Update,
            vec![
                field("a", None, Some(json!(1))),
                field("b", Some(json!(2)), None),
                field("c", Some(json!("x".repeat(200))), Some(json!(3))),
                field("d", Some(json!(4)), Some(json!(5))),
                field("password", Some(json!("old")), Some(json!("new"))),
            ],
        );
        let text = verdict("dns", &info, Seen::Observed, &many).unwrap();
        assert_eq!(
            text,
            format!(
                "provider `dns` did not converge on a (applied 1, observed (unset)), b (applied (unset), observed 2), c (applied 3, observed \"{}…) and 2 more field(s)",
                "x".repeat(VALUE_SHOWN - 1)
            )
        );
        let secret = change(
            Action::Update,
            vec![field("password", Some(json!("old")), Some(json!("new")))],
        );
        let text = verdict("dns", &info, Seen::Observed, &secret).unwrap();
        assert!(!text.contains("old") && !text.contains("new"), "{text}");
        assert_eq!(
            verdict(
                "dns",
                &info,
                Seen::Observed,
                &change(Action::Create, Vec::new())
            )
            .as_deref(),
            Some(
                "provider `dns` did not converge: the object it applied is not there when observed"
            )
        );
        assert_eq!(
            verdict(
                "dns",
                &info,
                Seen::Observed,
                &change(Action::Update, Vec::new())
            )
            .as_deref(),
            Some(
                "provider `dns` did not converge: comparing the spec applied with what it observed still says `the summary`"
            )
        );
        let nulls = change(
            Action::Update,
            vec![field("comment", Some(Value::Null), None)],
        );
        assert_eq!(verdict("dns", &info, Seen::Observed, &nulls), None);
    }

    fn made<'a>(change: &'a Change, returned: Option<&'a Value>) -> Made<'a> {
        Made {
            change,
            returned,
            sensitive: &[],
            ignore_changes: &[],
        }
    }

    fn applied(id: &str, spec: Value) -> Change {
        Change {
            type_name: "record".into(),
            id: id.into(),
            action: Action::Create,
            summary: format!("create {id}"),
            fields: Vec::new(),
            desired: Some(spec),
            observed: None,
            diagnostics: Vec::new(),
            recheck_after_ms: None,
            holds: Vec::new(),
            notice: None,
        }
    }

    #[tokio::test]
    async fn the_world_after_an_apply_is_compared_by_the_provider() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        // As applied; read back shaped differently; with a null the spec
        // omits; and not there at all.
        dns.put("record", "same", json!({"ttl": 300}));
        dns.put("record", "shaped", json!({"ttl": "300"}));
        dns.put("record", "null", json!({"ttl": 300, "comment": null}));
        let same = applied("same", json!({"ttl": 300}));
        let shaped = applied("shaped", json!({"ttl": 300}));
        let null = applied("null", json!({"ttl": 300}));
        let gone = applied("gone", json!({"ttl": 300}));
        let spec = json!({"ttl": 300});
        let verdicts = check(
            "dns",
            &dns,
            &[
                made(&same, Some(&spec)),
                made(&shaped, Some(&spec)),
                made(&null, Some(&spec)),
                made(&gone, Some(&spec)),
            ],
        )
        .await;
        assert_eq!(
            verdicts,
            [
                None,
                Some(r#"provider `dns` did not converge on ttl (applied 300, observed "300")"#.to_string()),
                None,
                Some("provider `dns` did not converge: the object it applied is not there when observed".to_string()),
            ]
        );
        // One observation and one comparison for the batch, of what is
        // not exactly the spec applied: the returned state is compared too
        // where it is neither what was observed nor the spec.
        assert_eq!(
            dns.calls(),
            [
                Call::List(vec![
                    "gone".into(),
                    "null".into(),
                    "same".into(),
                    "shaped".into()
                ]),
                Call::Diff(vec![
                    "record/shaped".into(),
                    "record/null".into(),
                    "record/gone".into(),
                ]),
            ]
        );
    }

    #[tokio::test]
    async fn a_batch_read_back_exactly_as_applied_is_not_compared() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        dns.put("record", "www", json!({"ttl": 60, "weight": 1}));
        dns.put("record", "api", json!({"ttl": 300}));
        // The `ttl` of www is ignored: taken as observed, the rest as
        // applied.
        let www = applied("www", json!({"ttl": 300, "weight": 1}));
        let api = applied("api", json!({"ttl": 300}));
        let ignored = ["ttl".to_string()];
        let returned = json!({"ttl": 300});
        let verdicts = check(
            "dns",
            &dns,
            &[
                Made {
                    change: &www,
                    returned: None,
                    sensitive: &[],
                    ignore_changes: &ignored,
                },
                made(&api, Some(&returned)),
            ],
        )
        .await;
        assert_eq!(verdicts, [None, None]);
        assert_eq!(dns.calls(), [Call::List(vec!["api".into(), "www".into()])]);
    }

    /// What only the client keeps (a write-only field) is never observed:
    /// a returned state that differs from the observed one only there is
    /// not compared again, one that differs elsewhere is.
    #[tokio::test]
    async fn a_returned_state_differing_only_in_write_only_fields_is_the_observed_one() {
        let schema = json!({"properties": {"mark": {"type": "string", "writeOnly": true}}});
        let dns = FakeProvider::new("dns")
            .with_type("record", &[], &[])
            .with_schema("record", schema);
        dns.put("record", "www", json!({"ttl": 300}));
        dns.put("record", "api", json!({"ttl": 300}));
        let www = applied("www", json!({"ttl": 300}));
        let api = applied("api", json!({"ttl": 300}));
        let marked = json!({"ttl": 300, "mark": "applied"});
        let moved = json!({"ttl": 60, "mark": "applied"});
        let verdicts = check(
            "dns",
            &dns,
            &[made(&www, Some(&marked)), made(&api, Some(&moved))],
        )
        .await;
        assert_eq!(
            verdicts,
            [
                None,
                Some(
                    "provider `dns` did not converge on mark (applied (unset), apply returned \"applied\"), \
                     ttl (applied 300, apply returned 60)"
                        .to_string()
                )
            ]
        );
        assert_eq!(
            dns.calls(),
            [
                Call::List(vec!["api".into(), "www".into()]),
                Call::Diff(vec!["record/api".into()]),
            ]
        );
    }

    #[tokio::test]
    async fn a_returned_state_the_provider_disowns_is_reported() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        dns.put("record", "www", json!({"ttl": 300}));
        let www = applied("www", json!({"ttl": 300}));
        let returned = json!({"ttl": 60});
        let verdicts = check("dns", &dns, &[made(&www, Some(&returned))]).await;
        assert_eq!(
            verdicts,
            [Some(
                "provider `dns` did not converge on ttl (applied 300, apply returned 60)"
                    .to_string()
            )]
        );
    }

    #[tokio::test]
    async fn ignored_fields_are_whatever_the_provider_observes() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        dns.put("record", "www", json!({"ttl": 60, "weight": 1}));
        let www = applied("www", json!({"ttl": 300, "weight": 1}));
        let ignored = ["ttl".to_string()];
        let verdicts = check(
            "dns",
            &dns,
            &[Made {
                change: &www,
                returned: None,
                sensitive: &[],
                ignore_changes: &ignored,
            }],
        )
        .await;
        assert_eq!(verdicts, [None]);
    }

    #[tokio::test]
    async fn without_an_observation_the_returned_state_is_compared() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        dns.fail("list");
        let www = applied("www", json!({"ttl": 300}));
        let returned = json!({"ttl": "300"});
        let verdicts = check("dns", &dns, &[made(&www, Some(&returned))]).await;
        assert_eq!(
            verdicts,
            [Some(
                r#"provider `dns` did not converge on ttl (applied 300, apply returned "300")"#
                    .to_string()
            )]
        );
        // Nothing to compare with: the next plan finds out.
        let verdicts = check("dns", &dns, &[made(&www, None)]).await;
        assert_eq!(verdicts, [None]);
    }

    #[tokio::test]
    async fn a_check_that_cannot_compare_reports_nothing() {
        let dns = FakeProvider::new("dns").with_type("record", &[], &[]);
        dns.fail("diff");
        let www = applied("www", json!({"ttl": 300}));
        let verdicts = check("dns", &dns, &[made(&www, None)]).await;
        assert_eq!(verdicts, [None]);
    }
}
