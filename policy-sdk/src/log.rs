//! Structured logging to the host, attributed to the tenant, the policy and
//! the call.

use crate::bindings::cairn::policy::log as host;

/// Writes a debug record with key/value fields.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    write(host::Level::Debug, message, fields);
}

/// Writes an info record with key/value fields.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    write(host::Level::Info, message, fields);
}

/// Writes a warning record with key/value fields.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    write(host::Level::Warn, message, fields);
}

fn write(level: host::Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    host::log(level, message, &fields);
}
