//! The labels Cairn writes on what it creates, and how an app's state is
//! read back from its containers' labels.
//!
//! Containers are immutable: the spec a container was made from travels
//! with it, in [`SPEC`], so the observed state of an app is that spec with
//! `replicas` the number of containers that are up.

use crate::engine::ContainerSummary;
use crate::spec::App;
use std::collections::BTreeMap;

/// The provider instance's owner tag (config `owner`).
pub const OWNER: &str = "cairn.owner";
/// The owner mark Cairn gave this provider instance (contract 0.2.0's
/// `configure`): `list` vouches for the objects that bear it.
pub const MADE_BY: &str = "cairn.made-by";
/// The Cairn address: `OWNER/TYPE/NAME`.
pub const ADDRESS: &str = "cairn.address";
/// The app's name.
pub const APP: &str = "cairn.app";
/// The app version the container runs (a digest of the spec without
/// `replicas`).
pub const VERSION: &str = "cairn.version";
/// The replica's index, from 0.
pub const REPLICA: &str = "cairn.replica";
/// The canonical spec, as JSON; secrets appear as references only.
pub const SPEC: &str = "cairn.spec";

/// An app's containers, by app name.
pub fn by_app(containers: Vec<ContainerSummary>) -> BTreeMap<String, Vec<ContainerSummary>> {
    let mut apps: BTreeMap<String, Vec<ContainerSummary>> = BTreeMap::new();
    for container in containers {
        if let Some(app) = container.label(APP) {
            apps.entry(app.to_string()).or_default().push(container);
        }
    }
    apps
}

/// The app as its containers show it: the spec of the oldest version
/// still present (so that a rollout cut short is finished), with
/// `replicas` the containers of that version that are up. `None` when no
/// container carries a readable spec.
pub fn observed_app(containers: &[ContainerSummary]) -> Option<App> {
    let mut sorted: Vec<&ContainerSummary> = containers.iter().collect();
    sorted.sort_by_key(|container| container.created);
    let oldest = sorted.iter().find_map(|container| {
        Some((
            container,
            serde_json::from_str::<App>(container.label(SPEC)?).ok()?,
        ))
    })?;
    let (_, mut app) = oldest;
    let version = app.version();
    app.replicas = containers
        .iter()
        .filter(|container| container.label(VERSION) == Some(version.as_str()) && container.is_up())
        .count() as u32;
    Some(app)
}

/// The replica index of a container.
pub fn replica(container: &ContainerSummary) -> Option<u32> {
    container.label(REPLICA)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(app: &App, replica: u32, state: &str, created: i64) -> ContainerSummary {
        serde_json::from_value(json!({
            "Id": format!("{}-{replica}-{created}", app.name),
            "State": state,
            "Status": "",
            "Created": created,
            "Labels": {
                APP: app.name, VERSION: app.version(), REPLICA: replica.to_string(),
                SPEC: serde_json::to_string(app).unwrap()
            }
        }))
        .unwrap()
    }

    fn app(image: &str) -> App {
        App {
            name: "web".into(),
            image: image.into(),
            restart: "no".into(),
            replicas: 2,
            ..App::default()
        }
    }

    #[test]
    fn replicas_count_the_containers_that_are_up() {
        let v1 = app("web:1");
        let observed = observed_app(&[
            container(&v1, 0, "running", 1),
            container(&v1, 1, "exited", 2),
        ])
        .unwrap();
        assert_eq!(observed.replicas, 1);
        assert_eq!(observed.image, "web:1");
    }

    #[test]
    fn a_rollout_cut_short_shows_the_old_version() {
        let (v1, v2) = (app("web:1"), app("web:2"));
        let observed = observed_app(&[
            container(&v2, 0, "running", 5),
            container(&v1, 1, "running", 1),
        ])
        .unwrap();
        assert_eq!(observed.image, "web:1");
        assert_eq!(observed.replicas, 1);
    }
}
