//! The documentation (`README.md` and `docs/`) checked against the code it
//! describes, with no server and no plugin:
//!
//! - `docs/cli.md` is exactly the rendering of the command line's own
//!   definition, [`cairn::cli::reference_markdown`];
//! - every fenced TOML block says what it is — ```` ```toml config ```` for
//!   part or all of a `cairn.toml`, read by Cairn's own configuration
//!   parser, ```` ```toml resource ```` for a resource file, read by the
//!   desired-state model's parser (a provider's own checks need its plugin
//!   and are left to the provider's tests) — and every ```` ```json ````
//!   block is JSON;
//! - every key the configuration accepts has a row in
//!   `docs/configuration.md` under the heading of its table, every row
//!   there names a key the parser accepts, and every value an enumerated
//!   key takes is in its row;
//! - every metric the daemon registers (its own and those it reads from the
//!   state store) has a row in `docs/http-api.md`, and every row there is
//!   one of them;
//! - every link between pages leads to a file and a heading that exist, and
//!   every page of `docs/` can be reached from the README.
//!
//! `CAIRN_BLESS_DOCS=1` rewrites `docs/cli.md` instead of comparing it.
//!
//! The configuration's keys are asked of the parser itself rather than
//! kept in a list: a probe key placed in a table makes serde's
//! `deny_unknown_fields` answer with every field that table accepts. The
//! answer comes from the same derive that reads `cairn.toml`, so it cannot
//! fall behind the types the way a hand-kept list (or a fully populated
//! example, which must be extended with each new key) can, and the types
//! need neither a `Serialize` implementation nor a list of their own.
//! Tables within tables are found the same way, by probing each key as a
//! table, an array of tables and a map of tables. Only the untagged shapes
//! — a secret reference, a grant with its CA — answer without naming their
//! fields; their keys are listed here, and an example using every one of
//! them must parse.

use cairn::config::Config;
use cairn::model::Address;
use cairn::model::diagnostic::FileText;
use cairn::model::parse::parse_file;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};

/// Set to `1` to rewrite the generated pages instead of comparing them.
const BLESS: &str = "CAIRN_BLESS_DOCS";

/// The generated command-line reference, relative to the repository.
const CLI_PAGE: &str = "docs/cli.md";

/// The configuration reference, relative to the repository.
const CONFIGURATION_PAGE: &str = "docs/configuration.md";

/// The HTTP API's reference, with the metrics' table.
const HTTP_API_PAGE: &str = "docs/http-api.md";

/// The kinds a TOML block may be, after ```` ```toml ````.
const TOML_KINDS: &[&str] = &["config", "resource", "conformance"];

/// The key placed in a table to make the parser list the fields it
/// expects there; no table of `cairn.toml` has it.
const PROBE: &str = "cairn_docs_probe";

/// The heading of the configuration reference's top-level keys.
const TOP_LEVEL_HEADING: &str = "Top-level keys";

/// Shapes whose errors name no fields (serde's untagged enums): the
/// heading of their section in the configuration reference, their keys,
/// and a configuration using every one of them.
const UNTAGGED_SHAPES: &[(&str, &[&str], &str)] = &[
    (
        "Secret references",
        &["env", "file"],
        "[daemon]\napi_token = { env = \"CAIRN_API_TOKEN\" }\n\
         [tenants.default]\nrepo = \".\"\napi_token = { file = \"/run/secrets/default\" }\n",
    ),
    (
        "Network grants",
        &["url", "ca"],
        "[tenants.default]\nrepo = \".\"\n[tenants.default.providers.k8s]\nplugin = \"k.wasm\"\n\
         allow = [{ url = \"https://127.0.0.1:6443\", ca = \"certs/ca.crt\" }]\n",
    ),
];

/// A CA certificate for the examples whose grants name a CA bundle: the
/// parser reads the bundle, so the test writes this one where the example
/// says. Self-signed, for nothing but being parsed.
const EXAMPLE_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBljCCAT2gAwIBAgIUc9wVFbZ6DCkSfuHyhpdl6jV/kmQwCgYIKoZIzj0EAwIw
IDEeMBwGA1UEAwwVQ2Fpcm4gZG9jcyBleGFtcGxlIENBMCAXDTI2MTIwMjE0NDkz
NVoYDzIxMjYxMTA4MTQ0OTM1WjAgMR4wHAYDVQQDDBVDYWlybiBkb2NzIGV4YW1w
bGUgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASdQb5U3d/nupnTdys9llAm
0wnumzDF2yr2OHBs/lBjOi6AeDSIALUnHtN6ENiNwsTML8TCWtgj5Vz0fNq63f3z
o1MwUTAdBgNVHQ4EFgQUMW8YSaCVGVW2Y5+xu7c8I/2pUfMwHwYDVR0jBBgwFoAU
MW8YSaCVGVW2Y5+xu7c8I/2pUfMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQD
AgNHADBEAiBj9ANDkWnB2WBOC3ZVt9j5ShjN2z25+pfQVlbiND6VtAIgXCOnruiA
JC6Z3kT0GriQ6fux8MCbbEEeLf79RRjkcZY=
-----END CERTIFICATE-----
";

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn the_cli_reference_is_rendered_from_the_command_line() {
    let path = repository().join(CLI_PAGE);
    let rendered = cairn::cli::reference_markdown();
    if std::env::var(BLESS).as_deref() == Ok("1") {
        std::fs::write(&path, &rendered).expect("write docs/cli.md");
        return;
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    if written != rendered {
        let line = written
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || written.lines().count().min(rendered.lines().count()) + 1,
                |index| index + 1,
            );
        panic!(
            "{CLI_PAGE} differs from the command line's definition from line {line}:\n  \
             written:  {:?}\n  rendered: {:?}\n\
             Regenerate it with `{}` (the doc comments in runtime/src/cli/ are its source).",
            written.lines().nth(line - 1).unwrap_or("(end of file)"),
            rendered.lines().nth(line - 1).unwrap_or("(end of file)"),
            cairn::cli::REGENERATE_REFERENCE,
        );
    }
}

#[test]
fn every_toml_block_says_what_it_is() {
    let mut problems = Vec::new();
    for block in all_blocks() {
        if block.language() == "toml" && !TOML_KINDS.contains(&block.kind()) {
            problems.push(format!(
                "{}: a TOML block must say what it is: ```toml {} (found ```{})",
                block.place(),
                TOML_KINDS.join(" or ```toml "),
                block.info
            ));
        }
    }
    assert_no_problems("unmarked TOML blocks", problems);
}

#[test]
fn configuration_examples_are_read_by_the_configuration_parser() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for block in all_blocks() {
        if block.language() == "toml" && block.kind() == "config" {
            checked += 1;
            if let Err(problem) = parse_configuration(&block.text) {
                problems.push(format!("{}: {problem}", block.place()));
            }
        }
    }
    assert!(checked > 0, "no ```toml config block was found");
    assert_no_problems("configuration examples the parser refuses", problems);
}

#[test]
fn conformance_examples_are_read_as_cairn_plugin_test_reads_them() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for block in all_blocks() {
        if block.language() == "toml" && block.kind() == "conformance" {
            checked += 1;
            if let Err(error) = cairn::cli::check_conformance_text(&block.text) {
                problems.push(format!("{}: {error:#}", block.place()));
            }
        }
    }
    assert!(checked > 0, "no ```toml conformance block was found");
    assert_no_problems("conformance examples `cairn plugin test` refuses", problems);
}

#[test]
fn resource_examples_are_read_by_the_model_parser() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for block in all_blocks() {
        if block.language() != "toml" || block.kind() != "resource" {
            continue;
        }
        checked += 1;
        let file = FileText::new(&block.place(), block.text.clone());
        match parse_file(&file) {
            Ok(resources) if resources.is_empty() => {
                problems.push(format!("{}: declares no resource", block.place()));
            }
            Ok(resources) => {
                for resource in resources {
                    for (dependency, _) in &resource.depends_on {
                        if Address::parse(dependency).is_none() {
                            problems.push(format!(
                                "{}: depends_on `{dependency}` is not an address PROVIDER/TYPE/ID",
                                block.place()
                            ));
                        }
                    }
                }
            }
            Err(diagnostics) => {
                for diagnostic in diagnostics {
                    problems.push(format!(
                        "{}: line {} of the block: {}",
                        block.place(),
                        diagnostic.location.line,
                        diagnostic.message
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no ```toml resource block was found");
    assert_no_problems("resource examples the model refuses", problems);
}

#[test]
fn json_examples_are_json() {
    let mut problems = Vec::new();
    for block in all_blocks() {
        if block.language() == "json"
            && let Err(error) = serde_json::from_str::<serde_json::Value>(&block.text)
        {
            problems.push(format!("{}: {error}", block.place()));
        }
    }
    assert_no_problems("JSON examples that are not JSON", problems);
}

#[test]
fn every_configuration_key_is_in_the_configuration_reference() {
    let page = read(CONFIGURATION_PAGE);
    let sections = sections(&page);
    let mut problems = Vec::new();
    let tables = configuration_tables();
    assert!(
        tables.len() >= 5,
        "the probe found too few tables: {:?}",
        tables.keys().collect::<Vec<_>>()
    );
    for (header, keys) in &tables {
        let heading = if header.is_empty() {
            TOP_LEVEL_HEADING.to_string()
        } else {
            format!("`{header}`")
        };
        problems.extend(check_rows(&sections, &heading, keys));
    }
    for (heading, keys, example) in UNTAGGED_SHAPES {
        if let Err(problem) = parse_configuration(example) {
            problems.push(format!(
                "the parser refuses the keys {keys:?} of `{heading}`: {problem}"
            ));
        }
        let keys: BTreeMap<String, Vec<String>> =
            keys.iter().map(|key| (key.to_string(), vec![])).collect();
        problems.extend(check_rows(&sections, heading, &keys));
    }
    assert_no_problems(
        "keys of cairn.toml missing from (or unknown to) docs/configuration.md",
        problems,
    );
}

#[test]
fn every_metric_is_in_the_http_reference() {
    let registered = registered_metrics();
    assert!(
        registered.len() > 10,
        "too few metric registrations found under runtime/src: {registered:?}"
    );
    let page = read(HTTP_API_PAGE);
    // A counter's samples, and so its documented name, end in `_total`;
    // it is registered without.
    let documented: BTreeSet<String> = page
        .lines()
        .filter_map(|line| line.strip_prefix("| `cairn_"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("cairn_{}", name.trim_end_matches("_total")))
        .collect();
    let mut problems: Vec<String> = registered
        .difference(&documented)
        .map(|name| format!("`{name}` has no row"))
        .collect();
    problems.extend(
        documented
            .difference(&registered)
            .map(|name| format!("`{name}` is no metric the daemon registers")),
    );
    assert_no_problems(
        "metrics missing from (or unknown to) docs/http-api.md",
        problems,
    );
}

#[test]
fn links_between_pages_lead_somewhere() {
    let mut problems = Vec::new();
    for page in pages() {
        for link in links(&page.text) {
            if let Err(problem) = follow(&page.path, &link) {
                problems.push(format!("{}: link `{link}`: {problem}", page.path.display()));
            }
        }
    }
    assert_no_problems("broken links", problems);
}

#[test]
fn every_page_can_be_reached_from_the_readme() {
    let mut reached = BTreeSet::from([PathBuf::from("README.md")]);
    let mut queue = VecDeque::from([PathBuf::from("README.md")]);
    while let Some(path) = queue.pop_front() {
        let text = read(&path.to_string_lossy());
        for link in links(&text) {
            let Some(target) = link_target(&path, &link) else {
                continue;
            };
            if target.extension().is_some_and(|e| e == "md")
                && repository().join(&target).is_file()
                && reached.insert(target.clone())
            {
                queue.push_back(target);
            }
        }
    }
    let unreached: Vec<String> = pages()
        .into_iter()
        .map(|page| page.path)
        .filter(|path| !reached.contains(path))
        .map(|path| {
            format!(
                "{} is linked from no page reached from README.md",
                path.display()
            )
        })
        .collect();
    assert_no_problems("pages a reader cannot find", unreached);
}

// ---------------------------------------------------------------------------
// Pages and their code blocks.

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the runtime crate is inside the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = repository().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A Markdown page, its path relative to the repository.
struct Page {
    path: PathBuf,
    text: String,
}

/// `README.md` and every Markdown file under `docs/`.
fn pages() -> Vec<Page> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut folders = vec![PathBuf::from("docs")];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(repository().join(&folder))
            .unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let path = folder.join(entry.file_name());
            if entry.file_type().expect("a file type").is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| Page {
            text: read(&path.to_string_lossy()),
            path,
        })
        .collect()
}

/// A fenced code block.
struct Block {
    page: PathBuf,
    /// The line of the opening fence, from 1.
    line: usize,
    /// What follows the opening fence: ```` toml config ````.
    info: String,
    text: String,
}

impl Block {
    fn language(&self) -> &str {
        self.info.split_whitespace().next().unwrap_or("")
    }

    fn kind(&self) -> &str {
        self.info.split_whitespace().nth(1).unwrap_or("")
    }

    fn place(&self) -> String {
        format!("{}:{}", self.page.display(), self.line)
    }
}

fn all_blocks() -> Vec<Block> {
    pages().iter().flat_map(blocks).collect()
}

/// The fenced blocks of a page, indented ones (in lists) included.
fn blocks(page: &Page) -> Vec<Block> {
    /// A block whose closing fence is still to come.
    struct Open {
        line: usize,
        indent: usize,
        fence: usize,
        info: String,
        lines: Vec<String>,
    }
    let mut found = Vec::new();
    let mut open: Option<Open> = None;
    for (index, line) in page.text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        let fence = trimmed.chars().take_while(|&c| c == '`').count();
        match open.take() {
            None if fence >= 3 => {
                open = Some(Open {
                    line: index + 1,
                    indent,
                    fence,
                    info: trimmed[fence..].trim().to_string(),
                    lines: Vec::new(),
                });
            }
            None => {}
            Some(block) if fence >= block.fence && trimmed[fence..].trim().is_empty() => {
                found.push(Block {
                    page: page.path.clone(),
                    line: block.line,
                    info: block.info,
                    text: block.lines.join("\n") + "\n",
                });
            }
            Some(mut block) => {
                block
                    .lines
                    .push(line[indent.min(block.indent)..].to_string());
                open = Some(block);
            }
        }
    }
    found
}

fn assert_no_problems(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what} ({}):\n  {}\nSee docs/README.md for how examples are marked and checked.",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Configuration examples.

/// Parses part or all of a `cairn.toml` with Cairn's parser, in a folder
/// holding the CA bundles its grants name and the `allowed_signers` files
/// its tenants name (Cairn reads both when it loads the file). A block that shows only some
/// tables gets the least the parser requires and it lacks — a tenant, and
/// each tenant's `repo` — and nothing else.
fn parse_configuration(text: &str) -> Result<(), String> {
    let mut table: toml::Table = text.parse().map_err(|error| format!("not TOML: {error}"))?;
    let folder = tempfile::tempdir().expect("a temporary folder");
    for ca in ca_bundles(&toml::Value::Table(table.clone())) {
        let path = folder.path().join(&ca);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(&path, EXAMPLE_CA).expect("write the example CA");
    }
    for file in policy_files(&toml::Value::Table(table.clone())) {
        let path = folder.path().join(&file);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(&path, "package example\n").expect("write the example rule file");
    }
    for signers in allowed_signers(&toml::Value::Table(table.clone())) {
        let path = folder.path().join(&signers);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(&path, EXAMPLE_SIGNERS).expect("write the example signers");
    }
    let completed = complete(&mut table);
    let text = if completed {
        toml::to_string(&table).expect("a table serializes")
    } else {
        text.to_string()
    };
    Config::parse(&folder.path().join("cairn.toml"), &text)
        .map(drop)
        .map_err(|error| {
            let shown = if completed {
                format!("\n  (completed with a tenant and its `repo`:)\n{text}")
            } else {
                String::new()
            };
            format!("{error}{shown}")
        })
}

/// Adds a tenant and a `repo` to each tenant where the block has none;
/// whether it added anything.
fn complete(table: &mut toml::Table) -> bool {
    let mut added = false;
    let tenants = table
        .entry("tenants")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(tenants) = tenants.as_table_mut() else {
        return false;
    };
    if tenants.is_empty() {
        tenants.insert("default".into(), toml::Value::Table(toml::Table::new()));
    }
    for (_, tenant) in tenants.iter_mut() {
        if let Some(tenant) = tenant.as_table_mut()
            && !tenant.contains_key("repo")
        {
            tenant.insert("repo".into(), toml::Value::String(".".into()));
            added = true;
        }
    }
    added || !table.contains_key("tenants")
}

/// The `ca` files that grants of `value` name.
fn ca_bundles(value: &toml::Value) -> Vec<String> {
    match value {
        toml::Value::Table(table) => {
            let mut found: Vec<String> = table.values().flat_map(ca_bundles).collect();
            if table.contains_key("url")
                && let Some(toml::Value::String(ca)) = table.get("ca")
            {
                found.push(ca.clone());
            }
            found
        }
        toml::Value::Array(items) => items.iter().flat_map(ca_bundles).collect(),
        _ => Vec::new(),
    }
}

/// The rule files the policies of a configuration name, shared and per
/// tenant.
fn policy_files(value: &toml::Value) -> Vec<String> {
    let shared = value.get("policies").into_iter();
    let own = value
        .get("tenants")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|tenants| tenants.values())
        .filter_map(|tenant| tenant.get("policies"));
    shared
        .chain(own)
        .filter_map(toml::Value::as_array)
        .flatten()
        .filter_map(|policy| policy.get("files")?.as_array())
        .flatten()
        .filter_map(|file| file.as_str().map(str::to_string))
        .collect()
}

/// An `allowed_signers` line, for the files the examples name.
const EXAMPLE_SIGNERS: &str = "release@example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n";

/// The `allowed_signers` files a configuration's tenants name.
fn allowed_signers(value: &toml::Value) -> Vec<String> {
    let tenants = value.get("tenants").and_then(toml::Value::as_table);
    tenants
        .into_iter()
        .flat_map(|tenants| tenants.values())
        .filter_map(|tenant| tenant.get("allowed_signers")?.as_str())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// The configuration's keys, asked of its parser.

/// One step of the way to a table of `cairn.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A key.
    Key(String),
    /// An entry of a table of named tables (`[tenants.NAME]`).
    Entry,
    /// An element of an array of tables (`[[alerts]]`).
    Element,
}

/// What the parser answers to a probe key.
enum Answer {
    /// It is a table with these fields.
    Fields(Vec<String>),
    /// It is an enumeration with these values.
    Variants(Vec<String>),
    /// Anything else: the key is a value, or a shape that names nothing.
    Other,
}

/// Every table of `cairn.toml` by its header as the reference writes it
/// (`[tenants.NAME.quotas]`; empty for the top level), with its keys and,
/// for enumerated keys, their values.
fn configuration_tables() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut tables = BTreeMap::new();
    let mut queue = VecDeque::from([Vec::<Step>::new()]);
    while let Some(path) = queue.pop_front() {
        let Answer::Fields(fields) = probe(&path) else {
            panic!(
                "{:?} was found to be a table, then was not",
                header(&path, "NAME")
            );
        };
        let mut keys = BTreeMap::new();
        for field in fields {
            let mut values = Vec::new();
            let inner = [vec![], vec![Step::Element], vec![Step::Entry]];
            for tail in inner {
                let mut candidate = path.clone();
                candidate.push(Step::Key(field.clone()));
                candidate.extend(tail.iter().cloned());
                match probe(&candidate) {
                    Answer::Fields(_) => {
                        queue.push_back(candidate);
                        break;
                    }
                    Answer::Variants(variants) if tail.is_empty() => values = variants,
                    _ => {}
                }
            }
            keys.insert(field, values);
        }
        tables.insert(header(&path, "NAME"), keys);
    }
    tables
}

/// Parses a file holding only the probe key in the table at `path`.
fn probe(path: &[Step]) -> Answer {
    let mut text = header_lines(path, "example");
    text.push_str(&format!("{PROBE} = 1\n"));
    let Err(error) = Config::parse(Path::new("/nonexistent/cairn.toml"), &text) else {
        return Answer::Other;
    };
    let message = error.to_string();
    let named = |after: &str| -> Vec<String> {
        message
            .split_once(after)
            .map(|(_, rest)| {
                rest.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    if message.contains(&format!("unknown field `{PROBE}`")) {
        Answer::Fields(named(&format!("unknown field `{PROBE}`")))
    } else if message.contains(&format!("unknown variant `{PROBE}`")) {
        Answer::Variants(named(&format!("unknown variant `{PROBE}`")))
    } else {
        Answer::Other
    }
}

/// The TOML header lines that open the table at `path`, naming entries
/// of named tables `entry`.
fn header_lines(path: &[Step], entry: &str) -> String {
    let mut lines = String::new();
    let mut dotted: Vec<String> = Vec::new();
    for (index, step) in path.iter().enumerate() {
        match step {
            Step::Key(key) => dotted.push(key.clone()),
            Step::Entry => dotted.push(entry.to_string()),
            Step::Element => {
                lines.push_str(&format!("[[{}]]\n", dotted.join(".")));
                continue;
            }
        }
        let last = index + 1 == path.len();
        if last {
            lines.push_str(&format!("[{}]\n", dotted.join(".")));
        }
    }
    lines
}

/// The header of the table at `path` as the reference writes it.
fn header(path: &[Step], entry: &str) -> String {
    header_lines(path, entry)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

/// The sections of a page: each heading with the lines up to the next.
fn sections(page: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_code = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            sections.push((line.trim_start_matches('#').trim().to_string(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line.to_string());
        }
    }
    sections
}

/// The problems of the section under `heading`: keys without a row, rows
/// naming no key, enumerated values missing from their key's row.
fn check_rows(
    sections: &[(String, Vec<String>)],
    heading: &str,
    keys: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let Some((_, lines)) = sections.iter().find(|(title, _)| title.contains(heading)) else {
        return vec![format!(
            "no heading holds {heading} (keys: {})",
            keys.keys().cloned().collect::<Vec<_>>().join(", ")
        )];
    };
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split('|').collect();
        if line.trim_start().starts_with('|')
            && let Some(first) = cells.get(1).map(|cell| cell.trim())
            && first.len() > 2
            && first.starts_with('`')
            && first.ends_with('`')
            && first.matches('`').count() == 2
        {
            rows.insert(first.trim_matches('`').to_string(), line.clone());
        }
    }
    let mut problems = Vec::new();
    for (key, values) in keys {
        match rows.get(key) {
            None => problems.push(format!("{heading}: the key `{key}` has no row")),
            Some(row) => {
                for value in values {
                    if !row.contains(value.as_str()) {
                        problems.push(format!(
                            "{heading}: the row of `{key}` does not name its value `{value}`"
                        ));
                    }
                }
            }
        }
    }
    for row in rows.keys() {
        if !keys.contains_key(row) {
            problems.push(format!(
                "{heading}: the row `{row}` names no key the parser accepts there"
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Metrics.

/// Every metric name the runtime registers: each `registry.register("NAME"`
/// under `runtime/src`, after the prefix of the `Registry::with_prefix`
/// before it. Read from the source rather than from a registry at run
/// time, because a family without samples is left out of the exposition,
/// and giving every family a sample would take the daemon's internals.
fn registered_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut folders = vec![repository().join("runtime/src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a source folder") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("a source file");
            let mut prefix = String::new();
            let mut rest = source.as_str();
            loop {
                let prefix_at = rest.find("Registry::with_prefix(\"");
                let register_at = rest.find("registry.register(");
                match (prefix_at, register_at) {
                    (Some(p), r) if r.is_none_or(|r| p < r) => {
                        let after = &rest[p + "Registry::with_prefix(\"".len()..];
                        let end = after.find('"').expect("a closing quote");
                        prefix = after[..end].to_string();
                        rest = &after[end..];
                    }
                    (_, Some(r)) => {
                        let after = rest[r + "registry.register(".len()..].trim_start();
                        if let Some(quoted) = after.strip_prefix('"') {
                            let end = quoted.find('"').expect("a closing quote");
                            names.insert(format!("{prefix}_{}", &quoted[..end]));
                        }
                        rest = after;
                    }
                    _ => break,
                }
            }
        }
    }
    names
}

// ---------------------------------------------------------------------------
// Links.

/// The targets of a page's Markdown links, outside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Inline code may hold brackets and parentheses of its own.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            found.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    found
}

/// The page a link leads to, relative to the repository; `None` for links
/// out of the repository.
fn link_target(from: &Path, link: &str) -> Option<PathBuf> {
    if link.contains("://") || link.starts_with("mailto:") {
        return None;
    }
    let file = link.split('#').next().unwrap_or("");
    if file.is_empty() {
        return Some(from.to_path_buf());
    }
    let mut target = PathBuf::new();
    for component in from
        .parent()
        .unwrap_or(Path::new(""))
        .join(file)
        .components()
    {
        match component {
            Component::ParentDir => {
                target.pop();
            }
            Component::CurDir => {}
            other => target.push(other),
        }
    }
    Some(target)
}

/// Whether `link` from the page `from` leads to a file, and to a heading
/// of it when it names one.
fn follow(from: &Path, link: &str) -> Result<(), String> {
    let Some(target) = link_target(from, link) else {
        return Ok(());
    };
    let full = repository().join(&target);
    if !full.exists() {
        return Err(format!("{} does not exist", target.display()));
    }
    let Some((_, anchor)) = link.split_once('#') else {
        return Ok(());
    };
    if target.extension().is_none_or(|e| e != "md") {
        return Ok(());
    }
    let text = std::fs::read_to_string(&full).map_err(|error| error.to_string())?;
    let anchors = anchors(&text);
    if anchors.contains(anchor) {
        Ok(())
    } else {
        Err(format!("{} has no heading #{anchor}", target.display()))
    }
}

/// The anchors GitHub gives a page's headings: lower case, punctuation
/// dropped, spaces as `-`, repeats numbered.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (title, _) in sections(text) {
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}
