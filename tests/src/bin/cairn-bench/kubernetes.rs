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
/// Requests the side-by-side floor keeps open: as many as the provider
/// does (`cairn_sdk::http::REQUESTS_AT_ONCE`).
pub const AT_ONCE: usize = 8;

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
    /// The floor of `from_scratch`, in each round's API server: its own
    /// server-side applies of the same objects (in namespaces of their
    /// own), sent directly one after the other on one connection.
    pub server_side_applies: Vec<Duration>,
    /// The same sent [`AT_ONCE`] at a time (the namespaces first), as
    /// Cairn's provider sends them, in namespaces of their own again.
    pub server_side_applies_at_once: Vec<Duration>,
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
        server_side_applies: Vec::new(),
        server_side_applies_at_once: Vec::new(),
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
        figures
            .server_side_applies
            .push(apply_directly(&kube, objects, "floor", 1)?);
        figures
            .server_side_applies_at_once
            .push(apply_directly(&kube, objects, "floor8", AT_ONCE)?);
    }
    Ok(figures)
}

/// The time the API server takes to server-side apply the objects of
/// [`repository`] sent directly — each namespace `nsN` as `PREFIX-nsN`,
/// the secret's reference as its value — one PATCH each, `at_once` open
/// at a time (the namespaces before the rest), on kept-alive connections.
fn apply_directly(
    kube: &Kube,
    objects: usize,
    prefix: &str,
    at_once: usize,
) -> anyhow::Result<Duration> {
    let text = repository(objects, "one").replace("\"ns", &format!("\"{prefix}-ns"));
    let file: toml::Table = toml::from_str(&text)?;
    let mut requests: Vec<(String, String)> = Vec::new();
    for object in file["k8s"]["object"].as_array().into_iter().flatten() {
        let mut object = serde_json::to_value(object)?;
        if object["kind"] == "Secret" {
            object["stringData"]["password"] = "bench-password".into();
        }
        requests.push((object_path(&object)?, object.to_string()));
    }
    let (namespaces, rest) = requests.split_at(NAMESPACES.min(requests.len()));
    let pem = std::fs::read(&kube.ca)?;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let apply = |(path, body): &(String, String)| {
        let request = client
            .patch(format!(
                "{}{path}?fieldManager=cairn-floor&force=true",
                kube.url
            ))
            .bearer_auth(&kube.admin_token)
            .header("content-type", "application/apply-patch+yaml")
            .body(body.clone());
        let path = path.clone();
        async move {
            let answer = request.send().await?;
            let status = answer.status();
            let body = answer.text().await?;
            anyhow::ensure!(status.is_success(), "{path}: {status}: {body}");
            anyhow::Ok(())
        }
    };
    runtime.block_on(async {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let started = std::time::Instant::now();
        for group in [namespaces, rest] {
            stream::iter(group.iter().map(apply))
                .buffer_unordered(at_once)
                .try_collect::<Vec<()>>()
                .await?;
        }
        Ok(started.elapsed())
    })
}

/// The API path of one of [`repository`]'s objects.
fn object_path(object: &serde_json::Value) -> anyhow::Result<String> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    Ok(match object["kind"].as_str().unwrap_or_default() {
        "Namespace" => format!("/api/v1/namespaces/{name}"),
        "ConfigMap" => format!("/api/v1/namespaces/{namespace}/configmaps/{name}"),
        "Secret" => format!("/api/v1/namespaces/{namespace}/secrets/{name}"),
        "ServiceAccount" => format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}"),
        "Service" => format!("/api/v1/namespaces/{namespace}/services/{name}"),
        "Deployment" => format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
        other => anyhow::bail!("no path for kind {other}"),
    })
}

impl Figures {
    /// The median of the floor of `from_scratch`, in seconds: in each
    /// round the faster of the applies sent one after the other and
    /// those sent side by side.
    pub fn floor(&self) -> f64 {
        let fastest: Vec<Duration> = self
            .server_side_applies
            .iter()
            .zip(&self.server_side_applies_at_once)
            .map(|(one_by_one, at_once)| *one_by_one.min(at_once))
            .collect();
        median(fastest).as_secs_f64()
    }

    /// The medians, in seconds: from scratch, no change, one field.
    pub fn medians(&self) -> (f64, f64, f64) {
        (
            median(self.from_scratch.clone()).as_secs_f64(),
            median(self.no_change.clone()).as_secs_f64(),
            median(self.one_field.clone()).as_secs_f64(),
        )
    }
}
