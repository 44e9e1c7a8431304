//! The conformance file an author keeps next to a plugin
//! (`cairn-test.toml`): which plugin, the provider instance to run it as,
//! the resources of each lifecycle step, and how to change the real world
//! behind Cairn's back.

use crate::config::RawGrant;
use anyhow::{Context, bail};
use cairn::secrets::SecretRef;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceFile {
    /// The plugin's `.wasm` file, relative to the conformance file.
    pub plugin: PathBuf,
    /// The provider instance the plugin runs as.
    pub provider: ProviderTable,
    /// The lifecycle's steps: the first creates, the next ones change.
    pub steps: Vec<Resources>,
    /// A change made behind Cairn's back after the first step.
    #[serde(default)]
    pub drift: Option<Request>,
    /// An object someone else made, and the resource that would create it.
    #[serde(default)]
    pub conflict: Option<Conflict>,
    /// Resources `validate` must refuse.
    #[serde(default)]
    pub invalid: Vec<Resources>,
    /// A configuration whose server does not answer.
    #[serde(default)]
    pub unreachable: Option<Unreachable>,
    /// Rules that do not apply to this provider, by name, each with the
    /// reason (a server that takes no credential has no
    /// `wrong-credential`).
    #[serde(default)]
    pub skip: BTreeMap<String, String>,
    /// The file's folder: commands run there.
    #[serde(skip)]
    pub folder: PathBuf,
}

/// The provider instance, as in `cairn.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderTable {
    /// The plugin's configuration.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Network grants, as in `cairn.toml`: `"scheme://host:port"`, or
    /// `{ url, ca }` to trust a private CA (relative to this file).
    #[serde(default)]
    pub allow: Vec<RawGrant>,
    /// Secret references; a relative file is relative to the conformance
    /// file.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    /// The linear memory of a call.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// The longest a call may take.
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

/// Resources as in a repository's file, without the provider's name:
/// `[[TYPE]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// The TOML text.
    pub resources: String,
}

/// A change to the real world made behind Cairn's back: an HTTP request
/// (`method`, `url`, `headers`, `body`) or a command (`command`, a program
/// and its arguments, for what needs more than one request).
/// `{secret:NAME}` in any of them is the secret's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `GET`, `PUT`, `POST`, `PATCH` or `DELETE`.
    #[serde(default)]
    pub method: Option<String>,
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body.
    #[serde(default)]
    pub body: Option<String>,
    /// A program and its arguments, run instead of a request in the
    /// conformance file's folder; it must exit 0.
    #[serde(default)]
    pub command: Vec<String>,
}

impl Request {
    /// Refuses a request that is neither an HTTP request nor a command,
    /// or both.
    fn check(&self, what: &str) -> anyhow::Result<()> {
        let http = self.method.is_some() || self.url.is_some();
        match (http, self.command.is_empty()) {
            (true, true) if self.method.is_some() && self.url.is_some() => Ok(()),
            (false, false) => Ok(()),
            (true, false) => bail!("{what}: give `method` and `url`, or `command`, not both"),
            _ => bail!("{what}: give `method` and `url` (an HTTP request), or `command`"),
        }
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match (&self.method, &self.url) {
            (Some(method), Some(url)) => format!("{method} {url}"),
            _ => format!("`{}`", self.command.join(" ")),
        }
    }
}

/// An object someone else made: how to make it (as a [`Request`]), and
/// the resource that would create it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conflict {
    /// As [`Request::method`].
    #[serde(default)]
    pub method: Option<String>,
    /// As [`Request::url`].
    #[serde(default)]
    pub url: Option<String>,
    /// As [`Request::headers`].
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// As [`Request::body`].
    #[serde(default)]
    pub body: Option<String>,
    /// As [`Request::command`].
    #[serde(default)]
    pub command: Vec<String>,
    /// The resource, as in [`Resources`].
    pub resources: String,
}

impl Conflict {
    /// How the object is made.
    pub fn request(&self) -> Request {
        Request {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            command: self.command.clone(),
        }
    }
}

/// A configuration whose server does not answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreachable {
    /// The plugin's configuration.
    pub config: Value,
    /// Network grants that let the call try.
    #[serde(default)]
    pub allow: Vec<RawGrant>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn default_memory() -> String {
    "64MiB".into()
}

fn default_timeout() -> String {
    "30s".into()
}

impl ConformanceFile {
    /// Reads `path`; relative paths inside are made relative to its folder.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut file = Self::parse(&text).with_context(|| format!("{}", path.display()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        file.folder = folder.to_path_buf();
        file.plugin = folder.join(&file.plugin);
        file.provider.secrets = std::mem::take(&mut file.provider.secrets)
            .into_iter()
            .map(|(name, secret)| (name, crate::config::relative_to(secret, folder)))
            .collect();
        Ok(file)
    }

    /// Parses a conformance file's text, with the resources of every
    /// section; `${NAME}` is the environment variable's value.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Self::parse_with(text, &|name| std::env::var(name).ok())
    }

    /// [`ConformanceFile::parse`], with `${NAME}` the value `variable`
    /// gives.
    pub fn parse_with(
        text: &str,
        variable: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let text = with_variables(text, variable)?;
        let file: Self = toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("not a conformance file: {error}"))?;
        if file.steps.is_empty() {
            bail!("give at least one `[[steps]]` with the resources to create");
        }
        for (index, step) in file.steps.iter().enumerate() {
            parse_resources(&step.resources, &format!("step {}", index + 1))?;
        }
        for (index, invalid) in file.invalid.iter().enumerate() {
            parse_resources(&invalid.resources, &format!("invalid {}", index + 1))?;
        }
        for name in file.skip.keys() {
            if !super::runner::ALL_RULES
                .iter()
                .any(|rule| rule.id() == name)
            {
                bail!(
                    "`[skip]` names `{name}`, which is no rule: the rules are {}",
                    super::runner::ALL_RULES
                        .iter()
                        .map(|rule| rule.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        if let Some(drift) = &file.drift {
            drift.check("[drift]")?;
        }
        if let Some(conflict) = &file.conflict {
            conflict.request().check("[conflict]")?;
            parse_resources(&conflict.resources, "the `[conflict]` resources")?;
        }
        Ok(file)
    }
}

/// `text` with each `${NAME}` replaced by `variable`'s value (the
/// environment's, so that a file names a server whose address a CI run
/// chooses).
fn with_variables(text: &str, variable: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("`${{` without its closing `}}`: write `${{NAME}}`");
        };
        let name = &after[..end];
        let value = variable(name).ok_or_else(|| {
            anyhow::anyhow!("`${{{name}}}` names an environment variable that is not set")
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The resources of a step: (type, spec) in the order written.
pub fn parse_resources(text: &str, what: &str) -> anyhow::Result<Vec<(String, Value)>> {
    let tables: BTreeMap<String, Vec<Value>> = toml::from_str(text).map_err(|error| {
        anyhow::anyhow!("the resources of {what} are not `[[TYPE]]` tables of TOML: {error}")
    })?;
    let resources: Vec<(String, Value)> = tables
        .into_iter()
        .flat_map(|(type_name, specs)| specs.into_iter().map(move |spec| (type_name.clone(), spec)))
        .collect();
    if resources.is_empty() {
        bail!("{what} has no resources: give it `[[TYPE]]` tables");
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_variables_fill_the_text_and_a_missing_one_is_named() {
        let variable = |name: &str| (name == "URL").then(|| "http://127.0.0.1:9".to_string());
        assert_eq!(
            with_variables("url = \"${URL}/api\"", &variable).unwrap(),
            "url = \"http://127.0.0.1:9/api\""
        );
        let error = with_variables("${NOT_SET}", &variable).unwrap_err();
        assert!(error.to_string().contains("NOT_SET"), "{error}");
        assert!(with_variables("${OPEN", &variable).is_err());
    }

    #[test]
    fn a_skip_of_no_rule_and_a_change_neither_request_nor_command_are_named() {
        let none = |_: &str| None;
        let file = |more: &str| {
            format!(
                "plugin = \"kv.wasm\"\n[provider]\n[[steps]]\nresources = \"[[entry]]\\nkey = 'a'\"\n{more}"
            )
        };
        let error =
            ConformanceFile::parse_with(&file("[skip]\nwrong-credentials = \"none\""), &none)
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("`[skip]` names `wrong-credentials`, which is no rule")
                && error.contains("wrong-credential,"),
            "{error}"
        );
        let error = ConformanceFile::parse_with(&file("[drift]\nheaders = { a = \"b\" }"), &none)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[drift]: give `method` and `url` (an HTTP request), or `command`"),
            "{error}"
        );
        let both = "[conflict]\nmethod = \"PUT\"\nurl = \"http://x\"\ncommand = [\"true\"]\nresources = \"[[entry]]\\nkey = 'b'\"";
        let error = ConformanceFile::parse_with(&file(both), &none)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[conflict]: give `method` and `url`, or `command`, not both"),
            "{error}"
        );
        let error =
            ConformanceFile::parse_with("plugin = \"kv.wasm\"\n[provider]\nsteps = []", &none)
                .unwrap_err()
                .to_string();
        assert!(error.contains("unknown field `steps`"), "{error}");
    }

    #[test]
    fn a_file_reads_with_paths_made_relative_to_it() {
        let dir = std::env::temp_dir().join(format!("cairn-conformance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cairn-test.toml");
        std::fs::write(
            &path,
            r#"
plugin = "kv.wasm"
[provider]
config = { url = "http://127.0.0.1:1" }
secrets = { token = { file = "token.secret" } }
[[steps]]
resources = """
[[entry]]
key = "a"
"""
"#,
        )
        .unwrap();
        let file = ConformanceFile::read(&path).unwrap();
        assert_eq!(file.plugin, dir.join("kv.wasm"));
        let SecretRef::File { file: secret } = &file.provider.secrets["token"] else {
            panic!("a file secret");
        };
        assert_eq!(secret, &dir.join("token.secret"));
        let resources = parse_resources(&file.steps[0].resources, "step 1").unwrap();
        assert_eq!(
            resources,
            [("entry".to_string(), serde_json::json!({"key": "a"}))]
        );

        std::fs::write(&path, "plugin = \"kv.wasm\"\n[provider]\nsteps = []\n").unwrap();
        let error = format!("{:#}", ConformanceFile::read(&path).unwrap_err());
        assert!(error.contains("unknown field `steps`"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
