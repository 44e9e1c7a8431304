//! What an app refers to, checked when planning: its image, its volumes
//! and its network. Each must resolve before anything is applied — an
//! undeclared volume would otherwise be made silently by the engine, with
//! no owner label, and never cleaned up; a missing image would fail the
//! rollout half-way through the commit.
//!
//! The rules: a volume or network the app names must be one the commit
//! declares, unless the app marks it `external` (then the engine must have
//! it, and Cairn never creates or deletes it); a network may also be one
//! of the engine's own ([`ENGINE_NETWORKS`]); the image must be on the
//! engine, since nothing is pulled.

use crate::engine::Engine;
use crate::spec::App;
use cairn_sdk::{Declarations, Diagnostic, Error};

/// Networks every engine has from the start (Docker's `bridge`, `host` and
/// `none`, podman's `podman`): naming one needs neither a declaration nor
/// `external`.
pub const ENGINE_NETWORKS: [&str; 4] = ["bridge", "host", "none", "podman"];

/// The errors of `app`'s references; `engine` answers what only it knows.
pub fn check(
    app: &App,
    declarations: &Declarations,
    engine: &Engine,
) -> Result<Vec<Diagnostic>, Error> {
    let mut problems = Vec::new();
    if !engine.has_image(&app.image)? {
        problems.push(
            Diagnostic::error(
                "image",
                format!("the image `{}` is not on the engine", app.image),
            )
            .with_help("build or pull it on the engine first: Cairn does not pull images"),
        );
    }
    for mount in &app.volumes {
        let name = &mount.volume;
        if mount.external {
            if !engine.has_named("volumes", name)? {
                problems.push(missing_external("volumes", "volume", name));
            }
        } else if !declarations.contains("volume", name) {
            problems.push(undeclared("volumes", "volume", name));
        }
    }
    if let Some(name) = &app.network {
        if app.external_network {
            if !engine.has_named("networks", name)? {
                problems.push(missing_external("network", "network", name));
            }
        } else if !declarations.contains("network", name)
            && !ENGINE_NETWORKS.contains(&name.as_str())
        {
            problems.push(undeclared("network", "network", name));
        }
    }
    Ok(problems)
}

/// What the plan says of the objects an app uses but does not manage:
/// `uses external volume data, external network shared`.
pub fn external_note(app: &App) -> Option<String> {
    let mut parts: Vec<String> = app
        .volumes
        .iter()
        .filter(|mount| mount.external)
        .map(|mount| format!("external volume {}", mount.volume))
        .collect();
    if let (Some(network), true) = (&app.network, app.external_network) {
        parts.push(format!("external network {network}"));
    }
    (!parts.is_empty()).then(|| format!("uses {}", parts.join(", ")))
}

fn undeclared(path: &str, kind: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        path,
        format!("the {kind} `{name}` is not declared in this commit"),
    )
    .with_help(format!(
        "declare it (a `{kind}` resource with `name = \"{name}\"`), or, if the engine already has it and Cairn should leave it alone, write `{{ {} = \"{name}\", external = true }}`",
        if kind == "volume" { "volume" } else { "name" }
    ))
}

fn missing_external(path: &str, kind: &str, name: &str) -> Diagnostic {
    Diagnostic::error(
        path,
        format!("the external {kind} `{name}` is not on the engine"),
    )
    .with_help(format!(
        "create it on the engine first, or declare it in Git (a `{kind}` resource) and drop `external`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Mount;

    #[test]
    fn the_plan_names_what_an_app_uses_without_managing_it() {
        let mut app = App {
            network: Some("shared".into()),
            external_network: true,
            ..App::default()
        };
        app.volumes.push(Mount {
            volume: "data".into(),
            path: "/data".into(),
            read_only: false,
            external: true,
        });
        app.volumes.push(Mount {
            volume: "cache".into(),
            path: "/cache".into(),
            read_only: false,
            external: false,
        });
        assert_eq!(
            external_note(&app).as_deref(),
            Some("uses external volume data, external network shared")
        );
        assert_eq!(external_note(&App::default()), None);
    }
}
