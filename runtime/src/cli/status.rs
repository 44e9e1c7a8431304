//! `cairn status`: each tenant's commit, control state, the daemon holding
//! it, its last run and error and the status of every owned resource — from
//! the state store (with the live status the holding daemon saved there),
//! or from a running daemon's API with `--api`. Both print the API's
//! fields.

use super::{EXIT_OK, render};
use anstream::println;
use anyhow::Context;
use cairn::config::Config;
use cairn::daemon::status::TenantStatus;
use cairn::store::StateStore;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `cairn status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The operator's configuration file: the global `--config`.
    #[arg(from_global)]
    config: PathBuf,
    /// Only this tenant (default: every tenant).
    #[arg(long, short = 't')]
    tenant: Option<String>,
    /// Ask a running daemon instead of the store, such as
    /// `http://127.0.0.1:8420`.
    #[arg(long, value_name = "URL")]
    api: Option<String>,
    /// The API token for `--api` (the operator's, or a tenant's own).
    #[arg(long, env = "CAIRN_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub async fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    let names: Vec<String> = match &args.tenant {
        Some(name) => vec![config.tenant(Some(name))?.name.clone()],
        None => config.tenants.keys().cloned().collect(),
    };
    let mut reports = Vec::new();
    match &args.api {
        Some(api) => {
            let client = reqwest::Client::new();
            for name in &names {
                let url = format!("{}/api/v1/tenants/{name}", api.trim_end_matches('/'));
                let mut request = client.get(&url);
                if let Some(token) = &args.token {
                    request = request.bearer_auth(token);
                }
                let response = request
                    .send()
                    .await
                    .with_context(|| format!("cannot ask the daemon at {url}"))?;
                match response.status().as_u16() {
                    401 => anyhow::bail!(
                        "the daemon at {url} wants an API token: set CAIRN_API_TOKEN (or --token) to the operator's token or this tenant's"
                    ),
                    404 => anyhow::bail!(
                        "the daemon at {url} has no tenant `{name}` that this token may see"
                    ),
                    _ => {}
                }
                let report: serde_json::Value = response
                    .error_for_status()
                    .with_context(|| format!("cannot ask the daemon at {url}"))?
                    .json()
                    .await
                    .with_context(|| format!("the daemon at {url} did not answer JSON"))?;
                reports.push(report);
            }
        }
        None => {
            let store = StateStore::open(&config.state).await?;
            let leases = store.leases().await?;
            let saved = store.coordination().live_statuses().await?;
            for name in &names {
                let lease = leases.iter().find(|l| l.tenant == *name && l.live);
                // The live status the daemon holding the tenant last saved
                // (its last run, `last_error`, what is blocked, drifted or
                // retrying), as the API shows it; a tenant no daemon ran
                // has only what the store records.
                let mut live = saved
                    .iter()
                    .find(|saved| saved.tenant == *name)
                    .and_then(|saved| serde_json::from_str::<TenantStatus>(&saved.status).ok())
                    .unwrap_or_else(|| {
                        TenantStatus::new(name, &config.tenants[name.as_str()].reference)
                    });
                live.holder = lease.map(|l| l.holder.clone());
                live.lease = lease.cloned();
                let mut report = serde_json::to_value(&live)?;
                let recorded = serde_json::json!({
                    "control": store.tenant_state(name).await?,
                    "last_recorded_run": store.history(name, 1).await?.into_iter().next(),
                    "resources": store.statuses(name).await?,
                });
                if let (Some(report), serde_json::Value::Object(recorded)) =
                    (report.as_object_mut(), recorded)
                {
                    report.extend(recorded);
                }
                reports.push(report);
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            render::status(report);
        }
    }
    Ok(EXIT_OK)
}
