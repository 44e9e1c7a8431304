//! What a record refers to, checked when planning: the zone that holds it.
//! A record set can only be written into a zone, so a record whose name no
//! zone holds — neither one the commit declares nor one on the server —
//! could only fail at apply; it is an error of the plan instead.

use cairn_sdk::{Change, Declarations, Diagnostic};

/// Whether `zone` (absolute, lower case) holds `name` (the same).
pub fn holds(zone: &str, name: &str) -> bool {
    zone == "."
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
}

/// The owner name of a record change's desired spec, when it has one.
pub fn desired_name(change: &Change) -> Option<&str> {
    if change.type_name != "record" {
        return None;
    }
    change.desired.as_ref()?.get("name")?.as_str()
}

/// Whether one of the zones the commit declares holds `name`.
pub fn declared_zone_holds(declarations: &Declarations, name: &str) -> bool {
    declarations.ids("zone").any(|zone| holds(zone, name))
}

/// The error for a record whose name no zone holds.
pub fn no_zone(name: &str) -> Diagnostic {
    Diagnostic::error(
        "name",
        format!("no zone holds `{name}`: neither one this commit declares nor one on the server"),
    )
    .with_help("declare the zone it belongs to (a `zone` resource), or correct the record's name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_holds_its_apex_and_the_names_below_it_only() {
        assert!(holds("example.org.", "example.org."));
        assert!(holds("example.org.", "www.example.org."));
        assert!(holds("example.org.", "a.b.example.org."));
        assert!(!holds("example.org.", "badexample.org."));
        assert!(!holds("example.org.", "example.com."));
        assert!(holds(".", "anything.test."));
    }
}
