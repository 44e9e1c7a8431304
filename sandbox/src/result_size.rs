//! How many bytes a call's result made the host hold once lifted out of the
//! guest: the strings of every record, summed. Checked against
//! [`limits::MAX_RESULT_BYTES`] before anything is parsed or kept.
//!
//! The lifted copy itself is bounded by the guest's memory limit (every
//! string is copied out of its linear memory); the check keeps a plugin
//! from handing the planner, the store and the audit trail hundreds of MiB.

use super::bindings::{
    Change, Diagnostic, FieldChange, Observed, Outcome, ProviderInfo, ResourceType, Validation,
};
use super::error::PluginError;
use super::limits;

/// Refuses a result of `function` larger than [`limits::MAX_RESULT_BYTES`].
pub(super) fn check(
    provider: &str,
    function: &'static str,
    result: &impl ResultSize,
) -> Result<(), PluginError> {
    let bytes = result.result_bytes();
    if bytes > limits::MAX_RESULT_BYTES {
        return Err(PluginError::ResultTooLarge {
            provider: provider.to_string(),
            function,
            bytes,
            limit: limits::MAX_RESULT_BYTES,
        });
    }
    Ok(())
}

/// Bytes a value of a call's result holds on the host.
pub(super) trait ResultSize {
    /// The sum of the lengths of its strings.
    fn result_bytes(&self) -> usize;
}

impl ResultSize for String {
    fn result_bytes(&self) -> usize {
        self.len()
    }
}

impl<T: ResultSize> ResultSize for Option<T> {
    fn result_bytes(&self) -> usize {
        self.as_ref().map_or(0, ResultSize::result_bytes)
    }
}

impl<T: ResultSize> ResultSize for Vec<T> {
    fn result_bytes(&self) -> usize {
        self.iter().map(ResultSize::result_bytes).sum()
    }
}

impl ResultSize for Observed {
    fn result_bytes(&self) -> usize {
        self.type_name.len() + self.id.len() + self.state.len()
    }
}

impl ResultSize for FieldChange {
    fn result_bytes(&self) -> usize {
        self.path.len() + self.before.result_bytes() + self.after.result_bytes()
    }
}

impl ResultSize for Change {
    fn result_bytes(&self) -> usize {
        self.type_name.len()
            + self.id.len()
            + self.summary.len()
            + self.fields.result_bytes()
            + self.desired.result_bytes()
            + self.observed.result_bytes()
    }
}

impl ResultSize for Outcome {
    fn result_bytes(&self) -> usize {
        match self {
            Outcome::Applied(state) => state.result_bytes(),
            Outcome::Failed(error) => error.message.len(),
            Outcome::Skipped(reason) => reason.len(),
        }
    }
}

impl ResultSize for Diagnostic {
    fn result_bytes(&self) -> usize {
        self.path.len() + self.message.len() + self.help.result_bytes()
    }
}

impl ResultSize for Validation {
    fn result_bytes(&self) -> usize {
        self.canonical.result_bytes() + self.diagnostics.result_bytes()
    }
}

impl ResultSize for ResourceType {
    fn result_bytes(&self) -> usize {
        self.name.len()
            + self.description.len()
            + self.schema.len()
            + self.identity.result_bytes()
            + self.force_replace.result_bytes()
            + self.sensitive.result_bytes()
    }
}

impl ResultSize for ProviderInfo {
    fn result_bytes(&self) -> usize {
        self.name.len()
            + self.version.len()
            + self.description.len()
            + self.resource_types.result_bytes()
            + self.config_schema.len()
    }
}
