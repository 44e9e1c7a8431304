//! Structured logging to the host.
//!
//! Records go to the host's log, attributed to the tenant, provider instance
//! and call. Never log secrets: fields are written as they are.

use crate::bindings::cairn::provider::log as host;

/// How important a log record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine-grained detail for debugging a provider.
    Trace,
    /// Detail useful when something goes wrong.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the provider handled.
    Warn,
    /// Something failed.
    Error,
}

/// Writes one record with key/value fields.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let level = match level {
        Level::Trace => host::Level::Trace,
        Level::Debug => host::Level::Debug,
        Level::Info => host::Level::Info,
        Level::Warn => host::Level::Warn,
        Level::Error => host::Level::Error,
    };
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    host::log(level, message, &fields);
}

/// Writes a debug record.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Writes an info record.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Writes a warning record.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}
