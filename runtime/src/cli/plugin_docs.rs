//! `cairn plugin docs`: a Markdown reference of what a plugin manages,
//! made from its own `describe` — its configuration and each resource
//! type's fields, identity and lifecycle — as tfplugindocs makes a
//! Terraform provider's pages from its schema. The page says what the
//! plugin's schemas say (the host checks a provider's `config` against its
//! schema; a resource's spec is checked by the plugin's `validate`), so it
//! cannot drift from the plugin. Fields a schema defines through `$ref`,
//! `allOf` and the like are shown by their parent's type.

use super::EXIT_OK;
use anstream::println;
use cairn::contract::{ProviderInfo, ResourceType};
use cairn::host::PluginHost;
use clap::Args;
use serde_json::Value;
use std::fmt::Write;
use std::path::PathBuf;

/// How deep nested objects' fields are listed (`metadata.labels.app` is
/// three): deeper ones are summed up by their parent's type.
const NESTING_SHOWN: usize = 3;

/// Arguments of `cairn plugin docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The plugin's `.wasm` file.
    plugin: PathBuf,
}

/// Runs the command.
pub async fn run(args: &DocsArgs) -> anyhow::Result<u8> {
    let host = PluginHost::new(super::author_cache::open())?;
    let plugin = host.load(&args.plugin, None).await?;
    println!(
        "{}",
        markdown(plugin.info(), &plugin.contract_version().to_string())
    );
    Ok(EXIT_OK)
}

/// The reference page of `info`, a plugin speaking `contract`.
pub fn markdown(info: &ProviderInfo, contract: &str) -> String {
    let mut page = String::new();
    let _ = writeln!(page, "# Provider `{}` {}\n", info.name, info.version);
    if !info.description.is_empty() {
        let _ = writeln!(page, "{}\n", info.description);
    }
    let _ = writeln!(page, "Contract: `{contract}`.\n");
    let _ = writeln!(page, "## Configuration\n");
    let _ = writeln!(
        page,
        "The `config` table of `[tenants.NAME.providers.NAME]` in `cairn.toml`.\n"
    );
    page.push_str(&fields_table(&info.config_schema));
    let _ = writeln!(page, "\n## Resource types\n");
    for resource_type in &info.resource_types {
        page.push_str(&resource_type_section(resource_type));
    }
    page.trim_end().to_string()
}

fn resource_type_section(resource_type: &ResourceType) -> String {
    let mut section = String::new();
    let _ = writeln!(section, "### `{}`\n", resource_type.name);
    if !resource_type.description.is_empty() {
        let _ = writeln!(section, "{}\n", resource_type.description);
    }
    let _ = writeln!(
        section,
        "Written as `[[NAME.{}]]`, where `NAME` is the provider instance's name in `cairn.toml`.\n",
        resource_type.name
    );
    let listed = |fields: &[String]| {
        fields
            .iter()
            .map(|field| format!("`{}`", field.replace('/', ".")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if resource_type.identity.is_empty() {
        let _ = writeln!(
            section,
            "- **identity**: none: every resource of the type has the address `NAME/{}/`",
            resource_type.name
        );
    } else {
        let _ = writeln!(
            section,
            "- **identity**: {}: the resource's address is `NAME/{}/ID`, ID being these fields' values joined by `/` (one ending in `?` is left out when absent)",
            listed(&resource_type.identity),
            resource_type.name
        );
    }
    if !resource_type.force_replace.is_empty() {
        let _ = writeln!(
            section,
            "- **changing forces a replace**: {}",
            listed(&resource_type.force_replace)
        );
    }
    if !resource_type.sensitive.is_empty() {
        let _ = writeln!(
            section,
            "- **sensitive** (never shown in plans, logs or the history): {}",
            listed(&resource_type.sensitive)
        );
    }
    let _ = writeln!(section);
    section.push_str(&fields_table(&resource_type.schema));
    let _ = writeln!(section);
    section
}

/// A table of the fields `schema` describes, nested objects' fields under
/// their parent's name; a sentence when it describes none.
fn fields_table(schema: &Value) -> String {
    let mut rows = Vec::new();
    collect_rows(schema, "", 1, &mut rows);
    if rows.is_empty() {
        return "The schema lists no fields.\n".to_string();
    }
    let mut table = String::from(
        "| field | type | required | default | description |\n| --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        table.push_str(&row);
    }
    table
}

fn collect_rows(schema: &Value, prefix: &str, depth: usize, rows: &mut Vec<String>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in properties {
        let path = format!("{prefix}{name}");
        rows.push(format!(
            "| `{path}` | {} | {} | {} | {} |\n",
            type_of(field),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            field
                .get("default")
                .map(|default| cell(&format!("`{default}`")))
                .unwrap_or_default(),
            cell(
                field
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        ));
        if depth < NESTING_SHOWN {
            collect_rows(field, &format!("{path}."), depth + 1, rows);
        }
    }
}

/// A field's type in words: `string`, `integer ≥ 1`, `array of string`,
/// one of an enum's values.
fn type_of(field: &Value) -> String {
    if let Some(values) = field.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
        return cell(&format!("one of {}", values.join(", ")));
    }
    let mut words = match field.get("type") {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    if words == "array"
        && let Some(items) = field.get("items")
    {
        words = format!("array of {}", type_of(items));
    }
    for (keyword, sign) in [("minimum", "≥"), ("maximum", "≤")] {
        if let Some(bound) = field.get(keyword) {
            words.push_str(&format!(" {sign} {bound}"));
        }
    }
    words
}

/// Text that stays in one table cell: no `|` or line break unescaped, and
/// no backtick a code span would end at.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('\n', " ")
        .replace("``", "` `")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_lists_each_types_fields_identity_and_lifecycle() {
        let mut record = ResourceType::new("record", "A DNS RRset.", &["name", "type"]);
        record.schema = json!({
            "type": "object",
            "required": ["name", "type"],
            "properties": {
                "name": {"type": "string", "description": "the owner | name"},
                "type": {"enum": ["A", "AAAA"]},
                "ttl": {"type": "integer", "minimum": 1, "default": 3600},
                "records": {"type": "array", "items": {"type": "string"}},
                "meta": {"type": "object", "properties": {"team": {"type": "string"}}}
            }
        });
        record.force_replace = vec!["name".into()];
        record.sensitive = vec!["records".into()];
        let info = ProviderInfo {
            name: "powerdns".into(),
            version: "1.2.0".into(),
            description: "PowerDNS zones and records.".into(),
            resource_types: vec![record],
            config_schema: json!({"properties": {"url": {"type": "string"}}, "required": ["url"]}),
        };
        let page = markdown(&info, "cairn:provider@0.2.0");
        for expected in [
            "# Provider `powerdns` 1.2.0",
            "Contract: `cairn:provider@0.2.0`.",
            "| `url` | string | yes |  |  |",
            "### `record`",
            "- **identity**: `name`, `type`",
            "- **changing forces a replace**: `name`",
            "- **sensitive** (never shown in plans, logs or the history): `records`",
            "| `name` | string | yes |  | the owner \\| name |",
            "| `type` | one of `\"A\"`, `\"AAAA\"` | yes |  |  |",
            "| `ttl` | integer ≥ 1 |  | `3600` |  |",
            "| `records` | array of string |  |  |  |",
            "| `meta.team` | string |  |  |  |",
        ] {
            assert!(page.contains(expected), "{expected}\n{page}");
        }
    }

    #[test]
    fn a_schema_without_fields_says_so() {
        assert_eq!(fields_table(&json!({})), "The schema lists no fields.\n");
    }
}
