//! `cairn plugin new`: writes a provider that builds, follows every rule of
//! the contract and passes `cairn plugin test` against the fake server it
//! comes with, as `cargo new` or `spin new` start a project from a
//! template.
//!
//! A template is a language's set of files (`runtime/templates/LANGUAGE/`)
//! and the files every language shares, built into the binary, with
//! `{{placeholders}}` filled in from the plugin's name and the contract
//! version: adding a language is adding a folder and a [`Language`]
//! ([`templates`]).

mod templates;

use super::EXIT_OK;
use anstream::println;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use templates::{Language, TemplateFile};

/// The policy contract version the policy template builds, and the
/// policy SDK's.
const POLICY_CONTRACT: &str = "0.1.0";

/// What kind of plugin to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// A provider (`cairn:provider`): manages real-world objects.
    Provider,
    /// A policy (`cairn:policy`): checks every plan before it is applied.
    Policy,
}

/// The longest plugin name: a crate name, a provider instance name and a
/// file name, kept short enough to read in addresses.
const MAX_NAME_CHARS: usize = 40;

/// Arguments of `cairn plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lower-case letters, digits and `-`, starting with
    /// a letter (`kv`, `my-dns`). It names the crate, the provider and the
    /// folder.
    name: String,
    /// The language of the provider: `rust`, `js` (JavaScript, built by
    /// ComponentizeJS) or `python` (built by componentize-py).
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    lang: Language,
    /// What to write: a provider, or a policy (in Rust; Rego rules need no
    /// plugin of their own: the shipped Rego policy runs them).
    #[arg(long, value_enum, default_value_t = Kind::Provider)]
    kind: Kind,
    /// The folder to write (it must not exist, or be empty); `./NAME` when
    /// not given.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rust only: a local copy of the SDK to build against (`sdk/` of Cairn's
    /// repository; `policy-sdk/` with `--kind policy`). By default, that
    /// folder of the source this `cairn` was built from when it is still
    /// there, otherwise the SDK of this contract version from the
    /// registry.
    #[arg(long, value_name = "PATH")]
    sdk_path: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(args: &NewArgs) -> anyhow::Result<u8> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "{} exists and is not empty: give `--dir` a new folder",
            dir.display()
        );
    }
    if args.kind == Kind::Policy {
        return new_policy(args, &dir);
    }
    if args.sdk_path.is_some() && args.lang != Language::Rust {
        bail!(
            "`--sdk-path` names the Rust SDK: a {} provider carries its SDK layer in cairn-sdk/",
            args.lang.name()
        );
    }
    let sdk = match args.lang {
        Language::Rust => sdk_dependency(args, "sdk", "cairn-sdk", args.lang.contract())?,
        _ => String::new(),
    };
    let sdk_said = match args.lang {
        Language::Rust => format!("cairn-sdk = {sdk}"),
        _ => "its SDK layer in cairn-sdk/".to_string(),
    };
    let values = [
        ("name", args.name.clone()),
        ("contract", args.lang.contract().to_string()),
        ("sdk", sdk.clone()),
        ("wasm", format!("{}.wasm", args.name.replace('-', "_"))),
        ("plugin", args.lang.plugin_file(&args.name)),
    ];
    for files in args.lang.filled() {
        for file in files {
            write(&dir, file, &fill(file.text, &values))?;
        }
    }
    for files in args.lang.verbatim() {
        for file in *files {
            write(&dir, file, file.text)?;
        }
    }
    println!(
        "Wrote the {} provider `{}` in {} (cairn:provider@{}, {sdk_said}).\nBuild it with `{}` there; its README.md says how to try and test it: the plugin is {}.",
        args.lang.name(),
        args.name,
        dir.display(),
        args.lang.contract(),
        args.lang.build_command(),
        args.lang.plugin_file(&args.name)
    );
    Ok(EXIT_OK)
}

/// Writes a policy from the Rust policy template.
fn new_policy(args: &NewArgs, dir: &Path) -> anyhow::Result<u8> {
    if args.lang != Language::Rust {
        bail!(
            "a policy is written in Rust (`--lang rust`), or in Rego with no plugin of its own: the shipped Rego policy runs `.rego` files (README.md, \"Policies\")"
        );
    }
    let sdk = sdk_dependency(args, "policy-sdk", "cairn-policy-sdk", POLICY_CONTRACT)?;
    let plugin = Language::Rust.plugin_file(&args.name);
    let values = [
        ("name", args.name.clone()),
        ("contract", POLICY_CONTRACT.to_string()),
        ("sdk", sdk.clone()),
        ("plugin", plugin.clone()),
    ];
    for file in templates::POLICY_RUST {
        write(dir, file, &fill(file.text, &values))?;
    }
    println!(
        "Wrote the Rust policy `{}` in {} (cairn:policy@{POLICY_CONTRACT}, cairn-policy-sdk = {sdk}).\nBuild it with `{}` there, then `cairn plugin test` runs its cases: the policy is {plugin}.",
        args.name,
        dir.display(),
        Language::Rust.build_command(),
    );
    Ok(EXIT_OK)
}

/// Writes `text` as `file` of the folder `dir`.
fn write(dir: &Path, file: &TemplateFile, text: &str) -> anyhow::Result<()> {
    let path = dir.join(file.path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Refuses a name that cannot be a crate's, a provider instance's and a
/// folder's at once.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_allowed = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_with_letter
        || !rest_allowed
        || name.ends_with('-')
        || name.chars().count() > MAX_NAME_CHARS
    {
        bail!(
            "`{name}` is not a plugin name: use lower-case letters, digits and `-`, starting with a letter and not ending with `-`, at most {MAX_NAME_CHARS} characters (`kv`, `my-dns`)"
        );
    }
    Ok(())
}

/// The SDK dependency of the manifest: `--sdk-path`; otherwise the
/// `folder` of the source this `cairn` was built from, when it is still
/// there; otherwise the registry version (`version`) of `crate_name`.
fn sdk_dependency(
    args: &NewArgs,
    folder: &str,
    crate_name: &str,
    version: &str,
) -> anyhow::Result<String> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(folder);
    let path = match &args.sdk_path {
        Some(path) => path.as_path(),
        None if built_from.join("Cargo.toml").is_file() => built_from.as_path(),
        None => return Ok(format!("\"{version}\"")),
    };
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "{} is no SDK: it has no readable Cargo.toml",
            path.display()
        )
    })?;
    if !text.contains(&format!("name = \"{crate_name}\"")) {
        bail!(
            "{} is not the {crate_name} crate: give `--sdk-path` its folder of Cairn's repository (`sdk/` for providers, `policy-sdk/` for policies)",
            manifest.display()
        );
    }
    let absolute = std::fs::canonicalize(path)
        .with_context(|| format!("cannot make {} absolute", path.display()))?;
    // TOML basic strings: a Windows path's backslashes must be escaped.
    let quoted = absolute.display().to_string().replace('\\', "\\\\");
    Ok(format!("{{ path = \"{quoted}\" }}"))
}

/// `text` with every `{{key}}` of `values` replaced.
fn fill(text: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(text.to_string(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_that_cannot_name_a_crate_are_refused_with_examples() {
        for good in ["kv", "my-dns", "a1"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Kv", "1kv", "my_dns", "kv-", "k v", &"k".repeat(41)] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("`kv`, `my-dns`"), "{bad}: {error}");
        }
    }

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        let values = [
            ("name", "kv".to_string()),
            ("contract", "0.3.0".to_string()),
            ("sdk", "\"0.3.0\"".to_string()),
            ("wasm", "kv.wasm".to_string()),
            ("plugin", "kv.wasm".to_string()),
        ];
        for file in templates::POLICY_RUST {
            assert!(
                !fill(file.text, &values).contains("{{"),
                "{} of the policy template keeps a placeholder",
                file.path
            );
        }
        for language in Language::value_variants() {
            for file in language.filled().into_iter().flatten() {
                let filled = fill(file.text, &values);
                assert!(
                    !filled.contains("{{"),
                    "{} of {} keeps a placeholder",
                    file.path,
                    language.name()
                );
            }
        }
    }
}
