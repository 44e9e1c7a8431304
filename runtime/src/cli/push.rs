//! `cairn push DIR oci://HOST[:PORT]/NAME:TAG`: a folder of resource files
//! packed as an OCI artifact and pushed under a tag, as `flux push
//! artifact` does; a tenant with that `repo` reads it.

use super::EXIT_OK;
use anstream::println;
use anyhow::Context;
use cairn::source::oci::artifact::Address;
use cairn::source::oci::push::{self, Push};
use clap::Args;
use oci_client::secrets::RegistryAuth;
use std::path::PathBuf;

/// The environment variable holding the registry's user name.
const USERNAME_VAR: &str = "CAIRN_REGISTRY_USERNAME";
/// The environment variable holding the registry's password: never an
/// argument, which other users of the machine could read.
const PASSWORD_VAR: &str = "CAIRN_REGISTRY_PASSWORD";

/// Arguments of `cairn push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The folder whose resource files (`*.toml`) and manifests (`*.yaml`,
    /// `*.yml`) make the artifact.
    folder: PathBuf,
    /// Where to push it: `oci://HOST[:PORT]/NAME:TAG`. A registry on this
    /// machine is spoken to over HTTP, any other over HTTPS. The user name
    /// and password come from CAIRN_REGISTRY_USERNAME and
    /// CAIRN_REGISTRY_PASSWORD.
    artifact: String,
    /// Who made it, `Name <email>`: the author of the revision a tenant
    /// reads (`org.opencontainers.image.authors`).
    #[arg(long)]
    author: String,
    /// Why: the revision's message (`org.opencontainers.image.description`).
    #[arg(long, short)]
    message: String,
    /// The revision of the source it was made from, a Git commit say
    /// (`org.opencontainers.image.revision`).
    #[arg(long)]
    revision: Option<String>,
    /// Where that source lives (`org.opencontainers.image.source`).
    #[arg(long)]
    source: Option<String>,
    /// An SSH private key to sign the artifact with: the signature is
    /// pushed beside it (tag `sha256-HEX.sig`), and a tenant whose
    /// `allowed_signers` lists the key's public half applies it.
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(args: &PushArgs) -> anyhow::Result<u8> {
    let (repo, tag) = split_tag(&args.artifact)?;
    let address = Address::parse(repo)?;
    let auth = match std::env::var(USERNAME_VAR) {
        Ok(username) => RegistryAuth::Basic(
            username,
            std::env::var(PASSWORD_VAR)
                .with_context(|| format!("{USERNAME_VAR} is set, and {PASSWORD_VAR} is not"))?,
        ),
        Err(_) => RegistryAuth::Anonymous,
    };
    let pushed = push::push(&Push {
        folder: args.folder.clone(),
        address,
        tag: tag.to_string(),
        author: args.author.clone(),
        message: args.message.clone(),
        revision: args.revision.clone(),
        source: args.source.clone(),
        auth,
        sign_key: args.sign_key.clone(),
    })
    .await?;
    let signed = match args.sign_key {
        Some(_) => ", signed",
        None => "",
    };
    println!(
        "Pushed {} file(s) to {repo}:{tag} as {}{signed}",
        pushed.files, pushed.digest
    );
    println!(
        "A tenant reads it with repo = {repo:?} and ref = {tag:?} (or the digest, to pin it)."
    );
    Ok(EXIT_OK)
}

/// `oci://HOST/NAME:TAG` as the address and the tag.
fn split_tag(artifact: &str) -> anyhow::Result<(&str, &str)> {
    let name_start = artifact
        .strip_prefix(cairn::source::oci::artifact::OCI_PREFIX)
        .and_then(|rest| rest.find('/'))
        .map(|slash| slash + cairn::source::oci::artifact::OCI_PREFIX.len())
        .with_context(|| format!("`{artifact}` is not oci://HOST[:PORT]/NAME:TAG"))?;
    match artifact[name_start..].rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => Ok((&artifact[..artifact.len() - tag.len() - 1], tag)),
        _ => anyhow::bail!("`{artifact}` names no tag: write oci://HOST[:PORT]/NAME:TAG"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn the_tag_follows_the_name_not_the_port() {
        assert_eq!(
            split_tag("oci://127.0.0.1:5000/team/zones:v1").unwrap(),
            ("oci://127.0.0.1:5000/team/zones", "v1")
        );
        assert!(split_tag("oci://127.0.0.1:5000/zones").is_err());
        assert!(split_tag("oci://127.0.0.1:5000/zones:").is_err());
        assert!(split_tag("https://example.org/zones:v1").is_err());
    }
}
