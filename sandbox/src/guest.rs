//! A provider component of any version the host loads, driven as one.
//!
//! [`GuestPre`] is a linked component of `cairn:provider@0.1.0`, `@0.2.0`
//! or `@0.3.0`, whichever it exports (the newest first); [`Guest`] is one
//! instance of it. Their calls take and return the newest version's
//! records ([`super::bindings`]): for an older component, the arguments
//! are converted down and the answers up here, so that the rest of the host
//! knows a single version. What an older version lacks is empty on the way
//! up (a 0.1.0 change has no diagnostics, a 0.2.0 change no holds) and
//! dropped on the way down (a 0.1.0 `diff` is not told what else the
//! commit declares); a 0.2.0 change's `recheck-after` seconds become
//! milliseconds.

use super::bindings::{self, v0_1, v0_2, v0_3};
use super::state::CallState;
// The records of each version, as the conversions below name them.
use v0_1::cairn::provider::types as old;
use v0_2::cairn::provider::types as mid;
use v0_3::cairn::provider::types as new;
use wasmtime::Store;
use wasmtime::component::InstancePre;

/// The name a component exports its provider interface under, up to the
/// version: `cairn:provider/provider@0.2.0`.
const PROVIDER_EXPORT: &str = "cairn:provider/provider@";

/// Whether two `0.MINOR.PATCH` versions share their `0.MINOR`: those the
/// component model takes for one another.
fn same_minor(version: &str, known: &str) -> bool {
    let minor = |v: &str| v.rsplit_once('.').map(|(minor, _)| minor.to_string());
    known.starts_with("0.") && minor(version).is_some() && minor(version) == minor(known)
}

/// A version of the contract, as a component exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractVersion {
    /// `cairn:provider@0.1.0`.
    V0_1,
    /// `cairn:provider@0.2.0`.
    V0_2,
    /// `cairn:provider@0.3.0`.
    V0_3,
}

impl ContractVersion {
    /// Every version the host loads, the newest first.
    pub const ALL: [Self; 3] = [Self::V0_3, Self::V0_2, Self::V0_1];

    /// Every version the host loads, for messages: `cairn:provider@0.3.0,
    /// cairn:provider@0.2.0 and cairn:provider@0.1.0`.
    pub fn supported() -> String {
        let names: Vec<String> = Self::ALL.iter().map(ToString::to_string).collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The version's number.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
            Self::V0_3 => "0.3.0",
        }
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cairn:provider@{}", self.as_str())
    }
}

/// A linked provider component, ready to be instantiated.
#[derive(Clone)]
pub(super) enum GuestPre {
    /// Exports `cairn:provider/provider@0.1.0`.
    V0_1(v0_1::ProviderPluginPre<CallState>),
    /// Exports `cairn:provider/provider@0.2.0`.
    V0_2(v0_2::ProviderPluginPre<CallState>),
    /// Exports `cairn:provider/provider@0.3.0`.
    V0_3(v0_3::ProviderPluginPre<CallState>),
}

/// An instance of a provider component, for one call.
pub(super) enum Guest {
    /// Exports `cairn:provider/provider@0.1.0`.
    V0_1(v0_1::ProviderPlugin),
    /// Exports `cairn:provider/provider@0.2.0`.
    V0_2(v0_2::ProviderPlugin),
    /// Exports `cairn:provider/provider@0.3.0`.
    V0_3(v0_3::ProviderPlugin),
}

impl GuestPre {
    /// The component behind `instance_pre` as the newest version it
    /// exports (a version that wasmtime finds semver-compatible, `0.2.1`
    /// for `0.3.0`, counts). When it exports none the host can drive, the
    /// error says which version the component speaks and which ones the
    /// host supports, or that its types are not those of the version it
    /// claims.
    pub fn new(instance_pre: InstancePre<CallState>) -> Result<Self, String> {
        let newest = match v0_3::ProviderPluginPre::new(instance_pre.clone()) {
            Ok(pre) => return Ok(Self::V0_3(pre)),
            Err(error) => error,
        };
        let middle = match v0_2::ProviderPluginPre::new(instance_pre.clone()) {
            Ok(pre) => return Ok(Self::V0_2(pre)),
            Err(error) => error,
        };
        let oldest = match v0_1::ProviderPluginPre::new(instance_pre.clone()) {
            Ok(pre) => return Ok(Self::V0_1(pre)),
            Err(error) => error,
        };
        let component = instance_pre.component();
        let names: Vec<String> = component
            .component_type()
            .exports(component.engine())
            .map(|(name, _)| name.to_string())
            .collect();
        if let Some(policy) = names
            .iter()
            .find(|name| name.starts_with("cairn:policy/policy@"))
        {
            return Err(format!(
                "it is a policy ({policy}), not a provider: name it in a `[[policies]]` table of cairn.toml, and test it with `cairn plugin test`"
            ));
        }
        let exported: Vec<String> = names
            .iter()
            .filter_map(|name| name.strip_prefix(PROVIDER_EXPORT).map(str::to_string))
            .collect();
        let supported = ContractVersion::supported();
        // A claimed version the host supports, by its `0.MINOR` (as
        // wasmtime matches it), with the linker's complaint.
        let claimed = exported.iter().find_map(|version| {
            [
                (ContractVersion::V0_3, &newest),
                (ContractVersion::V0_2, &middle),
                (ContractVersion::V0_1, &oldest),
            ]
            .into_iter()
            .find(|(known, _)| same_minor(version, known.as_str()))
            .map(|(known, error)| (version, known, error))
        });
        Err(match (claimed, exported.first()) {
            (Some((version, known, error)), _) => format!(
                "it speaks cairn:provider@{version}, but its types are not those of {known} as this host defines them ({error:#}); it was built against another draft of {known}: build it again against `wit/provider@{}` of this Cairn",
                known.as_str()
            ),
            (None, Some(other)) => format!(
                "it speaks cairn:provider@{other}, and this host supports {supported}: build it against one of those (`wit/` of this Cairn), or run a Cairn that supports {other}"
            ),
            (None, None) => format!(
                "it exports no provider interface (`{PROVIDER_EXPORT}VERSION`); this host supports {supported}"
            ),
        })
    }

    /// The version the component exports.
    pub fn version(&self) -> ContractVersion {
        match self {
            Self::V0_1(_) => ContractVersion::V0_1,
            Self::V0_2(_) => ContractVersion::V0_2,
            Self::V0_3(_) => ContractVersion::V0_3,
        }
    }

    /// Instantiates the component in `store`.
    pub async fn instantiate_async(&self, store: &mut Store<CallState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            Self::V0_1(pre) => Guest::V0_1(pre.instantiate_async(store).await?),
            Self::V0_2(pre) => Guest::V0_2(pre.instantiate_async(store).await?),
            Self::V0_3(pre) => Guest::V0_3(pre.instantiate_async(store).await?),
        })
    }
}

impl Guest {
    /// `describe`.
    pub async fn call_describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<bindings::ProviderInfo> {
        Ok(match self {
            Self::V0_1(guest) => guest
                .cairn_provider_provider()
                .call_describe(store)
                .await?
                .up(),
            Self::V0_2(guest) => guest
                .cairn_provider_provider()
                .call_describe(store)
                .await?
                .up(),
            Self::V0_3(guest) => guest.cairn_provider_provider().call_describe(store).await?,
        })
    }

    /// `configure`; a 0.1.0 provider is not told its owner mark.
    pub async fn call_configure(
        &self,
        store: &mut Store<CallState>,
        config: &String,
        secrets: &[bindings::Secret],
        owner: &str,
    ) -> wasmtime::Result<Result<(), bindings::Error>> {
        Ok(match self {
            Self::V0_1(guest) => {
                let secrets: Vec<v0_1::cairn::provider::types::Secret> =
                    secrets.iter().map(|secret| secret.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_configure(store, config, &secrets)
                    .await?
                    .map_err(Up::up)
            }
            Self::V0_2(guest) => {
                let secrets: Vec<mid::Secret> =
                    secrets.iter().map(|secret| secret.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_configure(store, config, &secrets, owner)
                    .await?
                    .map_err(Up::up)
            }
            Self::V0_3(guest) => {
                guest
                    .cairn_provider_provider()
                    .call_configure(store, config, secrets, owner)
                    .await?
            }
        })
    }

    /// `validate`.
    pub async fn call_validate(
        &self,
        store: &mut Store<CallState>,
        resources: &[bindings::Desired],
    ) -> wasmtime::Result<Vec<bindings::Validation>> {
        Ok(match self {
            Self::V0_1(guest) => {
                let resources: Vec<_> = resources.iter().map(|r| r.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_validate(store, &resources)
                    .await?
                    .up()
            }
            Self::V0_2(guest) => {
                let resources: Vec<mid::Desired> =
                    resources.iter().map(|r| r.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_validate(store, &resources)
                    .await?
                    .up()
            }
            Self::V0_3(guest) => {
                guest
                    .cairn_provider_provider()
                    .call_validate(store, resources)
                    .await?
            }
        })
    }

    /// `list`.
    pub async fn call_list(
        &self,
        store: &mut Store<CallState>,
        scope: &bindings::Scope,
    ) -> wasmtime::Result<Result<Vec<bindings::Observed>, bindings::Error>> {
        Ok(match self {
            Self::V0_1(guest) => guest
                .cairn_provider_provider()
                .call_list(store, &scope.clone().down())
                .await?
                .map(Up::up)
                .map_err(Up::up),
            Self::V0_2(guest) => {
                let scope: mid::Scope = scope.clone().down();
                guest
                    .cairn_provider_provider()
                    .call_list(store, &scope)
                    .await?
                    .map(Up::up)
                    .map_err(Up::up)
            }
            Self::V0_3(guest) => {
                guest
                    .cairn_provider_provider()
                    .call_list(store, scope)
                    .await?
            }
        })
    }

    /// `diff`; `declared` does not reach a 0.1.0 component.
    pub async fn call_diff(
        &self,
        store: &mut Store<CallState>,
        inputs: &[bindings::DiffInput],
        declared: &[bindings::Declared],
    ) -> wasmtime::Result<Result<Vec<bindings::Change>, bindings::Error>> {
        Ok(match self {
            Self::V0_1(guest) => {
                let inputs: Vec<_> = inputs.iter().map(|i| i.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_diff(store, &inputs)
                    .await?
                    .map(Up::up)
                    .map_err(Up::up)
            }
            Self::V0_2(guest) => {
                let inputs: Vec<mid::DiffInput> = inputs.iter().map(|i| i.clone().down()).collect();
                let declared: Vec<mid::Declared> =
                    declared.iter().map(|d| d.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_diff(store, &inputs, &declared)
                    .await?
                    .map(Up::up)
                    .map_err(Up::up)
            }
            Self::V0_3(guest) => {
                guest
                    .cairn_provider_provider()
                    .call_diff(store, inputs, declared)
                    .await?
            }
        })
    }

    /// `apply`.
    pub async fn call_apply(
        &self,
        store: &mut Store<CallState>,
        changes: &[bindings::Change],
    ) -> wasmtime::Result<Vec<bindings::Outcome>> {
        Ok(match self {
            Self::V0_1(guest) => {
                let changes: Vec<_> = changes.iter().map(|c| c.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_apply(store, &changes)
                    .await?
                    .up()
            }
            Self::V0_2(guest) => {
                let changes: Vec<mid::Change> = changes.iter().map(|c| c.clone().down()).collect();
                guest
                    .cairn_provider_provider()
                    .call_apply(store, &changes)
                    .await?
                    .up()
            }
            Self::V0_3(guest) => {
                guest
                    .cairn_provider_provider()
                    .call_apply(store, changes)
                    .await?
            }
        })
    }
}

/// A record of an older version turned into the newest's.
trait Up<T> {
    fn up(self) -> T;
}

/// A record of the newest version turned into an older one's.
trait Down<T> {
    fn down(self) -> T;
}

impl<A: Up<B>, B> Up<Vec<B>> for Vec<A> {
    fn up(self) -> Vec<B> {
        self.into_iter().map(Up::up).collect()
    }
}

/// Converts a record field by field between two versions in which it has
/// the same fields; the fields' own types convert with the same trait.
macro_rules! same_record {
    ($trait:ident :: $method:ident, $from:ty => $to:ident :: $name:ident { $($field:ident),* $(,)? } $(+ { $($extra:ident: $value:expr),* })?) => {
        impl $trait<$to::$name> for $from {
            fn $method(self) -> $to::$name {
                $to::$name {
                    $($field: Same::same(self.$field),)*
                    $($($extra: $value,)*)?
                }
            }
        }
    };
}

/// Converts an enum between two versions in which it has the same cases.
macro_rules! same_enum {
    ($trait:ident :: $method:ident, $from:ident => $to:ident :: $name:ident { $($case:ident),* $(,)? }) => {
        impl $trait<$to::$name> for $from::$name {
            fn $method(self) -> $to::$name {
                match self {
                    $($from::$name::$case => $to::$name::$case,)*
                }
            }
        }
    };
}

/// A field's value carried over as it is, or converted with [`Up`] when
/// its type is itself a versioned record.
trait Same<T> {
    fn same(self) -> T;
}

impl<T> Same<T> for T {
    fn same(self) -> T {
        self
    }
}

impl Same<Vec<new::ResourceType>> for Vec<old::ResourceType> {
    fn same(self) -> Vec<new::ResourceType> {
        self.up()
    }
}

impl Same<Vec<new::Diagnostic>> for Vec<old::Diagnostic> {
    fn same(self) -> Vec<new::Diagnostic> {
        self.up()
    }
}

impl Same<Vec<new::FieldChange>> for Vec<old::FieldChange> {
    fn same(self) -> Vec<new::FieldChange> {
        self.up()
    }
}

impl Same<Vec<old::FieldChange>> for Vec<new::FieldChange> {
    fn same(self) -> Vec<old::FieldChange> {
        self.into_iter().map(Down::down).collect()
    }
}

impl Same<new::Severity> for old::Severity {
    fn same(self) -> new::Severity {
        self.up()
    }
}

impl Same<new::Action> for old::Action {
    fn same(self) -> new::Action {
        self.up()
    }
}

impl Same<old::Action> for new::Action {
    fn same(self) -> old::Action {
        self.down()
    }
}

impl Same<new::ErrorKind> for old::ErrorKind {
    fn same(self) -> new::ErrorKind {
        self.up()
    }
}

same_enum!(Up::up, old => new::Severity { Error, Warning });
same_enum!(Up::up, old => new::Action { NoOp, Create, Update, Replace, Delete });
same_enum!(Down::down, new => old::Action { NoOp, Create, Update, Replace, Delete });
same_enum!(Up::up, old => new::ErrorKind {
    Invalid, Unauthorized, Conflict, NotFound, Denied, Unavailable, Timeout, Internal,
});

same_record!(Up::up, old::ProviderInfo => new::ProviderInfo {
    name, version, description, resource_types, config_schema,
});
same_record!(Up::up, old::ResourceType => new::ResourceType {
    name, description, schema, identity, force_replace, sensitive,
});
same_record!(Up::up, old::Validation => new::Validation { canonical, diagnostics });
same_record!(Up::up, old::Diagnostic => new::Diagnostic { path, severity, message, help });
same_record!(Up::up, old::Observed => new::Observed { type_name, id, state } + { vouched: false });
same_record!(Up::up, old::FieldChange => new::FieldChange { path, before, after, sensitive });
same_record!(Up::up, old::Change => new::Change {
    type_name, id, action, summary, fields, desired, observed,
} + { diagnostics: Vec::new(), recheck_after_ms: None, holds: Vec::new(), notice: None });
same_record!(Up::up, old::Error => new::Error { kind, message });

same_record!(Down::down, new::Secret => old::Secret { name, value });
same_record!(Down::down, new::Desired => old::Desired { type_name, spec });
same_record!(Down::down, new::Scope => old::Scope { type_names, ids });
same_record!(Down::down, new::DiffInput => old::DiffInput {
    type_name, id, desired, observed, prior,
});
same_record!(Down::down, new::FieldChange => old::FieldChange { path, before, after, sensitive });
same_record!(Down::down, new::Change => old::Change {
    type_name, id, action, summary, fields, desired, observed,
});

impl Up<new::Outcome> for old::Outcome {
    fn up(self) -> new::Outcome {
        match self {
            old::Outcome::Applied(state) => new::Outcome::Applied(state),
            old::Outcome::Failed(error) => new::Outcome::Failed(error.up()),
            old::Outcome::Skipped(reason) => new::Outcome::Skipped(reason),
        }
    }
}

// 0.2.0, the middle version: its records are 0.3.0's without holds and
// notices, and its `recheck-after` counts seconds.

impl Same<Vec<new::ResourceType>> for Vec<mid::ResourceType> {
    fn same(self) -> Vec<new::ResourceType> {
        self.up()
    }
}

impl Same<Vec<new::Diagnostic>> for Vec<mid::Diagnostic> {
    fn same(self) -> Vec<new::Diagnostic> {
        self.up()
    }
}

impl Same<Vec<new::FieldChange>> for Vec<mid::FieldChange> {
    fn same(self) -> Vec<new::FieldChange> {
        self.up()
    }
}

impl Same<Vec<mid::FieldChange>> for Vec<new::FieldChange> {
    fn same(self) -> Vec<mid::FieldChange> {
        self.into_iter().map(Down::down).collect()
    }
}

impl Same<Vec<mid::Diagnostic>> for Vec<new::Diagnostic> {
    fn same(self) -> Vec<mid::Diagnostic> {
        self.into_iter().map(Down::down).collect()
    }
}

impl Same<new::Severity> for mid::Severity {
    fn same(self) -> new::Severity {
        self.up()
    }
}

impl Same<mid::Severity> for new::Severity {
    fn same(self) -> mid::Severity {
        self.down()
    }
}

impl Same<new::Action> for mid::Action {
    fn same(self) -> new::Action {
        self.up()
    }
}

impl Same<mid::Action> for new::Action {
    fn same(self) -> mid::Action {
        self.down()
    }
}

impl Same<new::ErrorKind> for mid::ErrorKind {
    fn same(self) -> new::ErrorKind {
        self.up()
    }
}

same_enum!(Up::up, mid => new::Severity { Error, Warning });
same_enum!(Down::down, new => mid::Severity { Error, Warning });
same_enum!(Up::up, mid => new::Action { NoOp, Create, Update, Replace, Delete });
same_enum!(Down::down, new => mid::Action { NoOp, Create, Update, Replace, Delete });
same_enum!(Up::up, mid => new::ErrorKind {
    Invalid, Unauthorized, Conflict, NotFound, Denied, Unavailable, Timeout, Internal,
});

same_record!(Up::up, mid::ProviderInfo => new::ProviderInfo {
    name, version, description, resource_types, config_schema,
});
same_record!(Up::up, mid::ResourceType => new::ResourceType {
    name, description, schema, identity, force_replace, sensitive,
});
same_record!(Up::up, mid::Validation => new::Validation { canonical, diagnostics });
same_record!(Up::up, mid::Diagnostic => new::Diagnostic { path, severity, message, help });
same_record!(Up::up, mid::Observed => new::Observed { type_name, id, state, vouched });
same_record!(Up::up, mid::FieldChange => new::FieldChange { path, before, after, sensitive });
same_record!(Up::up, mid::Error => new::Error { kind, message });

same_record!(Down::down, new::Secret => mid::Secret { name, value });
same_record!(Down::down, new::Desired => mid::Desired { type_name, spec });
same_record!(Down::down, new::Scope => mid::Scope { type_names, ids });
same_record!(Down::down, new::DiffInput => mid::DiffInput {
    type_name, id, desired, observed, prior,
});
same_record!(Down::down, new::Declared => mid::Declared { type_name, id });
same_record!(Down::down, new::Diagnostic => mid::Diagnostic { path, severity, message, help });
same_record!(Down::down, new::FieldChange => mid::FieldChange { path, before, after, sensitive });

impl Up<new::Change> for mid::Change {
    fn up(self) -> new::Change {
        new::Change {
            recheck_after_ms: self.recheck_after.map(|seconds| u64::from(seconds) * 1_000),
            holds: Vec::new(),
            notice: None,
            type_name: self.type_name,
            id: self.id,
            action: self.action.up(),
            summary: self.summary,
            fields: self.fields.up(),
            desired: self.desired,
            observed: self.observed,
            diagnostics: self.diagnostics.up(),
        }
    }
}

impl Down<mid::Change> for new::Change {
    fn down(self) -> mid::Change {
        mid::Change {
            // A change goes back only to the provider that made it: its
            // own whole seconds come back.
            recheck_after: self
                .recheck_after_ms
                .map(|ms| u32::try_from(ms / 1_000).unwrap_or(u32::MAX)),
            type_name: self.type_name,
            id: self.id,
            action: self.action.down(),
            summary: self.summary,
            fields: self.fields.same(),
            desired: self.desired,
            observed: self.observed,
            diagnostics: self.diagnostics.same(),
        }
    }
}

impl Up<new::Outcome> for mid::Outcome {
    fn up(self) -> new::Outcome {
        match self {
            mid::Outcome::Applied(state) => new::Outcome::Applied(state),
            mid::Outcome::Failed(error) => new::Outcome::Failed(error.up()),
            mid::Outcome::Skipped(reason) => new::Outcome::Skipped(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_one_minor_are_taken_for_one_another() {
        assert!(same_minor("0.2.0", "0.2.0"));
        assert!(same_minor("0.2.7", "0.2.0"));
        assert!(!same_minor("0.3.0", "0.2.0"));
        assert!(same_minor("0.3.1", "0.3.0"));
        assert!(!same_minor("0.20.0", "0.2.0"));
        assert!(!same_minor("garbage", "0.2.0"));
        assert_eq!(
            ContractVersion::supported(),
            "cairn:provider@0.3.0, cairn:provider@0.2.0 and cairn:provider@0.1.0"
        );
    }

    #[test]
    fn a_0_2_0_change_counts_seconds_and_holds_nothing() {
        let change = mid::Change {
            type_name: "record".into(),
            id: "a".into(),
            action: mid::Action::NoOp,
            summary: "no changes".into(),
            fields: Vec::new(),
            desired: None,
            observed: None,
            diagnostics: Vec::new(),
            recheck_after: Some(5),
        };
        let up: new::Change = change.up();
        assert_eq!(up.recheck_after_ms, Some(5_000));
        assert!(up.holds.is_empty() && up.notice.is_none());
        // Back to the provider that made it: its own whole seconds.
        let down: mid::Change = new::Change {
            recheck_after_ms: Some(5_999),
            ..up
        }
        .down();
        assert_eq!(down.recheck_after, Some(5));
    }
}
