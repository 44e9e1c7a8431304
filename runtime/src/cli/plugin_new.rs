//! `cairn plugin new`: writes a provider that builds, follows every rule of
//! the contract and passes `cairn plugin test` against the fake server it
//! comes with, as `cargo new` or `spin new` start a project from a
//! template.
//!
//! A template is a language's set of files (`runtime/templates/LANGUAGE/`),
//! built into the binary, with `{{placeholders}}` filled in from the
//! plugin's name and the contract version: adding a language is adding a
//! folder and a [`Language`].

use super::EXIT_OK;
use anstream::println;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// The contract version the templates build plugins of, and the SDK's.
const CONTRACT: &str = "0.2.0";

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
    /// The language of the provider.
    #[arg(long, value_enum, default_value_t = Language::Rust)]
    lang: Language,
    /// The folder to write (it must not exist, or be empty); `./NAME` when
    /// not given.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// A local copy of the SDK to build against (`sdk/` of Cairn's
    /// repository). By default, the `sdk/` of the source this `cairn` was
    /// built from when it is still there, otherwise the SDK of this
    /// contract version from the registry.
    #[arg(long, value_name = "PATH")]
    sdk_path: Option<PathBuf>,
}

/// The languages a provider can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Language {
    /// Rust, with the `cairn-sdk` crate.
    Rust,
}

/// One file of a template: its path in the new folder and its text.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

/// The Rust template.
const RUST: &[TemplateFile] = &[
    TemplateFile {
        path: "Cargo.toml",
        text: include_str!("../../templates/rust/Cargo.toml.tmpl"),
    },
    TemplateFile {
        path: ".gitignore",
        text: include_str!("../../templates/rust/.gitignore"),
    },
    TemplateFile {
        path: "src/lib.rs",
        text: include_str!("../../templates/rust/src/lib.rs"),
    },
    TemplateFile {
        path: "README.md",
        text: include_str!("../../templates/rust/README.md"),
    },
    TemplateFile {
        path: "cairn.toml",
        text: include_str!("../../templates/rust/cairn.toml"),
    },
    TemplateFile {
        path: "cairn-test.toml",
        text: include_str!("../../templates/rust/cairn-test.toml"),
    },
    TemplateFile {
        path: "fake_server.py",
        text: include_str!("../../templates/rust/fake_server.py"),
    },
    TemplateFile {
        path: "samples/valid.toml",
        text: include_str!("../../templates/rust/samples/valid.toml"),
    },
    TemplateFile {
        path: "samples/invalid.toml",
        text: include_str!("../../templates/rust/samples/invalid.toml"),
    },
];

impl Language {
    fn files(self) -> &'static [TemplateFile] {
        match self {
            Self::Rust => RUST,
        }
    }

    /// The file the build makes, in the new folder.
    fn plugin_file(self, name: &str) -> String {
        match self {
            Self::Rust => format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
        }
    }

    /// How to build it.
    fn build_command(self) -> &'static str {
        match self {
            Self::Rust => "cargo build --release --target wasm32-wasip2",
        }
    }
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
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let sdk_path = match &args.sdk_path {
        Some(path) => Some(path.as_path()),
        None => built_from
            .join("Cargo.toml")
            .is_file()
            .then_some(built_from.as_path()),
    };
    let sdk = sdk_dependency(sdk_path)?;
    let values = [
        ("name", args.name.clone()),
        ("contract", CONTRACT.to_string()),
        ("sdk", sdk.clone()),
        ("wasm", format!("{}.wasm", args.name.replace('-', "_"))),
    ];
    for file in args.lang.files() {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, fill(file.text, &values))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "Wrote the {:?} provider `{}` in {} (cairn:provider@{CONTRACT}, cairn-sdk = {sdk}).\nBuild it with `{}` there; its README.md says how to try and test it: the plugin is {}.",
        args.lang,
        args.name,
        dir.display(),
        args.lang.build_command(),
        args.lang.plugin_file(&args.name)
    );
    Ok(EXIT_OK)
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

/// The SDK dependency of the manifest: a path to a local copy, or the
/// registry version of this contract.
fn sdk_dependency(path: Option<&Path>) -> anyhow::Result<String> {
    let Some(path) = path else {
        return Ok(format!("\"{CONTRACT}\""));
    };
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "{} is no SDK: it has no readable Cargo.toml",
            path.display()
        )
    })?;
    if !text.contains("name = \"cairn-sdk\"") {
        bail!(
            "{} is not the cairn-sdk crate: give `--sdk-path` the `sdk/` folder of Cairn's repository",
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
            ("contract", CONTRACT.to_string()),
            ("sdk", "\"0.2.0\"".to_string()),
            ("wasm", "kv.wasm".to_string()),
        ];
        for file in RUST {
            let filled = fill(file.text, &values);
            assert!(!filled.contains("{{"), "{} keeps a placeholder", file.path);
        }
    }
}
