//! What the dashboard's pages cost the daemon: the server time to render
//! the overview of 1,000 tenants and the page of a tenant that owns
//! 10,000 resources (a real state store, filled by applying 10,000 DNS
//! records to PowerDNS), through the daemon's own router, and the pages'
//! sizes.

use cairn::config::Config;
use cairn::daemon::dashboard::Dashboard;
use cairn::daemon::http::{AppState, TenantHandle, router};
use cairn::daemon::metrics::Metrics;
use cairn::daemon::status::{LastRun, Outcome, StatusChanges, TenantStatus, Trigger};
use cairn::source::CommitInfo;
use cairn::store::StateStore;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// Requests timed per page; the median is reported.
const REQUESTS: usize = 31;

/// The figures of one page.
pub struct PageFigures {
    /// The median server time.
    pub time: Duration,
    /// The page's size in bytes.
    pub bytes: usize,
}

/// The overview and the tenant page.
pub struct Figures {
    /// Tenants of the overview.
    pub tenants: usize,
    /// Resources of the tenant page.
    pub resources: usize,
    /// `GET /ui/` with every tenant.
    pub overview: PageFigures,
    /// `GET /ui/?state=in-sync&sort=last-run&page=10`.
    pub overview_filtered: PageFigures,
    /// `GET /ui/tenants/default`.
    pub tenant: PageFigures,
    /// `GET /ui/tenants/default?q=r9999`.
    pub tenant_searched: PageFigures,
}

/// A tenant's status as a daemon holding it keeps it.
fn status(name: &str, index: usize) -> TenantStatus {
    let mut status = TenantStatus::new(name, "main");
    status.loaded = true;
    status.commit = Some(CommitInfo {
        id: format!("{index:040x}"),
        author: "Bench <bench@cairn.invalid>".into(),
        summary: format!("change {index}"),
        time: 1_700_000_000,
    });
    status.last_run = Some(LastRun {
        at: "2026-12-03T12:00:00Z".into(),
        trigger: Trigger::Poll,
        outcome: if index.is_multiple_of(10) {
            Outcome::Drifted
        } else {
            Outcome::InSync
        },
        changes: 0,
        failures: 0,
        duration_ms: 3,
        run_id: None,
    });
    status.holder = Some("bench".into());
    status
}

/// The daemon's HTTP state over `store`, with `names` held here.
fn app_state(store: StateStore, names: &[String]) -> AppState {
    let changes = StatusChanges::default();
    let tenants: BTreeMap<String, TenantHandle> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let handle = TenantHandle {
                status: Arc::new(RwLock::new(status(name, index))),
                trigger: Arc::default(),
                held: Arc::new(AtomicBool::new(true)),
                webhook_secret: None,
                webhook_style: Default::default(),
                api_token: None,
                tenant: Arc::default(),
                changes: changes.clone(),
            };
            (name.clone(), handle)
        })
        .collect();
    AppState {
        tenants: Arc::new(tenants),
        store,
        metrics: Arc::new(Metrics::default()),
        ready: Arc::new(AtomicBool::new(true)),
        operator_token: None,
        daemon_id: "bench".into(),
        health: Arc::default(),
        dashboard: Arc::new(Dashboard::new(Default::default(), changes)),
    }
}

/// The median time and the size of `GET path`.
async fn time_page(state: &AppState, path: &str) -> anyhow::Result<PageFigures> {
    let app = router(state.clone());
    let mut times = Vec::with_capacity(REQUESTS);
    let mut bytes = 0;
    for _ in 0..REQUESTS {
        let request = axum::http::Request::get(path).body(axum::body::Body::empty())?;
        let started = Instant::now();
        let response = app.clone().oneshot(request).await?;
        anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await?
            .to_bytes();
        times.push(started.elapsed());
        bytes = body.len();
    }
    Ok(PageFigures {
        time: super::median(times),
        bytes,
    })
}

/// Measures the pages with `tenants` tenants and a tenant of `resources`.
pub fn page_costs(
    runtime: &tokio::runtime::Runtime,
    tenants: usize,
    resources: usize,
) -> anyhow::Result<Figures> {
    let zone = "d.bench.example.";
    let ws = super::applied_zone(zone, resources - 1);
    let config = Config::load(&ws.config_path())?;
    runtime.block_on(async {
        let store = StateStore::open(&config.state).await?;
        let mut names: Vec<String> = (1..tenants).map(|i| format!("tenant-{i:04}")).collect();
        names.push("default".into());
        let state = app_state(store, &names);
        Ok(Figures {
            tenants,
            resources,
            overview: time_page(&state, "/ui/").await?,
            overview_filtered: time_page(&state, "/ui/?state=in-sync&sort=last-run&page=10")
                .await?,
            tenant: time_page(&state, "/ui/tenants/default").await?,
            tenant_searched: time_page(&state, "/ui/tenants/default?q=r9999.").await?,
        })
    })
}
