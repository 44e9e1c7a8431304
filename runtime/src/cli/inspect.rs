//! `cairn plugin inspect`: what a plugin declares and imports.

use super::EXIT_OK;
use super::inspect_check::Level;
use anstream::println;
use cairn::host::{ContractVersion, PluginHost};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cairn plugin inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin's `.wasm` file.
    plugin: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    /// Also list what the host checked when the plugin loaded and its
    /// advice to the plugin's author (schemas that let misspelt keys
    /// through, identity fields a resource may omit, missing descriptions).
    #[arg(long)]
    check: bool,
}

/// Runs the command.
pub async fn run(args: &InspectArgs) -> anyhow::Result<u8> {
    let host = PluginHost::new(super::author_cache::open())?;
    let plugin = host.load(&args.plugin, None).await?;
    let info = plugin.info();
    let findings = args.check.then(|| {
        super::inspect_check::findings(
            info,
            &plugin.contract_version().to_string(),
            &ContractVersion::supported(),
        )
    });
    if args.json {
        let mut report = serde_json::json!({
            "sha256": plugin.sha256(),
            "contract": plugin.contract_version().to_string(),
            "provider": info,
            "imports": plugin.imports(),
        });
        if let Some(findings) = &findings {
            report["checks"] = serde_json::to_value(findings)?;
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(EXIT_OK);
    }
    println!("{} {} — {}", info.name, info.version, info.description);
    println!("sha256: {}", plugin.sha256());
    println!("contract: {}", plugin.contract_version());
    println!("resource types:");
    for resource_type in &info.resource_types {
        println!("  {} — {}", resource_type.name, resource_type.description);
        println!("    identity: {}", resource_type.identity.join(", "));
        if !resource_type.force_replace.is_empty() {
            println!(
                "    replaced when changed: {}",
                resource_type.force_replace.join(", ")
            );
        }
        if !resource_type.sensitive.is_empty() {
            println!("    sensitive: {}", resource_type.sensitive.join(", "));
        }
    }
    println!("imports:");
    for import in plugin.imports() {
        println!("  {import}");
    }
    if let Some(findings) = findings {
        println!("checks:");
        for finding in findings {
            let level = match finding.level {
                Level::Ok => "ok",
                Level::Warning => "warning",
            };
            println!("  {level:<7} {}: {}", finding.check, finding.message);
        }
    }
    Ok(EXIT_OK)
}
