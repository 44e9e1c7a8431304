//! The generated host bindings of `cairn:provider@0.1.0`: the one place where
//! `bindgen!` runs. The rest of the host imports from here.

wasmtime::component::bindgen!({
    path: "../wit/provider@0.1.0",
    world: "cairn:provider/provider-plugin",
    exports: { default: async },
});

pub use self::cairn::provider::log;
pub use self::cairn::provider::types::{
    Action, Change, Desired, Diagnostic, DiffInput, Error, ErrorKind, FieldChange, Observed,
    Outcome, ProviderInfo, ResourceType, Scope, Secret, Severity, Validation,
};
