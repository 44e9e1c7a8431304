//! `cairn plugin call`: one call of a plugin in the real sandbox, with the
//! configuration, secrets, grants and limits given on the command line,
//! as `wasmtime run --invoke` or `extism call` run one function. The
//! answer is printed as JSON on standard output, in the contract's JSON
//! form; the plugin's log goes to standard error. Nothing else is read:
//! no `cairn.toml`, no repository, no state store.

use super::{EXIT_ERROR, EXIT_OK};
use anstream::println;
use anyhow::Context;
use cairn::contract::{Change, Declared, DiffInput, Outcome, Resource, Scope};
use cairn::host::grants::Grant;
use cairn::host::{PluginHost, ProviderInstance, ProviderSettings};
use cairn::secrets::SecretRef;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

/// The tenant a call is made for: a plugin called on its own belongs to
/// none, and shares its CPU with no one.
const CALLER: &str = "plugin-call";

/// Arguments of `cairn plugin call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The plugin's `.wasm` file.
    plugin: PathBuf,
    /// The function to call.
    function: Function,
    /// The call's input as JSON, `@FILE` for a file's, `-` for standard
    /// input: validate `[{"type_name", "spec"}]`, list `{"type_names",
    /// "ids"}`, diff `{"inputs": [{"type_name", "id", "desired",
    /// "observed", "prior"}], "declared": [{"type_name", "id"}]}`, apply
    /// the changes diff returned. `describe` takes none.
    input: Option<String>,
    /// The plugin's configuration (what `config` holds in cairn.toml), as
    /// JSON or `@FILE`; checked against the plugin's config schema.
    #[arg(long, value_name = "JSON")]
    provider_config: Option<String>,
    /// A secret the plugin asks for: `NAME=env:VARIABLE` or
    /// `NAME=file:PATH`. Repeat for more.
    #[arg(long = "secret", value_name = "NAME=REF")]
    secrets: Vec<String>,
    /// A network grant, as in cairn.toml's `allow`
    /// (`http://127.0.0.1:8081`). Repeat for more; none: no network.
    #[arg(long = "allow", value_name = "URL")]
    allow: Vec<String>,
    /// The linear memory the call may use.
    #[arg(long, default_value = "64MiB")]
    memory: String,
    /// The longest the call may take.
    #[arg(long, default_value = "30s")]
    timeout: String,
}

/// The functions of the contract a caller may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Function {
    /// What the plugin manages; needs no configuration.
    Describe,
    /// Check and canonicalize specs; needs no configuration.
    Validate,
    /// Observe the real world.
    List,
    /// Compare desired specs with observed states.
    Diff,
    /// Make changes.
    Apply,
}

/// The input of `diff`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffCall {
    inputs: Vec<DiffInput>,
    #[serde(default)]
    declared: Vec<Declared>,
}

/// Runs the command.
pub async fn run(args: &CallArgs) -> anyhow::Result<u8> {
    let host = PluginHost::new(super::author_cache::open())?;
    let plugin = host.load(&args.plugin, None).await?;
    let config = match &args.provider_config {
        Some(text) => parse_json(&read_argument(text)?, "--provider-config")?,
        None => Value::Object(Default::default()),
    };
    // `describe` and `validate` run unconfigured: only a configuration
    // given is checked.
    let configured = !matches!(args.function, Function::Describe | Function::Validate);
    let problems = if args.provider_config.is_some() || configured {
        cairn::config::schema::problems(&config, &plugin.info().config_schema)
    } else {
        Vec::new()
    };
    if !problems.is_empty() {
        anyhow::bail!(
            "--provider-config does not match what the plugin accepts: {}; `cairn plugin inspect --json {}` shows its config schema",
            problems.join("; "),
            args.plugin.display()
        );
    }
    let settings = ProviderSettings {
        tenant: CALLER.into(),
        name: plugin.info().name.clone(),
        config,
        secrets: secrets(&args.secrets)?,
        grants: args
            .allow
            .iter()
            .map(|pattern| Grant::parse(pattern).with_context(|| format!("--allow {pattern}")))
            .collect::<anyhow::Result<_>>()?,
        memory_bytes: cairn::config::parse_size(&args.memory)
            .with_context(|| format!("--memory {}", args.memory))?,
        timeout: humantime::parse_duration(&args.timeout)
            .with_context(|| format!("--timeout {}: a duration such as 30s", args.timeout))?,
        concurrency: Default::default(),
    };
    let instance = ProviderInstance::new(&host, plugin, settings);
    let input = match &args.input {
        _ if args.function == Function::Describe => String::new(),
        Some(text) => read_argument(text)?,
        None => anyhow::bail!(
            "{} needs an input: JSON, @FILE or - for standard input (`cairn plugin call --help` shows its shape)",
            args.function.name()
        ),
    };
    let (answer, failed) = match args.function {
        Function::Describe => (serde_json::to_value(instance.info())?, false),
        Function::Validate => {
            let resources: Vec<Resource> = parse_input(&input, args.function)?;
            let resources = resources
                .into_iter()
                .map(|resource| (resource.type_name, resource.spec))
                .collect::<Vec<_>>();
            (
                serde_json::to_value(instance.validate(&resources).await?)?,
                false,
            )
        }
        Function::List => {
            let scope: Scope = parse_input(&input, args.function)?;
            let observed = instance.list(scope.type_names, scope.ids).await?;
            (serde_json::to_value(observed)?, false)
        }
        Function::Diff => {
            let call: DiffCall = parse_input(&input, args.function)?;
            let changes = instance.diff(&call.inputs, &call.declared).await?;
            (serde_json::to_value(changes)?, false)
        }
        Function::Apply => {
            let changes: Vec<Change> = parse_input(&input, args.function)?;
            let outcomes = instance.apply(&changes).await?;
            let failed = outcomes
                .iter()
                .any(|outcome| !matches!(outcome, Outcome::Applied(_)));
            (serde_json::to_value(outcomes)?, failed)
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}

impl Function {
    /// Its name in the contract.
    fn name(self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::Validate => "validate",
            Self::List => "list",
            Self::Diff => "diff",
            Self::Apply => "apply",
        }
    }
}

/// An argument's text: itself, a file's (`@FILE`) or standard input's
/// (`-`).
fn read_argument(argument: &str) -> anyhow::Result<String> {
    if argument == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok(text);
    }
    match argument.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(argument.to_string()),
    }
}

fn parse_json(text: &str, what: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not JSON"))
}

/// The input of `function`, with the place of what does not fit its shape.
fn parse_input<T: serde::de::DeserializeOwned>(
    text: &str,
    function: Function,
) -> anyhow::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        anyhow::anyhow!(
            "the input of {} at `{}`: {} (`cairn plugin call --help` shows its shape)",
            function.name(),
            error.path(),
            error.inner()
        )
    })
}

/// `--secret NAME=env:VARIABLE` and `--secret NAME=file:PATH`.
fn secrets(arguments: &[String]) -> anyhow::Result<BTreeMap<String, SecretRef>> {
    let mut secrets = BTreeMap::new();
    for argument in arguments {
        let reference = argument.split_once('=').and_then(|(name, reference)| {
            let reference = match reference.split_once(':') {
                Some(("env", variable)) => SecretRef::Env {
                    env: variable.to_string(),
                },
                Some(("file", path)) => SecretRef::File {
                    file: PathBuf::from(path),
                },
                _ => return None,
            };
            Some((name.to_string(), reference))
        });
        let Some((name, reference)) = reference else {
            anyhow::bail!(
                "--secret {argument}: write NAME=env:VARIABLE or NAME=file:PATH (the value itself is never given on the command line, where other users see it)"
            );
        };
        secrets.insert(name, reference);
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_name_a_variable_or_a_file_never_a_value() {
        let secrets = secrets(&[
            "api_key=env:PDNS_API_KEY".into(),
            "ca=file:/run/ca.pem".into(),
        ])
        .unwrap();
        assert!(matches!(&secrets["api_key"], SecretRef::Env { env } if env == "PDNS_API_KEY"));
        assert!(
            matches!(&secrets["ca"], SecretRef::File { file } if file == &PathBuf::from("/run/ca.pem"))
        );
        for wrong in ["api_key=hunter2", "api_key", "api_key=literal:x"] {
            let error = super::secrets(&[wrong.into()]).unwrap_err().to_string();
            assert!(
                error.contains("NAME=env:VARIABLE or NAME=file:PATH"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_input_that_does_not_fit_names_where() {
        let error = parse_input::<DiffCall>(r#"{"inputs": [{"type_name": 1}]}"#, Function::Diff)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("the input of diff at `inputs[0].type_name`"),
            "{error}"
        );
    }
}
