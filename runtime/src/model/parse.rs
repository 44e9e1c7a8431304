//! Parsing one resource file: `[[PROVIDER.TYPE]]` tables whose keys are the
//! spec, plus Cairn's reserved keys. Every value keeps its place in the file
//! so that later errors (a provider's diagnostic on `records/2`, say) point
//! at the exact text.

use super::diagnostic::{FileText, SourceDiagnostic};
use super::files::Named;
use super::{Lifecycle, OnDelete};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Keys Cairn reads itself; the rest of a resource's table is its spec.
pub const RESERVED_KEYS: &[&str] = &[
    "depends_on",
    "protect",
    "ignore_changes",
    "on_delete",
    "adopt",
];

/// A resource as written, before its provider validated it.
#[derive(Debug, Clone)]
pub struct RawResource {
    /// The file it is in.
    pub file: FileText,
    /// The provider instance name and where it is written.
    pub provider: (String, Range<usize>),
    /// The type name and where it is written.
    pub type_name: (String, Range<usize>),
    /// The whole table.
    pub span: Range<usize>,
    /// The spec, reserved keys removed.
    pub spec: Value,
    /// Where each spec field is, by `/`-separated path.
    pub field_spans: HashMap<String, Range<usize>>,
    /// `depends_on` entries and where each is written.
    pub depends_on: Vec<(String, Range<usize>)>,
    /// The lifecycle flags.
    pub lifecycle: Lifecycle,
    /// The manifests its file fields name, once read (see
    /// [`super::files`]); they stand in for those fields' patterns when
    /// the spec is written out.
    pub manifests: Named,
}

impl RawResource {
    /// The spec as JSON text for the plugin, with each field that names
    /// manifests replaced by `[{"path": …, "documents": […]}, …]`: the
    /// shared documents are copied only here, into the text.
    pub fn spec_json(&self) -> String {
        let Value::Object(spec) = &self.spec else {
            return self.spec.to_string();
        };
        if self.manifests.is_empty() {
            return self.spec.to_string();
        }
        let quoted = |text: &str| Value::String(text.to_string()).to_string();
        let mut json = String::from("{");
        for (position, (key, value)) in spec.iter().enumerate() {
            if position > 0 {
                json.push(',');
            }
            json.push_str(&quoted(key));
            json.push(':');
            let Some((_, files)) = self.manifests.iter().find(|(field, _)| field == key) else {
                json.push_str(&value.to_string());
                continue;
            };
            json.push('[');
            for (position, file) in files.iter().enumerate() {
                if position > 0 {
                    json.push(',');
                }
                json.push_str("{\"path\":");
                json.push_str(&quoted(&file.path));
                json.push_str(",\"documents\":");
                json.push_str(&file.documents_json);
                json.push('}');
            }
            json.push(']');
        }
        json.push('}');
        json
    }

    /// The span of the field at `path`, or of the closest enclosing field,
    /// or of the whole resource.
    pub fn span_of(&self, path: &str) -> Range<usize> {
        let mut path = path.trim_matches('/');
        loop {
            if let Some(span) = self.field_spans.get(path) {
                return span.clone();
            }
            match path.rsplit_once('/') {
                Some((parent, _)) => path = parent,
                None => return self.span.clone(),
            }
        }
    }
}

/// Parses one file, returning its resources or every problem found.
pub fn parse_file(file: &FileText) -> Result<Vec<RawResource>, Vec<SourceDiagnostic>> {
    let root = DeTable::parse(&file.text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        vec![
            SourceDiagnostic::new(
                file,
                span,
                format!("invalid TOML: {}", error.message().trim_end()),
            )
            .with_help("fix the syntax; see https://toml.io"),
        ]
    })?;
    let mut resources = Vec::new();
    let mut problems = Vec::new();
    for (provider_key, provider_value) in root.get_ref() {
        let provider = provider_key.get_ref().to_string();
        let DeValue::Table(types) = provider_value.get_ref() else {
            problems.push(
                SourceDiagnostic::new(
                    file,
                    provider_key.span(),
                    format!("`{provider}` is not a resource table"),
                )
                .with_help("declare resources as [[PROVIDER.TYPE]] tables, such as [[dns.record]]"),
            );
            continue;
        };
        for (type_key, type_value) in types {
            let type_name = type_key.get_ref().to_string();
            let tables: Vec<&Spanned<DeValue>> = match type_value.get_ref() {
                DeValue::Array(items)
                    if items
                        .iter()
                        .all(|item| matches!(item.get_ref(), DeValue::Table(_))) =>
                {
                    items.iter().collect()
                }
                _ => {
                    problems.push(
                        SourceDiagnostic::new(
                            file,
                            type_key.span(),
                            format!("`{provider}.{type_name}` must be an array of tables"),
                        )
                        .with_help(format!(
                            "write each resource as [[{provider}.{type_name}]] (double brackets)"
                        )),
                    );
                    continue;
                }
            };
            for table in tables {
                let DeValue::Table(entries) = table.get_ref() else {
                    continue;
                };
                match parse_resource(
                    file,
                    &provider,
                    provider_key.span(),
                    &type_name,
                    type_key.span(),
                    table.span(),
                    entries,
                ) {
                    Ok(resource) => resources.push(resource),
                    Err(mut errors) => problems.append(&mut errors),
                }
            }
        }
    }
    if problems.is_empty() {
        resources.sort_by_key(|resource| resource.span.start);
        Ok(resources)
    } else {
        Err(problems)
    }
}

fn parse_resource(
    file: &FileText,
    provider: &str,
    provider_span: Range<usize>,
    type_name: &str,
    type_span: Range<usize>,
    span: Range<usize>,
    entries: &DeTable,
) -> Result<RawResource, Vec<SourceDiagnostic>> {
    let mut problems = Vec::new();
    let mut spec = Map::new();
    let mut field_spans = HashMap::new();
    let mut lifecycle = Lifecycle::default();
    let mut depends_on = Vec::new();
    for (key, value) in entries {
        let name = key.get_ref().as_ref();
        let key_span = key.span().start..value.span().end;
        let wrong_type = |expected: &str| {
            SourceDiagnostic::new(file, value.span(), format!("`{name}` must be {expected}"))
        };
        match name {
            "depends_on" => match string_list(value) {
                Some(items) => depends_on = items,
                None => problems.push(wrong_type(
                    "a list of addresses such as [\"dns/zone/example.org.\"]",
                )),
            },
            "ignore_changes" => match string_list(value) {
                Some(items) => {
                    lifecycle.ignore_changes = items.into_iter().map(|(field, _)| field).collect()
                }
                None => problems.push(wrong_type("a list of field names")),
            },
            "protect" | "adopt" => match value.get_ref() {
                DeValue::Boolean(flag) if name == "protect" => lifecycle.protect = *flag,
                DeValue::Boolean(flag) => lifecycle.adopt = *flag,
                _ => problems.push(wrong_type("true or false")),
            },
            "on_delete" => match value.get_ref() {
                DeValue::String(text) if text == "delete" => lifecycle.on_delete = OnDelete::Delete,
                DeValue::String(text) if text == "orphan" => lifecycle.on_delete = OnDelete::Orphan,
                _ => problems.push(wrong_type("\"delete\" or \"orphan\"")),
            },
            _ => {
                field_spans.insert(name.to_string(), key_span);
                match to_json(file, value, name, &mut field_spans) {
                    Ok(json) => {
                        spec.insert(name.to_string(), json);
                    }
                    Err(problem) => problems.push(*problem),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(RawResource {
            file: file.clone(),
            provider: (provider.to_string(), provider_span),
            type_name: (type_name.to_string(), type_span),
            span,
            spec: Value::Object(spec),
            field_spans,
            depends_on,
            lifecycle,
            manifests: Named::new(),
        })
    } else {
        Err(problems)
    }
}

fn string_list(value: &Spanned<DeValue>) -> Option<Vec<(String, Range<usize>)>> {
    let DeValue::Array(items) = value.get_ref() else {
        return None;
    };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::String(text) => Some((text.to_string(), item.span())),
            _ => None,
        })
        .collect()
}

/// Converts a TOML value to JSON, recording the span of every nested field.
fn to_json(
    file: &FileText,
    value: &Spanned<DeValue>,
    path: &str,
    spans: &mut HashMap<String, Range<usize>>,
) -> Result<Value, Box<SourceDiagnostic>> {
    let fail = |message: String| Box::new(SourceDiagnostic::new(file, value.span(), message));
    Ok(match value.get_ref() {
        DeValue::String(text) => Value::String(text.to_string()),
        DeValue::Boolean(flag) => Value::Bool(*flag),
        DeValue::Datetime(datetime) => Value::String(datetime.to_string()),
        DeValue::Integer(integer) => {
            let digits = integer.as_str().replace('_', "");
            let number = i64::from_str_radix(&digits, integer.radix())
                .map_err(|_| fail(format!("the integer {digits} does not fit in 64 bits")))?;
            Value::Number(number.into())
        }
        DeValue::Float(float) => {
            let text = float.as_str().replace('_', "");
            let number = text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or_else(|| {
                    fail(format!(
                        "the number {text} cannot be represented (infinity and NaN are not allowed)"
                    ))
                })?;
            Value::Number(number)
        }
        DeValue::Array(items) => {
            let mut array = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let child = format!("{path}/{index}");
                spans.insert(child.clone(), item.span());
                array.push(to_json(file, item, &child, spans)?);
            }
            Value::Array(array)
        }
        DeValue::Table(table) => {
            let mut object = Map::new();
            for (key, item) in table {
                let child = format!("{path}/{}", key.get_ref());
                spans.insert(child.clone(), key.span().start..item.span().end);
                object.insert(
                    key.get_ref().to_string(),
                    to_json(file, item, &child, spans)?,
                );
            }
            Value::Object(object)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileText {
        FileText::new("zones/example.toml", text.to_string())
    }

    #[test]
    fn resources_keep_their_specs_flags_and_places() {
        let text = "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\", \"192.0.2.2\"]\ndepends_on = [\"dns/zone/example.org.\"]\nprotect = true\n";
        let source = file(text);
        let resources = parse_file(&source).unwrap();
        assert_eq!(resources.len(), 2);
        let record = &resources[1];
        assert_eq!(record.provider.0, "dns");
        assert_eq!(record.type_name.0, "record");
        assert_eq!(record.spec["records"][1], "192.0.2.2");
        assert!(record.spec.get("protect").is_none());
        assert!(record.lifecycle.protect);
        assert_eq!(record.depends_on[0].0, "dns/zone/example.org.");
        let span = record.span_of("records/1");
        assert_eq!(&text[span], "\"192.0.2.2\"");
        assert_eq!(source.location(record.span_of("type").start).line, 6);
    }

    #[test]
    fn syntax_errors_point_at_line_and_column() {
        let errors =
            parse_file(&file("[[dns.zone]]\nname = \"example.org.\nkind = 1\n")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location.line, 2);
        assert!(
            errors[0].message.contains("invalid TOML"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn single_brackets_and_bad_flags_are_explained() {
        let errors = parse_file(&file("[dns.zone]\nname = \"a.\"\n")).unwrap_err();
        assert!(errors[0].help.as_deref().unwrap().contains("[[dns.zone]]"));
        let errors =
            parse_file(&file("[[dns.zone]]\nname = \"a.\"\nprotect = \"yes\"\n")).unwrap_err();
        assert_eq!(errors[0].message, "`protect` must be true or false");
        assert_eq!(errors[0].location.line, 3);
    }
}
