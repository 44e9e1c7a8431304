//! Where a value is in a YAML manifest: the span of the node that a path
//! of keys and indexes names in one of its documents, so that a provider's
//! diagnostic on a manifest's object points at the manifest's own line.
//!
//! Manifests are parsed into values once per load ([`super::files`]); this
//! second reading, of the parser's events with their places, happens only
//! when a diagnostic needs a place. It follows the documents as the first
//! reading counts them (empty ones left out), walks the events without
//! recursion, and keeps nothing but the place it looks for.

use super::diagnostic::FileText;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};
use std::ops::Range;

/// The span of the value at `path` in the `document`-th non-empty document
/// of `file`: from its key (or its first character, for an item of a
/// sequence) to its end. A path that goes further than the text does
/// (through an alias, a merge key or a key the text lacks) gives the
/// deepest node it reaches; `None` when there is no such document or the
/// text is not YAML.
///
/// A key may itself hold `/` (`app.kubernetes.io/name`): a key matches one
/// step of the path or several joined by `/`.
pub fn locate(file: &FileText, document: usize, path: &[&str]) -> Option<Range<usize>> {
    let offset = |marker: Marker| file.offset(marker.line(), marker.col() + 1);
    let mut events = Parser::new_from_str(&file.text).map_while(Result::ok);

    // The document's root.
    let mut found = 0;
    let (mut node, mut node_span) = loop {
        let (event, _) = events.next()?;
        if !matches!(event, Event::DocumentStart(_)) {
            continue;
        }
        let (root, span) = events.next()?;
        if is_null(&root) {
            continue;
        }
        if found == document {
            break (root, span);
        }
        found += 1;
        skip(&mut events, &root, span)?;
    };
    let mut start = offset(node_span.start);

    let mut step = 0;
    while step < path.len() {
        match node {
            Event::MappingStart(..) => loop {
                let (key, key_span) = events.next()?;
                if matches!(key, Event::MappingEnd) {
                    // No such key: the whole mapping.
                    return Some(start..offset(key_span.end));
                }
                let taken = match &key {
                    Event::Scalar(text, ..) => steps_matched(text, &path[step..]),
                    _ => None,
                };
                skip(&mut events, &key, key_span)?;
                let (value, value_span) = events.next()?;
                if let Some(taken) = taken {
                    start = offset(key_span.start);
                    (node, node_span) = (value, value_span);
                    step += taken;
                    break;
                }
                skip(&mut events, &value, value_span)?;
            },
            Event::SequenceStart(..) => {
                let wanted: Option<usize> = path[step].parse().ok();
                let mut index = 0;
                loop {
                    let (item, item_span) = events.next()?;
                    if matches!(item, Event::SequenceEnd) {
                        // No such item: the whole sequence.
                        return Some(start..offset(item_span.end));
                    }
                    if Some(index) == wanted {
                        start = offset(item_span.start);
                        (node, node_span) = (item, item_span);
                        step += 1;
                        break;
                    }
                    skip(&mut events, &item, item_span)?;
                    index += 1;
                }
            }
            // A scalar or an alias: the path ends here.
            _ => return Some(start..offset(node_span.end)),
        }
    }
    let end = skip(&mut events, &node, node_span)?;
    Some(start..offset(end))
}

/// How many steps of `path` the key `key` stands for: one, or several
/// joined by `/`.
fn steps_matched(key: &str, path: &[&str]) -> Option<usize> {
    let mut joined = String::new();
    for (taken, step) in path.iter().enumerate() {
        if taken > 0 {
            joined.push('/');
        }
        joined.push_str(step);
        if joined == key {
            return Some(taken + 1);
        }
        if !key.starts_with(&joined) {
            return None;
        }
    }
    None
}

/// Whether a document whose root is `event` is empty (YAML's null), as
/// the first reading leaves such documents out.
fn is_null(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Scalar(text, ScalarStyle::Plain, _, None)
            if matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
    )
}

/// Consumes the rest of the node that starts with `first` (at `span`),
/// and returns where it ends.
fn skip<'a>(
    events: &mut impl Iterator<Item = (Event<'a>, Span)>,
    first: &Event<'a>,
    span: Span,
) -> Option<Marker> {
    if !matches!(first, Event::MappingStart(..) | Event::SequenceStart(..)) {
        return Some(span.end);
    }
    let mut depth = 1usize;
    loop {
        let (event, span) = events.next()?;
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                depth -= 1;
                if depth == 0 {
                    return Some(span.end);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "\
# the namespace
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: a
      labels:
        app.kubernetes.io/name: shop
  - kind: Service
    metadata: {name: b, namespace: shop}
";

    /// The text at `path` in `document`, and its line and column.
    fn at(document: usize, path: &[&str]) -> (String, String) {
        let file = FileText::new("m.yaml", STREAM.to_string());
        let span = locate(&file, document, path).expect("a place");
        let location = file.location(span.start);
        (
            file.text[span].to_string(),
            format!("{}:{}", location.line, location.column),
        )
    }

    #[test]
    fn paths_lead_to_their_keys_and_items() {
        assert_eq!(
            at(0, &["metadata", "name"]),
            ("name: shop".into(), "6:3".into())
        );
        assert_eq!(at(0, &["kind"]).1, "4:1");
        // The empty document between the two is not counted.
        let (text, place) = at(1, &["items", "1", "metadata", "namespace"]);
        assert_eq!(
            (text.as_str(), place.as_str()),
            ("namespace: shop", "19:25")
        );
        let (text, place) = at(1, &["items", "0"]);
        assert!(
            text.starts_with("apiVersion: v1\n    kind: ConfigMap"),
            "{text}"
        );
        assert_eq!(place, "12:5");
    }

    #[test]
    fn keys_holding_slashes_match_several_steps() {
        let (text, place) = at(
            1,
            &[
                "items",
                "0",
                "metadata",
                "labels",
                "app.kubernetes.io",
                "name",
            ],
        );
        assert_eq!(
            (text.as_str(), place.as_str()),
            ("app.kubernetes.io/name: shop", "17:9")
        );
    }

    #[test]
    fn a_path_beyond_the_text_stops_at_the_deepest_node_found() {
        // No `spec` in the ConfigMap: the whole of it, from its place.
        assert_eq!(at(1, &["items", "0", "spec", "replicas"]).1, "12:5");
        // Beyond a scalar.
        assert_eq!(
            at(0, &["kind", "deeper"]),
            ("kind: Namespace".into(), "4:1".into())
        );
        // The document itself.
        assert_eq!(at(1, &[]).1, "9:1");
        let file = FileText::new("m.yaml", STREAM.to_string());
        assert!(locate(&file, 2, &[]).is_none());
    }
}
