//! The trait a provider implements.

use crate::diff;
use crate::{
    Change, Declarations, DiffInput, Error, Observed, Outcome, ProviderInfo, Resource, Scope,
    Secrets, Validation,
};
use serde_json::Value;

/// A provider: how to describe, validate, observe, compare and change one
/// family of real-world objects.
///
/// Each call from the host runs in a fresh instance: [`Provider::configure`]
/// builds the provider from the operator's configuration, then exactly one
/// of [`list`](Provider::list), [`diff`](Provider::diff) or
/// [`apply`](Provider::apply) runs on it. Nothing survives between calls.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Cairn provider",
    label = "`export_provider!` needs a type that implements `cairn_sdk::Provider`",
    note = "implement `cairn_sdk::Provider` for `{Self}`: describe, configure, validate, list and apply (diff has a default)"
)]
pub trait Provider: Sized + 'static {
    /// Describes the provider and its resource types. No I/O.
    fn describe() -> ProviderInfo;

    /// Builds a configured provider from the operator's `config` table and
    /// secrets. Return [`Error::invalid`] for a configuration that is wrong.
    ///
    /// `owner` is this provider instance's owner mark (`cairn-` and 24 hex
    /// digits, the same across restarts). A provider that can mark the
    /// objects it creates (a label, an annotation, a comment) writes it on
    /// each, and sets [`Observed::vouched`] in [`list`](Provider::list) on
    /// the objects that bear it: then a lost state store does not turn the
    /// tenant's own objects into conflicts. One that cannot ignores it.
    fn configure(config: Value, secrets: Secrets, owner: &str) -> Result<Self, Error>;

    /// Checks one desired resource and returns its canonical spec, or the
    /// diagnostics that make it invalid. No I/O. [`crate::spec::parse`]
    /// turns a spec into a typed struct with field paths in its errors.
    fn validate(resource: &Resource) -> Validation;

    /// Observes every object of the scope's types the provider can see,
    /// owned by Cairn or not, in canonical form.
    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error>;

    /// Compares desired and observed state, one change per input in order.
    /// A reference to another object that neither `declarations` nor the
    /// real world holds is an error diagnostic on the change
    /// ([`Change::diagnostics`]), found here rather than by `apply`.
    ///
    /// The default compares the canonical JSON documents field by field
    /// ([`diff::compare`]), replacing the object when a field declared in
    /// [`ResourceType::force_replace`](crate::ResourceType::force_replace)
    /// differs. Override it to write better summaries or to compare fields
    /// that need more than equality.
    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        let _ = declarations;
        let info = Self::describe();
        Ok(inputs
            .into_iter()
            .map(|input| {
                let rules = info
                    .resource_types
                    .iter()
                    .find(|resource_type| resource_type.name == input.type_name);
                diff::compare(input, rules)
            })
            .collect())
    }

    /// Makes the changes, one outcome per change in order. Must be
    /// idempotent.
    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome>;
}
