//! A cluster against a real kube-apiserver: 500 objects applied from
//! scratch, a no-change plan of them, and one field changed, whole `cairn`
//! processes.

use crate::{median, timed_apply, timed_no_change_plans};
use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::kube::Kube;
use std::fmt::Write;
use std::time::Duration;

/// Fresh API servers, each applied to from scratch once.
const ROUNDS: usize = 3;
/// No-change plans per round.
const PLANS: usize = 3;
/// Namespaces the objects are spread over.
const NAMESPACES: usize = 10;

/// What the Kubernetes section measured.
pub struct Figures {
    /// Objects applied.
    pub objects: usize,
    /// `cairn apply --yes` of every object into an empty cluster.
    pub from_scratch: Vec<Duration>,
    /// `cairn plan` with nothing to change.
    pub no_change: Vec<Duration>,
    /// `cairn apply --yes` of one changed field.
    pub one_field: Vec<Duration>,
}

/// `objects` objects: namespaces, then per namespace a mix of
/// ConfigMaps, Secrets (by reference), ServiceAccounts, Deployments and
/// Services; the first ConfigMap (`ns0/cm0`) holds `value`, the others
/// `steady`.
fn repository(objects: usize, value: &str) -> String {
    let mut text = String::new();
    for namespace in 0..NAMESPACES {
        let _ = write!(
            text,
            "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"Namespace\"\nmetadata = {{ name = \"ns{namespace}\" }}\n\n"
        );
    }
    for index in 0..objects.saturating_sub(NAMESPACES) {
        let value = if index == 0 { value } else { "steady" };
        let namespace = format!("ns{}", index % NAMESPACES);
        let name = index / NAMESPACES;
        let _ = match index % 10 {
            0..=4 => write!(
                text,
                "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ConfigMap\"\nmetadata = {{ name = \"cm{name}\", namespace = \"{namespace}\" }}\ndata = {{ value = \"{value}\", index = \"{index}\" }}\n\n"
            ),
            5 => write!(
                text,
                "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"Secret\"\nmetadata = {{ name = \"secret{name}\", namespace = \"{namespace}\" }}\nstringData = {{ password = {{ secret = \"password\" }} }}\n\n"
            ),
            6 => write!(
                text,
                "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"ServiceAccount\"\nmetadata = {{ name = \"sa{name}\", namespace = \"{namespace}\" }}\n\n"
            ),
            7 | 8 => write!(
                text,
                "[[k8s.object]]\napiVersion = \"apps/v1\"\nkind = \"Deployment\"\nmetadata = {{ name = \"app{name}\", namespace = \"{namespace}\" }}\nspec = {{ replicas = 1, selector = {{ matchLabels = {{ app = \"app{name}\" }} }}, template = {{ metadata = {{ labels = {{ app = \"app{name}\" }} }}, spec = {{ containers = [{{ name = \"web\", image = \"cairn-test/web:1\" }}] }} }} }}\n\n"
            ),
            _ => write!(
                text,
                "[[k8s.object]]\napiVersion = \"v1\"\nkind = \"Service\"\nmetadata = {{ name = \"svc{name}\", namespace = \"{namespace}\" }}\nspec = {{ selector = {{ app = \"app{name}\" }}, ports = [{{ port = 80, protocol = \"TCP\" }}] }}\n\n"
            ),
        };
    }
    text
}

/// Applies `objects` objects to fresh API servers.
pub fn apply(objects: usize) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        objects,
        from_scratch: Vec::new(),
        no_change: Vec::new(),
        one_field: Vec::new(),
    };
    for _ in 0..ROUNDS {
        let ws = Workspace::new();
        let cluster_dir = tempfile::tempdir()?;
        let kube = Kube::start(cluster_dir.path());
        let token = ws.path().join("token.secret");
        std::fs::write(&token, &kube.admin_token)?;
        let password = ws.path().join("password.secret");
        std::fs::write(&password, "bench-password")?;
        let text = format!(
            "{}\n{}{}",
            config_header(),
            ws.tenant_block("default", &ConfigOptions::default()),
            kube.provider_table("default", "k8s", &token, &[("password", password)], "")
        );
        std::fs::write(ws.config_path(), text)?;
        ws.repo.write("cluster.toml", &repository(objects, "one"));
        ws.repo.commit("objects", "Bench <bench@example.org>");
        figures.from_scratch.push(timed_apply(&ws, "the apply")?);
        figures.no_change.extend(timed_no_change_plans(&ws, PLANS)?);
        ws.repo.write("cluster.toml", &repository(objects, "two"));
        ws.repo
            .commit("one value changed", "Bench <bench@example.org>");
        figures.one_field.push(timed_apply(&ws, "the update")?);
    }
    Ok(figures)
}

impl Figures {
    /// The medians, in seconds: from scratch, no change, one field.
    pub fn medians(&self) -> (f64, f64, f64) {
        (
            median(self.from_scratch.clone()).as_secs_f64(),
            median(self.no_change.clone()).as_secs_f64(),
            median(self.one_field.clone()).as_secs_f64(),
        )
    }
}
