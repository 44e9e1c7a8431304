//! The planner's rules, one row each: the world before — what Git
//! declares, what the inventory holds, what exists — and the whole plan
//! expected: the calls the providers received, every change in order with
//! its summary, dependencies, drift flag and fields, the notes, what
//! blocks it and how much was unchanged; or the error, word for word.
//!
//! The providers are in-memory fakes and the inventory a value, so the
//! rows run in milliseconds.

use super::*;
use crate::model::diagnostic::Location;
use crate::model::{DesiredResource, Lifecycle, OnDelete};
use crate::plan::digest;
use crate::plan::fake::{Call, FakeProvider};
use crate::source::CommitInfo;
use crate::store::{Divergence, OwnedResource};
use cairn_contract::Action;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The commit every row plans.
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The sha256 of the `dns` provider's plugin.
const DNS_PLUGIN: &str = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";

/// What the `dns` provider reported when it did not converge.
const NOT_CONVERGED: &str =
    r#"provider `dns` did not converge on ttl (applied 300, observed "300")"#;

fn address(text: &str) -> Address {
    Address::parse(text).expect("a test address")
}

/// A resource as Git declares it, or as it was last applied.
#[derive(Clone)]
struct Resource {
    address: Address,
    spec: Value,
    lifecycle: Lifecycle,
    depends_on: Vec<Address>,
}

fn resource(text: &str, spec: Value) -> Resource {
    Resource {
        address: address(text),
        spec,
        lifecycle: Lifecycle::default(),
        depends_on: Vec::new(),
    }
}

impl Resource {
    fn protect(mut self) -> Self {
        self.lifecycle.protect = true;
        self
    }

    fn orphan(mut self) -> Self {
        self.lifecycle.on_delete = OnDelete::Orphan;
        self
    }

    fn adopt(mut self) -> Self {
        self.lifecycle.adopt = true;
        self
    }

    fn ignore(mut self, field: &str) -> Self {
        self.lifecycle.ignore_changes.push(field.to_string());
        self
    }

    fn after(mut self, dependency: &str) -> Self {
        self.depends_on.push(address(dependency));
        self
    }
}

/// Everything a plan is computed from.
struct World {
    settings: PlanSettings,
    scope: PlanScope,
    desired: Vec<DesiredResource>,
    inventory: Inventory,
    providers: Providers<FakeProvider>,
}

/// `dns` manages zones and records; a record's `type` cannot change in
/// place, and its `password` is a secret.
fn dns() -> FakeProvider {
    FakeProvider::new("dns")
        .with_type("zone", &[], &[])
        .with_type("record", &["type"], &["password"])
}

fn world() -> World {
    World {
        settings: PlanSettings {
            tenant: "acme".to_string(),
            allow_adopt: true,
            max_delete_percent: 30,
            max_changes: 100,
            plugins: BTreeMap::from([("dns".to_string(), DNS_PLUGIN.to_string())]),
            chaos: true,
            halt: false,
        },
        scope: PlanScope::Full,
        desired: Vec::new(),
        inventory: Inventory::default(),
        providers: BTreeMap::from([("dns".to_string(), Arc::new(dns()))]),
    }
}

impl World {
    fn provider(&self, address: &Address) -> &FakeProvider {
        &self.providers[&address.provider]
    }

    /// Git declares it.
    fn declared(mut self, resource: Resource) -> Self {
        let line = self.desired.len() + 1;
        self.desired.push(DesiredResource {
            address: resource.address,
            spec: crate::model::Spec::new(&resource.spec),
            depends_on: resource.depends_on,
            lifecycle: resource.lifecycle,
            origin: Location {
                file: "resources.toml".to_string(),
                line,
                column: 1,
            },
        });
        self
    }

    /// The inventory holds it, as its last apply left it.
    fn applied(self, resource: Resource) -> Self {
        let state = resource.spec.clone();
        self.owned(resource, Some(state), false)
    }

    /// A create of it was started and not confirmed.
    fn pending(self, resource: Resource) -> Self {
        self.owned(resource, None, true)
    }

    /// The inventory holds it as its last apply left it, when the `dns`
    /// plugin of sha256 `plugin` did not converge on it.
    fn not_converged(mut self, resource: Resource, plugin: &str) -> Self {
        let address = resource.address.clone();
        let state = resource.spec.clone();
        self = self.owned(resource, Some(state), false);
        let owned = self.inventory.owned.get_mut(&address).expect("just owned");
        owned.diverged = Some(Divergence {
            plugin: plugin.to_string(),
            reason: NOT_CONVERGED.to_string(),
        });
        self
    }

    fn owned(mut self, resource: Resource, state: Option<Value>, pending: bool) -> Self {
        self.inventory.owned.insert(
            resource.address.clone(),
            OwnedResource {
                spec_digest: digest(&resource.spec),
                address: resource.address,
                state: state.map(|state| state.to_string()),
                lifecycle: resource.lifecycle,
                depends_on: resource.depends_on,
                commit_id: "previous".to_string(),
                pending,
                diverged: None,
                recheck: false,
            },
        );
        self
    }

    /// Its last recorded change asked to compare it again over time.
    fn recorded_rechecking(mut self, text: &str) -> Self {
        let owned = self
            .inventory
            .owned
            .get_mut(&address(text))
            .expect("an owned resource");
        owned.recheck = true;
        self
    }

    /// The object exists in the real world.
    fn exists(self, text: &str, state: Value) -> Self {
        let address = address(text);
        self.provider(&address)
            .put(&address.type_name, &address.id, state);
        self
    }

    /// It exists and bears the provider instance's owner mark: the
    /// provider vouches that it made it.
    fn made_by_us(self, text: &str, state: Value) -> Self {
        let address = address(text);
        let provider = self.provider(&address);
        provider.put(&address.type_name, &address.id, state);
        provider.mark(&address.type_name, &address.id);
        self
    }

    /// The provider asks to compare it again after `seconds`.
    fn recheck(self, text: &str, seconds: u64) -> Self {
        let address = address(text);
        self.provider(&address)
            .recheck(&address.type_name, &address.id, seconds);
        self
    }

    /// Declared, applied, and the world as the apply left it.
    fn in_sync(self, resource: Resource) -> Self {
        let text = resource.address.to_string();
        let spec = resource.spec.clone();
        self.declared(resource.clone())
            .applied(resource)
            .exists(&text, spec)
    }

    /// Run `run` was sending a change to it when the process died.
    fn interrupted(mut self, text: &str, run: i64) -> Self {
        self.inventory.interrupted.insert(address(text), run);
        self
    }

    /// The provider's `diff` answers this for it, whatever the rule says.
    fn answers(self, text: &str, action: Action, summary: &str) -> Self {
        let address = address(text);
        self.provider(&address)
            .answer(&address.type_name, &address.id, action, summary);
        self
    }

    fn with_provider(mut self, provider: FakeProvider) -> Self {
        let name = provider.info().name.clone();
        self.providers.insert(name, Arc::new(provider));
        self
    }

    fn without_provider(mut self, name: &str) -> Self {
        self.providers.remove(name);
        self
    }

    fn failing(self, provider: &str, function: &'static str) -> Self {
        self.providers[provider].fail(function);
        self
    }

    fn settings(mut self, change: impl FnOnce(&mut PlanSettings)) -> Self {
        change(&mut self.settings);
        self
    }

    fn scope(mut self, scope: PlanScope) -> Self {
        self.scope = scope;
        self
    }

    fn desired_state(&self) -> DesiredState {
        DesiredState {
            commit: CommitInfo {
                id: COMMIT.to_string(),
                author: "Ada <ada@example.org>".to_string(),
                summary: "the change".to_string(),
                time: 1_700_000_000,
            },
            resources: self.desired.iter().cloned().map(Arc::new).collect(),
            warnings: Vec::new(),
            signer: None,
        }
    }

    async fn plan(&self) -> Result<Plan, PlanError> {
        plan_against(
            &self.settings,
            &self.providers,
            &self.desired_state(),
            std::sync::Arc::new(self.inventory.clone()),
            self.scope,
        )
        .await
    }

    /// [`World::plan`] of a full plan with the inventory still being read
    /// ([`plan_reading`]).
    async fn plan_reading(&self) -> Result<Plan, PlanError> {
        let inventory = std::sync::Arc::new(self.inventory.clone());
        plan_reading(
            &self.settings,
            &self.providers,
            &self.desired_state(),
            async move {
                tokio::task::yield_now().await;
                Ok(inventory)
            },
        )
        .await
    }

    /// `holder` holds `held` for `ms` (contract 0.3.0's holds), as its
    /// provider's `diff` says.
    fn holds(self, holder: &str, held: &str, ms: u64) -> Self {
        let holder = address(holder);
        let held = address(held);
        self.provider(&holder).hold(
            &holder.type_name,
            &holder.id,
            Hold {
                provider: held.provider,
                type_name: held.type_name,
                id: held.id,
                until_ms: ms,
            },
        );
        self
    }

    /// The calls the providers received, one line each.
    fn calls(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, provider) in &self.providers {
            for call in provider.calls() {
                lines.push(match call {
                    Call::List(ids) => format!("list {name}: {}", ids.join(", ")),
                    Call::Diff(inputs) => format!("diff {name}: {}", inputs.join(", ")),
                    Call::Apply(changes) => format!("apply {name}: {}", changes.join(", ")),
                });
            }
        }
        lines
    }
}

fn value(value: Option<&Value>) -> String {
    value.map_or_else(|| "-".to_string(), Value::to_string)
}

/// A plan, one line per fact.
fn render(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for change in &plan.changes {
        let drift = if change.drift { " [drift]" } else { "" };
        let after = if change.depends_on.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = change.depends_on.iter().map(Address::to_string).collect();
            format!(" after {}", list.join(", "))
        };
        lines.push(format!(
            "{} {}{drift}{after}: {}",
            change.action.as_str(),
            change.address,
            change.summary
        ));
        for field in &change.fields {
            lines.push(format!(
                "field {}: {} -> {}",
                field.path,
                value(field.before.as_ref()),
                value(field.after.as_ref())
            ));
        }
    }
    lines.extend(plan.notes.iter().map(|note| format!("note: {note}")));
    lines.extend(
        plan.diverged
            .iter()
            .map(|held| format!("held {}: {}", held.address, held.reason)),
    );
    lines.extend(plan.held.iter().map(|held| {
        format!(
            "held {} by {} for {} ms{}",
            held.address,
            held.by,
            held.for_ms,
            held.withheld
                .as_ref()
                .map(|change| format!(", withholding: {change}"))
                .unwrap_or_default()
        )
    }));
    lines.extend(plan.scheduled.iter().map(|scheduled| {
        format!(
            "scheduled {} in {} ms: {}",
            scheduled.address, scheduled.after_ms, scheduled.summary
        )
    }));
    lines.extend(plan.blocked.iter().map(|why| format!("blocked: {why}")));
    if let Some(after) = plan.recheck_after {
        lines.push(format!("recheck after: {} s", after.as_secs()));
    }
    if let crate::plan::Examined::Only(examined) = &plan.examined {
        let mut examined: Vec<String> = examined.iter().map(Address::to_string).collect();
        examined.sort();
        lines.push(format!("examined: {}", examined.join(", ")));
    }
    lines.push(format!("unchanged: {}", plan.unchanged));
    lines
}

/// Plans `world` and compares the calls and the plan (or the error) with
/// `expected`, line by line, leading blanks ignored.
async fn check(world: World, expected: &str) {
    let outcome = world.plan().await;
    let mut actual = world.calls();
    match &outcome {
        Ok(plan) => actual.extend(render(plan)),
        Err(error) => actual.extend(format!("error: {error}").lines().map(str::to_string)),
    }
    let actual: Vec<String> = actual.iter().map(|l| l.trim().to_string()).collect();
    // A full plan made while the inventory is read is the same plan (its
    // calls may differ: what left Git is listed apart).
    if world.scope == PlanScope::Full {
        let rendered = |outcome: &Result<Plan, PlanError>| match outcome {
            Ok(plan) => render(plan),
            Err(error) => vec![format!("error: {error}")],
        };
        assert_eq!(
            rendered(&world.plan_reading().await),
            rendered(&outcome),
            "a plan made while the inventory is read differs"
        );
    }
    let expected: Vec<String> = expected
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(
        actual,
        expected,
        "the plan, in full:\n{}",
        actual.join("\n")
    );
}

/// One test per row: `name: world => expected;`.
macro_rules! rules {
    ($($(#[doc = $doc:literal])* $name:ident: $world:expr => $expected:expr;)+) => {
        $(
            $(#[doc = $doc])*
            #[tokio::test]
            async fn $name() {
                check($world, $expected).await;
            }
        )+
    };
}

rules! {
    /// An object Git declares and the world lacks is created.
    create: world().declared(resource("dns/record/www", json!({"ttl": 300}))) => "
        list dns: www
        diff dns: record/www
        create dns/record/www: create record www
        field ttl: - -> 300
        unchanged: 0
    ";

    /// Git changed a field: the provider updates it in place.
    update: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .applied(resource("dns/record/www", json!({"ttl": 60})))
        .exists("dns/record/www", json!({"ttl": 60}))
    => "
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: ttl
        field ttl: 60 -> 300
        unchanged: 0
    ";

    /// A field that cannot change in place replaces the object.
    replace: world()
        .declared(resource("dns/record/www", json!({"type": "AAAA", "ttl": 300})))
        .applied(resource("dns/record/www", json!({"type": "A", "ttl": 300})))
        .exists("dns/record/www", json!({"type": "A", "ttl": 300}))
    => r#"
        list dns: www
        diff dns: record/www
        replace dns/record/www: replace record www: type
        field type: "A" -> "AAAA"
        unchanged: 0
    "#;

    /// An owned object that left Git is deleted.
    delete: world()
        .applied(resource("dns/record/old", json!({"ttl": 300})))
        .exists("dns/record/old", json!({"ttl": 300}))
    => "
        list dns: old
        diff dns: record/old
        delete dns/record/old: delete record old
        field ttl: 300 -> -
        unchanged: 0
    ";

    /// `adopt = true` takes over a matching object Cairn did not create.
    adopt: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})).adopt())
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        adopt dns/record/www: take over the existing object, which already matches
        unchanged: 0
    ";

    /// An adopted object that differs from Git is updated, and owned then.
    adopt_of_a_different_object_updates_it: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})).adopt())
        .exists("dns/record/www", json!({"ttl": 60}))
    => "
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: ttl
        field ttl: 60 -> 300
        unchanged: 0
    ";

    /// The operator's `allow_adopt = false` refuses every adoption, before
    /// any comparison.
    adopt_refused_by_the_tenant: world()
        .settings(|s| s.allow_adopt = false)
        .declared(resource("dns/record/www", json!({"ttl": 300})).adopt())
        .declared(resource("dns/record/new", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: new, www
        error: 1 resource(s) say `adopt = true`, but this tenant may not take over objects Cairn did not create for it (the operator's `allow_adopt`); nothing was applied:
          dns/record/www
    ";

    /// An object Cairn did not create, declared without `adopt`, stops
    /// the plan, naming every such resource.
    conflict_without_adopt: world()
        .declared(resource("dns/record/a", json!({"ttl": 300})))
        .declared(resource("dns/record/b", json!({"ttl": 300})))
        .declared(resource("dns/record/c", json!({"ttl": 300})).adopt())
        .exists("dns/record/a", json!({"ttl": 300}))
        .exists("dns/record/b", json!({"ttl": 60}))
    => "
        list dns: a, b, c
        error: 2 resource(s) of the repository already exist, and Cairn did not create them; nothing was applied:
          dns/record/a
          dns/record/b
        To take such an object over, add `adopt = true` to its resource; otherwise remove the resource from Git or the object from the server
    ";

    /// An object the store has no record of (it was lost or restored
    /// from an old copy) but that its provider vouches it made for this
    /// tenant is recorded as the tenant's own, without `adopt` and even
    /// where the operator allows no adoption; one that differs from Git is
    /// updated. An unmarked one beside them is still a conflict.
    vouched_objects_are_the_tenants_own_after_a_lost_store: world()
        .settings(|s| s.allow_adopt = false)
        .declared(resource("dns/record/a", json!({"ttl": 300})))
        .declared(resource("dns/record/b", json!({"ttl": 300})))
        .made_by_us("dns/record/a", json!({"ttl": 300}))
        .made_by_us("dns/record/b", json!({"ttl": 60}))
    => "
        list dns: a, b
        diff dns: record/a, record/b
        adopt dns/record/a: record the existing object, which matches: its provider vouches that it made it for this tenant
        update dns/record/b: update record b: ttl
        field ttl: 60 -> 300
        unchanged: 0
    ";

    /// A vouch covers only the objects that bear the mark.
    a_vouch_covers_only_marked_objects: world()
        .declared(resource("dns/record/a", json!({"ttl": 300})))
        .declared(resource("dns/record/b", json!({"ttl": 300})))
        .made_by_us("dns/record/a", json!({"ttl": 300}))
        .exists("dns/record/b", json!({"ttl": 300}))
    => "
        list dns: a, b
        error: 1 resource(s) of the repository already exist, and Cairn did not create them; nothing was applied:
          dns/record/b
        To take such an object over, add `adopt = true` to its resource; otherwise remove the resource from Git or the object from the server
    ";

    /// A resource whose provider asked to compare it again over time is
    /// compared though Git and the world did not move (the one beside it
    /// is not), and the soonest `recheck-after` of the compared
    /// resources, a no-op's included, is the plan's.
    the_soonest_recheck_is_the_plans: world()
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/a")
        .in_sync(resource("dns/record/c", json!({"ttl": 300})))
        .declared(resource("dns/record/b", json!({"ttl": 300})))
        .recheck("dns/record/a", 30)
        .recheck("dns/record/b", 600)
        .recheck("dns/record/c", 5)
    => "
        list dns: a, b, c
        diff dns: record/a, record/b
        create dns/record/b: create record b
        field ttl: - -> 300
        scheduled dns/record/a in 30000 ms: record a matches
        recheck after: 30 s
        unchanged: 2
    ";

    /// A change of a resource whose provider asks to compare it over time
    /// is its schedule, not drift: Git did not move, time did.
    a_scheduled_change_is_not_drift: world()
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/a")
        .exists("dns/record/a", json!({"ttl": 60}))
        .recheck("dns/record/a", 1)
    => "
        list dns: a
        diff dns: record/a
        update dns/record/a: update record a: ttl
        field ttl: 60 -> 300
        recheck after: 1 s
        unchanged: 0
    ";

    /// A resource held by another (a chaos run's target) gets no change
    /// while the hold lasts, drift or Git's: the plan names the change it
    /// withholds; the longest hold counts, at most an hour; a resource
    /// holding itself holds nothing; the holder's own change goes on, and
    /// a no-op that asks to be compared again is scheduled.
    a_held_resource_gets_no_change_while_the_hold_lasts: world()
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .exists("dns/record/a", json!({"ttl": 60}))
        .in_sync(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/b", json!({"ttl": 60}))
        .declared(resource("dns/record/c", json!({"ttl": 300})))
        .in_sync(resource("dns/record/x", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/x")
        .recheck("dns/record/x", 4)
        .holds("dns/record/x", "dns/record/a", 5_000)
        .holds("dns/record/x", "dns/record/a", 9_000)
        .holds("dns/record/x", "dns/record/c", 99_999_999)
        .holds("dns/record/x", "dns/record/x", 5_000)
    => "
        list dns: a, b, c, x
        diff dns: record/a, record/b, record/c, record/x
        update dns/record/b [drift]: update record b: ttl
        field ttl: 60 -> 300
        held dns/record/a by dns/record/x for 9000 ms, withholding: update record a: ttl
        held dns/record/c by dns/record/x for 3600000 ms, withholding: create record c
        scheduled dns/record/x in 4000 ms: record x matches
        recheck after: 4 s
        unchanged: 1
    ";

    /// Holds are chaos experiments': without `chaos = true` for the
    /// tenant, one stops the plan.
    a_hold_without_chaos_stops_the_plan: world()
        .settings(|s| s.chaos = false)
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .in_sync(resource("dns/record/x", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/x")
        .holds("dns/record/x", "dns/record/a", 5_000)
    => "
        list dns: a, x
        diff dns: record/x
        error: dns/record/x holds dns/record/a away from its desired state (a chaos experiment's target), and chaos experiments are off for this tenant; nothing was applied. The operator turns them on with `chaos = true` in [tenants.acme] of cairn.toml
    ";

    /// A provider that stops asking to compare a resource again has that
    /// recorded, so that later plans skip it again while nothing moves.
    a_recheck_no_longer_asked_for_is_recorded: world()
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/a")
    => "
        list dns: a
        diff dns: record/a
        refresh dns/record/a: record that its provider asks to compare it again over time, or no longer does; the object is not touched
        unchanged: 0
    ";

    /// Conflicts are reported before refused adoptions.
    conflicts_come_before_refused_adoptions: world()
        .settings(|s| s.allow_adopt = false)
        .declared(resource("dns/record/a", json!({"ttl": 300})).adopt())
        .declared(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/a", json!({"ttl": 300}))
        .exists("dns/record/b", json!({"ttl": 300}))
    => "
        list dns: a, b
        error: 1 resource(s) of the repository already exist, and Cairn did not create them; nothing was applied:
          dns/record/b
        To take such an object over, add `adopt = true` to its resource; otherwise remove the resource from Git or the object from the server
    ";

    /// A new lifecycle flag is recorded though the world needs no change.
    refresh_when_the_lifecycle_changed: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})).protect())
        .applied(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        refresh dns/record/www: record Git's change (lifecycle, dependencies or ignored fields); the object is not touched
        unchanged: 0
    ";

    /// New dependencies are recorded, and a settled dependency is not
    /// compared.
    refresh_when_dependencies_changed: world()
        .in_sync(resource("dns/zone/z", json!({})))
        .declared(resource("dns/record/www", json!({"ttl": 300})).after("dns/zone/z"))
        .applied(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www, z
        diff dns: record/www
        refresh dns/record/www after dns/zone/z: record Git's change (lifecycle, dependencies or ignored fields); the object is not touched
        unchanged: 1
    ";

    /// A change to an ignored field is recorded, not made.
    refresh_when_an_ignored_field_changed: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})).ignore("ttl"))
        .applied(resource("dns/record/www", json!({"ttl": 60})).ignore("ttl"))
        .exists("dns/record/www", json!({"ttl": 60}))
    => "
        list dns: www
        diff dns: record/www
        refresh dns/record/www: record Git's change (lifecycle, dependencies or ignored fields); the object is not touched
        unchanged: 0
    ";

    /// The world moving an ignored field is neither drift nor a change;
    /// the other fields are still compared.
    ignore_changes: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300, "weight": 1})).ignore("ttl"))
        .exists("dns/record/www", json!({"ttl": 60, "weight": 1}))
        .in_sync(resource("dns/record/api", json!({"ttl": 300, "weight": 1})).ignore("ttl"))
        .exists("dns/record/api", json!({"ttl": 60, "weight": 2}))
    => "
        list dns: api, www
        diff dns: record/www, record/api
        update dns/record/api [drift]: update record api: weight
        field weight: 2 -> 1
        unchanged: 1
    ";

    /// An owned object already gone from the world is forgotten.
    forget_what_is_already_gone: world()
        .applied(resource("dns/record/old", json!({"ttl": 300})))
    => "
        list dns: old
        forget dns/record/old: already gone from the real world; stop tracking it
        unchanged: 0
    ";

    /// `on_delete = "orphan"` leaves the object and forgets it.
    forget_an_orphan: world()
        .applied(resource("dns/record/old", json!({"ttl": 300})).orphan())
        .exists("dns/record/old", json!({"ttl": 300}))
    => r#"
        list dns: old
        forget dns/record/old: left Git; on_delete = "orphan" leaves the object in place
        unchanged: 0
    "#;

    /// A protected object that left Git is kept, with a note.
    protect_when_leaving_git: world()
        .applied(resource("dns/record/old", json!({"ttl": 300})).protect())
        .exists("dns/record/old", json!({"ttl": 300}))
    => "
        list dns: old
        note: dns/record/old left Git but is protected: it is kept (remove `protect = true` and apply before removing it, to delete it)
        unchanged: 0
    ";

    /// A protected object the provider would replace is left as it is.
    protect_against_a_replace: world()
        .declared(resource("dns/record/www", json!({"type": "AAAA"})).protect())
        .applied(resource("dns/record/www", json!({"type": "A"})).protect())
        .exists("dns/record/www", json!({"type": "A"}))
    => "
        list dns: www
        diff dns: record/www
        note: dns/record/www is protected: the provider would replace it (replace record www: type), so it is left as it is
        unchanged: 0
    ";

    /// What a protected object depends on is kept with it.
    kept_dependency_of_a_protected_object: world()
        .applied(resource("dns/zone/z", json!({})))
        .applied(resource("dns/record/www", json!({"ttl": 300})).protect().after("dns/zone/z"))
        .exists("dns/zone/z", json!({}))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www, z
        diff dns: zone/z
        note: dns/record/www left Git but is protected: it is kept (remove `protect = true` and apply before removing it, to delete it)
        note: dns/zone/z left Git but is kept: dns/record/www, which stays, depends on it
        unchanged: 0
    ";

    /// What an orphaned object depends on is kept too, and so is what
    /// that depends on.
    kept_dependencies_of_an_orphan: world()
        .applied(resource("dns/zone/parent", json!({})))
        .applied(resource("dns/zone/z", json!({})).after("dns/zone/parent"))
        .applied(resource("dns/record/www", json!({"ttl": 300})).orphan().after("dns/zone/z"))
        .exists("dns/zone/parent", json!({}))
        .exists("dns/zone/z", json!({}))
        .exists("dns/record/www", json!({"ttl": 300}))
    => r#"
        list dns: parent, www, z
        diff dns: zone/parent, zone/z
        forget dns/record/www: left Git; on_delete = "orphan" leaves the object in place
        note: dns/zone/parent left Git but is kept: dns/zone/z, which stays, depends on it
        note: dns/zone/z left Git but is kept: dns/record/www, which stays, depends on it
        unchanged: 0
    "#;

    /// Creates carry their dependencies, for apply to order them.
    depends_on_orders_creates: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})).after("dns/zone/z"))
        .declared(resource("dns/zone/z", json!({})))
    => "
        list dns: www, z
        diff dns: record/www, zone/z
        create dns/record/www after dns/zone/z: create record www
        field ttl: - -> 300
        create dns/zone/z: create zone z
        unchanged: 0
    ";

    /// A delete waits for the deletes of what depended on it.
    depends_on_orders_deletes: world()
        .applied(resource("dns/zone/z", json!({})))
        .applied(resource("dns/record/www", json!({"ttl": 300})).after("dns/zone/z"))
        .exists("dns/zone/z", json!({}))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www, z
        diff dns: record/www, zone/z
        delete dns/record/www: delete record www
        field ttl: 300 -> -
        delete dns/zone/z after dns/record/www: delete zone z
        unchanged: 0
    ";

    /// Changes come provider by provider, then deletes, then forgets.
    order_of_kinds: world()
        .with_provider(FakeProvider::new("idp").with_type("user", &[], &[]))
        .declared(resource("idp/user/ada", json!({"mail": "ada@example.org"})))
        .declared(resource("dns/record/new", json!({"ttl": 300})))
        .applied(resource("dns/record/gone", json!({"ttl": 300})))
        .applied(resource("dns/record/old", json!({"ttl": 300})))
        .exists("dns/record/old", json!({"ttl": 300}))
    => r#"
        list dns: gone, new, old
        diff dns: record/new, record/old
        list idp: ada
        diff idp: user/ada
        create dns/record/new: create record new
        field ttl: - -> 300
        create idp/user/ada: create user ada
        field mail: - -> "ada@example.org"
        delete dns/record/old: delete record old
        field ttl: 300 -> -
        forget dns/record/gone: already gone from the real world; stop tracking it
        unchanged: 0
    "#;

    /// Deleting more than `max_delete_percent` of a provider's objects
    /// blocks the plan.
    safety_blocks_above_the_threshold: ten_records_two_leaving()
        .settings(|s| s.max_delete_percent = 10)
    => "
        list dns: r0, r1, r2, r3, r4, r5, r6, r7, r8, r9
        diff dns: record/r0, record/r1
        delete dns/record/r0: delete record r0
        field ttl: 300 -> -
        delete dns/record/r1: delete record r1
        field ttl: 300 -> -
        blocked: the plan deletes or replaces 2 of the 10 objects provider `dns` owns (20%), more than max_delete_percent = 10
        unchanged: 8
    ";

    /// Exactly `max_delete_percent` is allowed.
    safety_allows_the_threshold: ten_records_two_leaving()
        .settings(|s| s.max_delete_percent = 20)
    => "
        list dns: r0, r1, r2, r3, r4, r5, r6, r7, r8, r9
        diff dns: record/r0, record/r1
        delete dns/record/r0: delete record r0
        field ttl: 300 -> -
        delete dns/record/r1: delete record r1
        field ttl: 300 -> -
        unchanged: 8
    ";

    /// Below `SAFETY_MIN_OWNED` owned objects nothing is blocked.
    safety_ignores_small_providers: world()
        .settings(|s| s.max_delete_percent = 10)
        .applied(resource("dns/record/a", json!({"ttl": 300})))
        .exists("dns/record/a", json!({"ttl": 300}))
        .applied(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/b", json!({"ttl": 300}))
    => "
        list dns: a, b
        diff dns: record/a, record/b
        delete dns/record/a: delete record a
        field ttl: 300 -> -
        delete dns/record/b: delete record b
        field ttl: 300 -> -
        unchanged: 0
    ";

    /// A plan larger than the tenant's quota is refused.
    quota_exceeded: world()
        .settings(|s| s.max_changes = 1)
        .declared(resource("dns/record/a", json!({"ttl": 300})))
        .declared(resource("dns/record/b", json!({"ttl": 300})))
    => "
        list dns: a, b
        diff dns: record/a, record/b
        error: quota exceeded: the number of changes in the plan is 2, more than `quotas.plan_changes = 1` allows. Nothing was applied; make the commit smaller or split it over several tenants, or ask the operator to raise `quotas.plan_changes` in [tenants.NAME.quotas]
    ";

    /// A create a crash interrupted, which the world shows made, is
    /// recorded.
    interrupted_create_took_effect: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .pending(resource("dns/record/www", json!({"ttl": 300})))
        .interrupted("dns/record/www", 7)
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        adopt dns/record/www: the change interrupted in run #7 took effect: record it
        unchanged: 0
    ";

    /// An update a crash interrupted, which took effect, is recorded.
    interrupted_update_took_effect: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .applied(resource("dns/record/www", json!({"ttl": 60})))
        .interrupted("dns/record/www", 7)
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        adopt dns/record/www: the change interrupted in run #7 took effect: record it
        unchanged: 0
    ";

    /// A change a crash interrupted before it took effect is made again.
    interrupted_create_made_again: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .pending(resource("dns/record/www", json!({"ttl": 300})))
        .interrupted("dns/record/www", 7)
    => "
        list dns: www
        diff dns: record/www
        create dns/record/www: create record www (again: run #7 was interrupted)
        field ttl: - -> 300
        unchanged: 0
    ";

    /// An interrupted change whose resource is settled in Git is still
    /// compared, though the world looks as last applied.
    interrupted_change_is_compared: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300})))
        .interrupted("dns/record/www", 7)
    => "
        list dns: www
        diff dns: record/www
        adopt dns/record/www: the change interrupted in run #7 took effect: record it
        unchanged: 0
    ";

    /// The world edited outside Cairn, Git unmoved: the repair is drift.
    drift_of_an_edited_object: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 60}))
    => "
        list dns: www
        diff dns: record/www
        update dns/record/www [drift]: update record www: ttl
        field ttl: 60 -> 300
        unchanged: 0
    ";

    /// An object removed outside Cairn is created again, as drift.
    drift_of_a_removed_object: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .applied(resource("dns/record/www", json!({"ttl": 300})))
    => "
        list dns: www
        diff dns: record/www
        create dns/record/www [drift]: create record www
        field ttl: - -> 300
        unchanged: 0
    ";

    /// Git settled and the world as last applied: nothing to compare.
    settled_resources_are_not_compared: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300})))
    => "
        list dns: www
        unchanged: 1
    ";

    /// Owned objects of a provider cairn.toml dropped stop the plan before
    /// any call.
    provider_gone_from_the_configuration: world()
        .with_provider(FakeProvider::new("idp").with_type("user", &[], &[]))
        .applied(resource("idp/user/ada", json!({})))
        .without_provider("idp")
    => "
        error: Cairn owns 1 object(s) of provider `idp`, which cairn.toml no longer configures (such as idp/user/ada); configure it again so they can be deleted or kept
    ";

    /// A provider may not delete what Git declares.
    provider_deleting_a_declared_resource: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 60}))
        .answers("dns/record/www", Action::Delete, "delete record www")
    => "
        list dns: www
        diff dns: record/www
        error: provider `dns` broke the contract in `diff`: it proposed deleting dns/record/www, which the repository declares
    ";

    /// A provider that cannot observe stops the plan.
    provider_failing_to_list: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .failing("dns", "list")
    => "
        list dns: www
        error: provider `dns` failed in `list`: the server does not answer (unavailable)
    ";

    /// A provider that cannot compare stops the plan.
    provider_failing_to_diff: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .failing("dns", "diff")
    => "
        list dns: www
        diff dns: record/www
        error: provider `dns` failed in `diff`: the server does not answer (unavailable)
    ";

    /// The values of sensitive fields never enter the plan.
    sensitive_values_are_withheld: world()
        .declared(resource("dns/record/www", json!({"password": "new", "ttl": 300})))
        .applied(resource("dns/record/www", json!({"password": "old", "ttl": 60})))
        .exists("dns/record/www", json!({"password": "old", "ttl": 60}))
    => r#"
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: password, ttl
        field password: "(sensitive)" -> "(sensitive)"
        field ttl: 60 -> 300
        unchanged: 0
    "#;

    /// A plan of what Git moved observes and compares only that, what
    /// depends on it and what left Git; the rest counts as unchanged,
    /// unexamined.
    changed_scope_leaves_unmoved_resources_unexamined: world()
        .scope(PlanScope::Changed)
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .in_sync(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/b", json!({"ttl": 60}))
        .declared(resource("dns/zone/c", json!({"kind": "native"})))
        .applied(resource("dns/zone/c", json!({"kind": "master"})))
        .exists("dns/zone/c", json!({"kind": "master"}))
        .in_sync(resource("dns/record/d", json!({"ttl": 300})).after("dns/zone/c"))
        .applied(resource("dns/record/gone", json!({"ttl": 300})))
        .exists("dns/record/gone", json!({"ttl": 300}))
    => r#"
        list dns: c, d, gone
        diff dns: zone/c, record/gone
        update dns/zone/c: update zone c: kind
        field kind: "master" -> "native"
        delete dns/record/gone: delete record gone
        field ttl: 300 -> -
        examined: dns/record/d, dns/record/gone, dns/zone/c
        unchanged: 3
    "#;

    /// A plan of what holds observes and compares only the objects whose
    /// provider asked to compare them over time, in Git or not: not the
    /// drift, the new resource or the other object that left Git.
    holding_scope_examines_only_what_asked_to_be_compared_over_time: world()
        .scope(PlanScope::Holding)
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .recorded_rechecking("dns/record/a")
        .recheck("dns/record/a", 30)
        .in_sync(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/b", json!({"ttl": 60}))
        .declared(resource("dns/record/c", json!({"ttl": 300})))
        .applied(resource("dns/record/y", json!({"ttl": 300})))
        .exists("dns/record/y", json!({"ttl": 300}))
        .recorded_rechecking("dns/record/y")
        .applied(resource("dns/record/z", json!({"ttl": 300})))
        .exists("dns/record/z", json!({"ttl": 300}))
    => r#"
        list dns: a, y
        diff dns: record/a, record/y
        delete dns/record/y: delete record y
        field ttl: 300 -> -
        scheduled dns/record/a in 30000 ms: record a matches
        recheck after: 30 s
        examined: dns/record/a, dns/record/y
        unchanged: 4
    "#;

    /// A full plan of the same world finds the drift the changed one
    /// leaves for the next drift check.
    full_scope_examines_everything: world()
        .in_sync(resource("dns/record/a", json!({"ttl": 300})))
        .in_sync(resource("dns/record/b", json!({"ttl": 300})))
        .exists("dns/record/b", json!({"ttl": 60}))
        .declared(resource("dns/zone/c", json!({"kind": "native"})))
        .applied(resource("dns/zone/c", json!({"kind": "master"})))
        .exists("dns/zone/c", json!({"kind": "master"}))
        .in_sync(resource("dns/record/d", json!({"ttl": 300})).after("dns/zone/c"))
    => r#"
        list dns: a, b, c, d
        diff dns: record/b, zone/c
        update dns/record/b [drift]: update record b: ttl
        field ttl: 60 -> 300
        update dns/zone/c: update zone c: kind
        field kind: "master" -> "native"
        unchanged: 2
    "#;

    /// A reference to what neither the commit declares nor the world has
    /// stops the plan before anything is applied, at the resource's place
    /// in Git, with every such problem of the commit listed once.
    unresolved_references_stop_the_plan: world()
        .declared(resource("dns/zone/example", json!({})))
        .declared(resource("dns/record/www", json!({"references": ["zone/example", "zone/nowhere"]})))
        .declared(resource("dns/record/api", json!({"references": ["zone/elsewhere"]})))
    => "
        list dns: api, example, www
        diff dns: zone/example, record/www, record/api
        error: 2 problem(s) found comparing the commit with the real world; nothing was applied:
        resources.toml:2:1: dns/record/www `references.1`: zone/nowhere is neither declared nor in the world
        resources.toml:3:1: dns/record/api `references.0`: zone/elsewhere is neither declared nor in the world
    ";

    /// A reference resolves to an object of the world that Git does not
    /// declare.
    a_reference_to_an_existing_object_resolves: world()
        .declared(resource("dns/record/www", json!({"references": ["zone/external"]})))
        .exists("dns/zone/external", json!({}))
    => r#"
        list dns: www
        diff dns: record/www
        create dns/record/www: create record www
        field references: - -> ["zone/external"]
        unchanged: 0
    "#;

    /// A reference to a resource the plan leaves alone (Git did not move
    /// it) resolves, even though the world lost it: the provider is told it
    /// is declared.
    a_reference_to_a_resource_left_alone_resolves: world()
        .scope(PlanScope::Changed)
        .declared(resource("dns/zone/example", json!({})))
        .applied(resource("dns/zone/example", json!({})))
        .declared(resource("dns/record/www", json!({"references": ["zone/example"]})))
    => r#"
        list dns: www
        diff dns: record/www
        create dns/record/www: create record www
        field references: - -> ["zone/example"]
        examined: dns/record/www
        unchanged: 1
    "#;
}

rules! {
    /// A field `null` on one side and absent on the other is no change;
    /// beside a real change it is not shown.
    null_and_an_absent_field_are_equal: world()
        .in_sync(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 300, "comment": null}))
        .in_sync(resource("dns/record/api", json!({"ttl": 300})))
        .exists("dns/record/api", json!({"ttl": 60, "comment": null}))
    => "
        list dns: api, www
        diff dns: record/www, record/api
        update dns/record/api [drift]: update record api: comment, ttl
        field ttl: 60 -> 300
        unchanged: 1
    ";

    /// A resource its provider did not converge on is held: neither
    /// compared nor changed, and the plan says why.
    not_converged_is_held: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .not_converged(resource("dns/record/www", json!({"ttl": 300})), DNS_PLUGIN)
        .exists("dns/record/www", json!({"ttl": "300"}))
    => r#"
        list dns: www
        note: dns/record/www is held: after its last apply, provider `dns` did not converge on ttl (applied 300, observed "300"). It is not applied again until its spec in Git or its provider's plugin changes
        held dns/record/www: provider `dns` did not converge on ttl (applied 300, observed "300")
        unchanged: 0
    "#;

    /// Git changing the spec ends the hold: the new spec is applied.
    not_converged_until_git_changes: world()
        .declared(resource("dns/record/www", json!({"ttl": 301})))
        .not_converged(resource("dns/record/www", json!({"ttl": 300})), DNS_PLUGIN)
        .exists("dns/record/www", json!({"ttl": "300"}))
    => r#"
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: ttl
        field ttl: "300" -> 301
        unchanged: 0
    "#;

    /// Another plugin (a fixed provider) ends the hold: the spec is
    /// applied again, and that is not drift.
    not_converged_until_the_plugin_changes: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .not_converged(resource("dns/record/www", json!({"ttl": 300})), "an-earlier-plugin")
        .exists("dns/record/www", json!({"ttl": "300"}))
    => r#"
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: ttl
        field ttl: "300" -> 300
        unchanged: 0
    "#;

    /// A held resource that left Git is deleted as any other.
    not_converged_and_gone_from_git_is_deleted: world()
        .not_converged(resource("dns/record/www", json!({"ttl": 300})), DNS_PLUGIN)
        .exists("dns/record/www", json!({"ttl": "300"}))
    => r#"
        list dns: www
        diff dns: record/www
        delete dns/record/www: delete record www
        field ttl: "300" -> -
        unchanged: 0
    "#;

    /// What a failed create made (some objects of a set, say) is Cairn's:
    /// the next plan completes it, without `adopt`.
    failed_create_that_made_part_is_completed: world()
        .declared(resource("dns/record/www", json!({"ttl": 300, "weight": 1})))
        .pending(resource("dns/record/www", json!({"ttl": 300, "weight": 1})))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        update dns/record/www: update record www: weight
        field weight: - -> 1
        unchanged: 0
    ";

    /// A failed create that made all of it is recorded.
    failed_create_that_made_all_is_recorded: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .pending(resource("dns/record/www", json!({"ttl": 300})))
        .exists("dns/record/www", json!({"ttl": 300}))
    => "
        list dns: www
        diff dns: record/www
        adopt dns/record/www: an earlier create that did not finish made it, and it matches: record it
        unchanged: 0
    ";

    /// A failed create that made nothing is made again.
    failed_create_that_made_nothing_is_made_again: world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .pending(resource("dns/record/www", json!({"ttl": 300})))
    => "
        list dns: www
        diff dns: record/www
        create dns/record/www: create record www
        field ttl: - -> 300
        unchanged: 0
    ";
}

/// Ten owned records in sync, of which Git dropped `r0` and `r1`.
fn ten_records_two_leaving() -> World {
    (0..10).fold(world(), |world, index| {
        let record = resource(&format!("dns/record/r{index}"), json!({"ttl": 300}));
        let world = world
            .applied(record.clone())
            .exists(&format!("dns/record/r{index}"), json!({"ttl": 300}));
        if index < 2 {
            world
        } else {
            world.declared(record)
        }
    })
}

/// The checksum is a function of the tenant, the commit and the changes
/// alone: pinned (the value was also computed by hand from the format
/// [`crate::plan::checksum`] documents), so that a saved plan made by an
/// earlier build is still checked against the same value.
#[tokio::test]
async fn checksum_is_stable() {
    let world = world()
        .declared(resource("dns/record/www", json!({"ttl": 300})))
        .applied(resource("dns/record/old", json!({"ttl": 300})))
        .exists("dns/record/old", json!({"ttl": 300}));
    let plan = world.plan().await.expect("a plan");
    assert_eq!(
        plan.checksum,
        "b7a212ac954905b8e74d7316ad57c7fc9d7aff3f84bf4319c42bc8956844a39f"
    );
}

/// Once a plan's changes are made and recorded, the same commit plans
/// nothing: the rules and the fake world agree.
#[tokio::test]
async fn an_applied_plan_leaves_nothing_to_do() {
    let mut world = world()
        .declared(resource("dns/zone/z", json!({})))
        .declared(resource("dns/record/www", json!({"ttl": 300})).after("dns/zone/z"))
        .in_sync(resource("dns/record/api", json!({"ttl": 300})))
        .exists("dns/record/api", json!({"ttl": 60}))
        .applied(resource("dns/record/old", json!({"ttl": 300})))
        .exists("dns/record/old", json!({"ttl": 300}));
    let plan = world.plan().await.expect("a plan");
    assert_eq!(plan.changes.len(), 4);

    let dns = world.providers["dns"].clone();
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter_map(|c| c.change.as_ref())
        .collect();
    let outcomes = Provider::apply(&*dns, &changes, None)
        .await
        .expect("applied");
    for (planned, outcome) in plan.changes.iter().zip(outcomes) {
        let cairn_contract::Outcome::Applied(state) = outcome else {
            panic!("{} was not applied", planned.address);
        };
        if planned.action == crate::plan::PlanAction::Delete {
            world.inventory.owned.remove(&planned.address);
            continue;
        }
        world.inventory.owned.insert(
            planned.address.clone(),
            OwnedResource {
                address: planned.address.clone(),
                spec_digest: planned.desired_digest.clone().expect("a desired digest"),
                state: state.map(|state| state.to_string()),
                lifecycle: planned.lifecycle.clone(),
                depends_on: planned.depends_on.clone(),
                commit_id: COMMIT.to_string(),
                pending: false,
                diverged: None,
                recheck: false,
            },
        );
    }
    assert_eq!(dns.get("record", "old"), None);
    assert_eq!(dns.get("record", "api"), Some(json!({"ttl": 300})));

    let again = world.plan().await.expect("a plan");
    assert_eq!(render(&again), ["unchanged: 3"]);
}

/// `diff` is told of the commit's other resources of the provider — those
/// it does not compare — and of none of another provider's.
#[tokio::test]
async fn diff_is_told_what_else_the_commit_declares() {
    let world = world()
        .with_provider(FakeProvider::new("idp").with_type("user", &[], &[]))
        .scope(PlanScope::Changed)
        .in_sync(resource("dns/zone/example", json!({})))
        .in_sync(resource("dns/zone/other", json!({})))
        .declared(resource(
            "dns/record/www",
            json!({"references": ["zone/example"]}),
        ))
        .in_sync(resource("idp/user/ada", json!({})));
    let plan = world.plan().await.expect("a plan");
    assert_eq!(plan.changes.len(), 1, "{:?}", render(&plan));
    assert_eq!(
        world.providers["dns"].last_declared(),
        ["zone/example", "zone/other"]
    );
    assert!(
        world.providers["idp"]
            .calls()
            .iter()
            .all(|call| !matches!(call, Call::Diff(_))),
        "a provider with nothing to compare is not called"
    );
}

/// A plan lets go of an inventory another holder keeps (a daemon's kept
/// copy) before it returns, even when what it gathered is large enough to
/// be freed on the blocking pool: a reference left to the pool would make
/// the apply's first write copy the kept inventory whole. The pool's one
/// thread is kept busy meanwhile, so that nothing handed to it has run
/// when the plan returns.
#[test]
fn a_plan_lets_go_of_a_kept_inventory_before_it_returns() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .expect("a runtime");
    let mut world = world().settings(|settings| settings.max_changes = 2_000);
    for n in 0..1_200 {
        world = world.in_sync(resource(&format!("dns/record/r{n}"), json!({"ttl": 300})));
    }
    let kept = Arc::new(world.inventory.clone());
    let (release, released) = std::sync::mpsc::channel::<()>();
    runtime.spawn_blocking(move || released.recv());
    let plan = runtime
        .block_on(plan_against(
            &world.settings,
            &world.providers,
            &world.desired_state(),
            kept.clone(),
            PlanScope::Full,
        ))
        .expect("a plan");
    assert!(plan.changes.is_empty());
    assert_eq!(
        Arc::strong_count(&kept),
        1,
        "the plan left its reference to the kept inventory to the pool"
    );
    release.send(()).expect("the pool's thread waits");
}
