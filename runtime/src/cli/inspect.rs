//! `cairn plugin inspect`: what a plugin declares and imports.

use super::EXIT_OK;
use anstream::println;
use cairn::host::PluginHost;
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
}

/// Runs the command.
pub async fn run(args: &InspectArgs) -> anyhow::Result<u8> {
    let host = PluginHost::new(None)?;
    let plugin = host.load(&args.plugin, None).await?;
    let info = plugin.info();
    if args.json {
        let report = serde_json::json!({
            "sha256": plugin.sha256(),
            "contract": plugin.contract_version().to_string(),
            "provider": info,
            "imports": plugin.imports(),
        });
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
    Ok(EXIT_OK)
}
