//! The templates `cairn plugin new` writes from, built into the binary: a
//! language's own files (`runtime/templates/LANGUAGE/`), the files every
//! language shares (`runtime/templates/common/`: the fake server, the
//! conformance file, the operator's configuration and sample resources),
//! and, for the languages whose SDK layer is not a published package, the
//! SDK layer and the contract's WIT, copied as they are.

use clap::ValueEnum;

/// One file of a template: its path in the new folder and its text.
pub(super) struct TemplateFile {
    /// Its path in the new folder.
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
}

/// Files of a template, each as `"path in the new folder" => "source
/// relative to this file"`.
macro_rules! files {
    ($($path:literal => $source:literal),* $(,)?) => {
        &[$(TemplateFile { path: $path, text: include_str!($source) }),*]
    };
}

/// What every language's provider comes with: the same service, the same
/// conformance file and the same samples, so that `cairn plugin test`
/// holds each language to the same rules.
const COMMON: &[TemplateFile] = files! {
    "cairn.toml" => "../../../templates/common/cairn.toml",
    "cairn-test.toml" => "../../../templates/common/cairn-test.toml",
    "fake_server.py" => "../../../templates/common/fake_server.py",
    "samples/valid.toml" => "../../../templates/common/samples/valid.toml",
    "samples/invalid.toml" => "../../../templates/common/samples/invalid.toml",
};

/// The Rust template; the SDK is the `cairn-sdk` crate, which carries the
/// WIT.
const RUST: &[TemplateFile] = files! {
    "Cargo.toml" => "../../../templates/rust/Cargo.toml.tmpl",
    ".gitignore" => "../../../templates/rust/.gitignore",
    "src/lib.rs" => "../../../templates/rust/src/lib.rs",
    "README.md" => "../../../templates/rust/README.md",
};

/// The Rust policy template; the SDK is the `cairn-policy-sdk` crate,
/// which carries the policy contract's WIT. It has its own conformance
/// file: cases, not a server.
pub(super) const POLICY_RUST: &[TemplateFile] = files! {
    "Cargo.toml" => "../../../templates/policy-rust/Cargo.toml.tmpl",
    ".gitignore" => "../../../templates/policy-rust/.gitignore",
    "src/lib.rs" => "../../../templates/policy-rust/src/lib.rs",
    "README.md" => "../../../templates/policy-rust/README.md",
    "cairn-test.toml" => "../../../templates/policy-rust/cairn-test.toml",
    "cases/three-deletes.json" => "../../../templates/policy-rust/cases/three-deletes.json",
    "cases/two-deletes.json" => "../../../templates/policy-rust/cases/two-deletes.json",
    "cases/no-plan.json" => "../../../templates/policy-rust/cases/no-plan.json",
};

/// The JavaScript template; its SDK layer is [`JS_SDK`].
const JS: &[TemplateFile] = files! {
    "package.json" => "../../../templates/js/package.json",
    "build.mjs" => "../../../templates/js/build.mjs",
    ".gitignore" => "../../../templates/js/.gitignore",
    "src/provider.js" => "../../../templates/js/src/provider.js",
    "README.md" => "../../../templates/js/README.md",
};

/// The JavaScript SDK layer (`sdk-js/` of the repository, without its
/// tests), written as `cairn-sdk/`: no npm package is published, so each
/// provider carries the copy it was made with.
const JS_SDK: &[TemplateFile] = files! {
    "cairn-sdk/README.md" => "../../../../sdk-js/README.md",
    "cairn-sdk/package.json" => "../../../../sdk-js/package.json",
    "cairn-sdk/index.js" => "../../../../sdk-js/index.js",
    "cairn-sdk/errors.js" => "../../../../sdk-js/errors.js",
    "cairn-sdk/resource.js" => "../../../../sdk-js/resource.js",
    "cairn-sdk/diff.js" => "../../../../sdk-js/diff.js",
    "cairn-sdk/spec.js" => "../../../../sdk-js/spec.js",
    "cairn-sdk/export.js" => "../../../../sdk-js/export.js",
    "cairn-sdk/http-common.js" => "../../../../sdk-js/http-common.js",
    "cairn-sdk/http.js" => "../../../../sdk-js/http.js",
    "cairn-sdk/log.js" => "../../../../sdk-js/log.js",
};

/// The Python template; its SDK layer is [`PYTHON_SDK`].
const PYTHON: &[TemplateFile] = files! {
    "app.py" => "../../../templates/python/app.py",
    "build.py" => "../../../templates/python/build.py",
    ".gitignore" => "../../../templates/python/.gitignore",
    "README.md" => "../../../templates/python/README.md",
};

/// The Python SDK layer (`sdk-python/cairn_provider/` of the repository),
/// written as `cairn_provider/`: no PyPI package is published, so each
/// provider carries the copy it was made with.
const PYTHON_SDK: &[TemplateFile] = files! {
    "cairn_provider/__init__.py" => "../../../../sdk-python/cairn_provider/__init__.py",
    "cairn_provider/addressed.py" => "../../../../sdk-python/cairn_provider/addressed.py",
    "cairn_provider/diff.py" => "../../../../sdk-python/cairn_provider/diff.py",
    "cairn_provider/export.py" => "../../../../sdk-python/cairn_provider/export.py",
    "cairn_provider/http.py" => "../../../../sdk-python/cairn_provider/http.py",
    "cairn_provider/jsonvalue.py" => "../../../../sdk-python/cairn_provider/jsonvalue.py",
    "cairn_provider/log.py" => "../../../../sdk-python/cairn_provider/log.py",
    "cairn_provider/provider.py" => "../../../../sdk-python/cairn_provider/provider.py",
    "cairn_provider/spec.py" => "../../../../sdk-python/cairn_provider/spec.py",
    "cairn_provider/types.py" => "../../../../sdk-python/cairn_provider/types.py",
};

/// The contract's WIT, with the WASI packages its world imports, for the
/// toolchains that generate bindings from a WIT folder.
pub(super) const WIT: &[TemplateFile] = files! {
    "wit/provider.wit" => "../../../../wit/provider@0.2.0/provider.wit",
    "wit/deps/cli/cli.wit" => "../../../../wit/provider@0.2.0/deps/cli/cli.wit",
    "wit/deps/clocks/clocks.wit" => "../../../../wit/provider@0.2.0/deps/clocks/clocks.wit",
    "wit/deps/filesystem/filesystem.wit" => "../../../../wit/provider@0.2.0/deps/filesystem/filesystem.wit",
    "wit/deps/http/http.wit" => "../../../../wit/provider@0.2.0/deps/http/http.wit",
    "wit/deps/io/io.wit" => "../../../../wit/provider@0.2.0/deps/io/io.wit",
    "wit/deps/random/random.wit" => "../../../../wit/provider@0.2.0/deps/random/random.wit",
    "wit/deps/sockets/sockets.wit" => "../../../../wit/provider@0.2.0/deps/sockets/sockets.wit",
};

/// The languages a provider can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Language {
    /// Rust, with the `cairn-sdk` crate.
    Rust,
    /// JavaScript, built by ComponentizeJS, with the SDK layer of `sdk-js/`.
    #[value(name = "js", alias = "javascript")]
    JavaScript,
    /// Python, built by componentize-py, with the SDK layer of
    /// `sdk-python/`.
    #[value(alias = "py")]
    Python,
}

impl Language {
    /// The language's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "Rust",
            Self::JavaScript => "JavaScript",
            Self::Python => "Python",
        }
    }

    /// The files whose `{{placeholders}}` are filled in: the language's
    /// own and the common ones.
    pub fn filled(self) -> [&'static [TemplateFile]; 2] {
        match self {
            Self::Rust => [RUST, COMMON],
            Self::JavaScript => [JS, COMMON],
            Self::Python => [PYTHON, COMMON],
        }
    }

    /// The files copied as they are (an SDK layer, the WIT).
    pub fn verbatim(self) -> &'static [&'static [TemplateFile]] {
        match self {
            Self::Rust => &[],
            Self::JavaScript => &[JS_SDK, WIT],
            Self::Python => &[PYTHON_SDK, WIT],
        }
    }

    /// The file the build makes, in the new folder.
    pub fn plugin_file(self, name: &str) -> String {
        match self {
            Self::Rust => format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
            Self::JavaScript => format!("{name}.wasm"),
            Self::Python => format!("{}.wasm", name.replace('-', "_")),
        }
    }

    /// The provider contract version it builds against: the Rust SDK's
    /// newest; the JavaScript and Python SDK layers speak 0.2.0, whose
    /// WIT [`WIT`] copies.
    pub fn contract(self) -> &'static str {
        match self {
            Self::Rust => "0.3.0",
            Self::JavaScript | Self::Python => "0.2.0",
        }
    }

    /// How to build it, in the new folder.
    pub fn build_command(self) -> &'static str {
        match self {
            Self::Rust => "cargo build --release --target wasm32-wasip2",
            Self::JavaScript => "npm run build",
            Self::Python => "python3 build.py",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The paths of the files under `folder`, relative to it, sorted.
    fn files_under(folder: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![folder.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(folder).unwrap();
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        found
    }

    /// The paths of `files` under `prefix`, without it, sorted.
    fn listed(files: &[TemplateFile], prefix: &str) -> Vec<String> {
        let mut paths: Vec<String> = files
            .iter()
            .map(|file| file.path.strip_prefix(prefix).unwrap().to_string())
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn the_sdk_layers_written_are_every_file_of_their_folders_but_the_tests() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let js: Vec<String> = files_under(&root.join("sdk-js"))
            .into_iter()
            .filter(|path| !path.starts_with("test/"))
            .collect();
        assert_eq!(listed(JS_SDK, "cairn-sdk/"), js);
        let python: Vec<String> = files_under(&root.join("sdk-python/cairn_provider"))
            .into_iter()
            .filter(|path| path.ends_with(".py"))
            .collect();
        assert_eq!(listed(PYTHON_SDK, "cairn_provider/"), python);
    }

    #[test]
    fn the_policy_template_written_is_every_file_of_its_folder() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/templates/policy-rust");
        let mut listed: Vec<String> = POLICY_RUST
            .iter()
            .map(|file| match file.path {
                "Cargo.toml" => "Cargo.toml.tmpl".to_string(),
                other => other.to_string(),
            })
            .collect();
        listed.sort();
        assert_eq!(listed, files_under(&folder));
    }

    #[test]
    fn the_wit_written_is_every_file_of_the_contract_folder() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/provider@0.2.0");
        let mut listed: Vec<String> = WIT
            .iter()
            .map(|file| file.path.trim_start_matches("wit/").to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, files_under(&folder));
    }
}
