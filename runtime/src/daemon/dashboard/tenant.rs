//! `GET /ui/tenants/T`: one tenant — its state, commit and last run; why
//! it is blocked or failing; its policies' findings; what drifted, field
//! by field; the plan on demand and previews of other refs; the control
//! state with the buttons to reconcile, suspend, resume and roll back;
//! and its resources with their status, searched, filtered and paged.

use super::page::{self, Section};
use super::session::Viewer;
use super::state::TenantState;
use crate::daemon::http::{AppState, cluster_statuses};
use crate::daemon::status::{DriftDetail, TenantStatus};
use crate::plan::PolicyFinding;
use crate::store::{
    ResourceStatus, RunRecord, StatusPage, StatusQuery, TenantState as ControlState,
};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// Resources on one page of a tenant: enough to scan, few enough that a
/// tenant of 10,000 resources answers with a page of about 50 KB.
pub const RESOURCES_PER_PAGE: usize = 100;

/// Runs shown on the tenant page; the history has the rest.
pub const RECENT_RUNS: u32 = 5;

/// The tenant page's query: `?q=TEXT&status=WORD&page=N&done=ACTION`.
#[derive(Debug, Default, Deserialize)]
pub struct TenantQuery {
    /// Text searched in the resources' addresses and errors.
    #[serde(default)]
    pub q: String,
    /// Only resources with this status.
    #[serde(default)]
    pub status: String,
    /// The page of resources, from 1.
    #[serde(default)]
    pub page: Option<usize>,
    /// The action just taken from this page, to confirm it.
    #[serde(default)]
    pub done: String,
}

/// Everything the page shows, read from the daemon and the store.
pub struct TenantView {
    /// The live status, the holder's.
    pub status: TenantStatus,
    /// The control state.
    pub control: ControlState,
    /// The page of resources the query asks for.
    pub resources: StatusPage,
    /// The latest runs, newest first, without their actions.
    pub recent: Vec<RunRecord>,
    /// The count of status changes before it was read.
    pub seen: u64,
}

impl TenantView {
    /// Reads tenant `name`'s view, with the page of resources `query`
    /// asks for.
    pub async fn read(
        state: &AppState,
        name: &String,
        query: &TenantQuery,
    ) -> Result<Self, crate::store::StoreError> {
        let page = query.page.unwrap_or(1).max(1);
        let resources = StatusQuery {
            status: query.status.parse().ok(),
            text: &query.q,
            offset: (page - 1).saturating_mul(RESOURCES_PER_PAGE),
            limit: RESOURCES_PER_PAGE,
        };
        let seen = state.dashboard.changes.count();
        Ok(Self {
            seen,
            status: cluster_statuses(state, &[name]).await?.remove(0),
            control: state.store.tenant_state(name).await?,
            resources: state.store.statuses_page(name, &resources).await?,
            recent: state.store.runs(name, None, RECENT_RUNS).await?,
        })
    }
}

/// The handler.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<TenantQuery>,
) -> Response {
    if !state.tenants.contains_key(&name) || !viewer.sees(&name) {
        return page::no_tenant(&name);
    }
    match TenantView::read(&state, &name, &query).await {
        Ok(view) => render(&viewer, &view, &query).into_response(),
        Err(error) => page::store_failed(&error),
    }
}

/// What an action just taken did, in words.
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "reconcile" => "A reconcile was asked for: the page updates when it ends.",
        "suspend" => "Suspended: the daemon plans and reports, but applies nothing until resumed.",
        "resume" => "Resumed: the daemon follows the ref and applies again.",
        "rollback" => {
            "The rollback is under way: the daemon applies the commit and holds the tenant there until resumed or a new commit arrives."
        }
        _ => return None,
    })
}

/// The tenant page.
pub fn render(
    viewer: &Viewer,
    view: &TenantView,
    query: &TenantQuery,
) -> axum::response::Html<String> {
    let status = &view.status;
    let name = &status.name;
    let state = TenantState::of(status, &view.control);
    let base = format!("/ui/tenants/{}", page::path_segment(name));
    let body = html! {
        h1 { "Tenant " (name) " " (page::badge(state)) }
        @if let Some(message) = done_message(&query.done) {
            p.notice role="status" { (message) }
        }
        (summary(status, &base))
        (problems(status))
        (control(viewer, &view.control, &base))
        (findings(&status.findings))
        (holds(&status.holds))
        (drift(&status.drift))
        section aria-labelledby="plan-title" {
            h2 #plan-title { "Plan" }
            p { "What the next run would change, computed now against the live world; or a preview of another branch, tag or commit. Nothing is applied." }
            form.inline method="get" action={ (base) "/plan" } {
                button type="submit" { "Compute the plan" }
            }
            form.inline method="get" action={ (base) "/plan" } {
                label for="ref" { "Preview ref" }
                input #ref type="text" name="ref" placeholder="feature/branch" required;
                button type="submit" { "Preview" }
            }
        }
        (recent_runs(&view.recent, &base))
        (resources(&view.resources, query, &base))
    };
    page::shell(
        &format!("Tenant {name}"),
        viewer,
        Section::Tenants,
        Some(page::Live {
            scope: name,
            seen: view.seen,
        }),
        body,
    )
}

fn summary(status: &TenantStatus, base: &str) -> Markup {
    html! {
        dl.facts {
            dt { "Ref" } dd { code { (status.reference) } }
            dt { "Commit" }
            dd {
                @if let Some(commit) = &status.commit {
                    code { (page::short(&commit.id)) } " " (commit.summary) " — " (commit.author)
                } @else { "not reconciled yet" }
            }
            dt { "Last run" }
            dd {
                @if let Some(run) = &status.last_run {
                    (page::word_badge(run.outcome.as_str())) " "
                    (format!("{:?}", run.trigger).to_lowercase()) ", "
                    time datetime=(run.at) { (page::age_rfc3339(&run.at)) } ", "
                    (run.changes) " changes, " (run.failures) " failed, " (run.duration_ms) " ms"
                    @if let Some(id) = run.run_id {
                        " · " a href={ (base) "/runs/" (id) } { "run " (id) }
                    }
                } @else { "none yet" }
            }
            dt { "Held by" } dd { (status.holder.as_deref().unwrap_or("no daemon")) }
        }
    }
}

fn problems(status: &TenantStatus) -> Markup {
    html! {
        @if let Some(error) = &status.load_error {
            p.error { strong { "Its plugins do not load: " } (error) }
        }
        @if let Some(error) = &status.last_error {
            p.error { strong { "The last run failed: " } (error) }
        }
        @if !status.blocked.is_empty() {
            p.error { strong { "Blocked by " } (status.blocked.join("; ")) }
        }
        @if !status.retrying.is_empty() {
            p.warning { strong { "Waiting for a retry: " } (status.retrying.join(", ")) }
        }
        @if !status.not_converged.is_empty() {
            p.warning { strong { "Held, their provider did not converge: " } (status.not_converged.join(", ")) }
        }
    }
}

fn control(viewer: &Viewer, control: &ControlState, base: &str) -> Markup {
    html! {
        section aria-labelledby="control-title" {
            h2 #control-title { "Control" }
            ul.facts-list {
                li { "Automatic applies: " strong { @if control.suspended { "suspended" } @else { "on" } } }
                li { "Rollback hold: "
                    @if let Some(held) = &control.held_commit { strong { "held at " code { (page::short(held)) } } }
                    @else { "none" } }
                li { "Last applied with success: "
                    @if let Some(applied) = &control.last_applied_commit {
                        code { (page::short(applied)) }
                        @if let Some(at) = control.last_applied_at { ", " (page::age_ms(at)) }
                    } @else { "never" } }
            }
            @if viewer.can_act {
                div.actions {
                    form.inline method="post" action={ (base) "/reconcile" } {
                        (page::csrf_field(viewer))
                        button type="submit" { "Reconcile now" }
                    }
                    @if control.suspended || control.held_commit.is_some() {
                        form.inline method="post" action={ (base) "/resume" } {
                            (page::csrf_field(viewer))
                            button type="submit" { "Resume" }
                        }
                    }
                    @if !control.suspended {
                        form.inline method="post" action={ (base) "/suspend" } {
                            (page::csrf_field(viewer))
                            button type="submit" { "Suspend" }
                        }
                    }
                    a.button href={ (base) "/rollback" } { "Roll back…" }
                }
            } @else {
                p { "This dashboard is read-only." }
            }
        }
    }
}

/// The policies' findings, blocking first.
pub fn findings(findings: &[PolicyFinding]) -> Markup {
    html! {
        @if !findings.is_empty() {
            section aria-labelledby="findings-title" {
                h2 #findings-title { "Policy findings" }
                (page::scrolling("Policy findings", html! {
                    table {
                        thead { tr {
                            th scope="col" { "Verdict" }
                            th scope="col" { "Policy / rule" }
                            th scope="col" { "Resource" }
                            th scope="col" { "Message" }
                        } }
                        tbody {
                            @for finding in findings {
                                tr {
                                    td { (page::word_badge(finding.verdict())) }
                                    td { (finding.policy) "/" (finding.finding.rule) }
                                    td { (finding.finding.address.as_deref().unwrap_or("—")) }
                                    td {
                                        (finding.finding.message)
                                        @if let Some(help) = &finding.finding.help { br; small { (help) } }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
        }
    }
}

/// What running chaos experiments hold, as the last plan found it.
fn holds(holds: &[crate::plan::Held]) -> Markup {
    html! {
        @if !holds.is_empty() {
            section aria-labelledby="holds-title" {
                h2 #holds-title { "Held by experiments" }
                p { "A chaos experiment's run keeps these away from Git on purpose: no change is made to them, and their difference is not drift, until the run and its recovery are over." }
                ul {
                    @for held in holds {
                        li {
                            code { (held.address) } " by " code { (held.by) }
                            ", for " (held.for_ms.div_ceil(1_000)) " s at most"
                            @if let Some(withheld) = &held.withheld {
                                "; waiting: " (withheld)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn drift(drift: &[DriftDetail]) -> Markup {
    html! {
        @if !drift.is_empty() {
            section aria-labelledby="drift-title" {
                h2 #drift-title { "Drift" }
                p { "These objects differ from Git: changed or removed outside Cairn." }
                @for detail in drift {
                    article.drift {
                        h3 { code { (detail.address) } }
                        p { (detail.summary) }
                        (field_table(&format!("What differs on {}", detail.address), &detail.fields, "In the world", "In Git"))
                    }
                }
            }
        }
    }
}

/// Fields that differ, with their two values (sensitive ones withheld).
pub fn field_table(
    label: &str,
    fields: &[cairn_contract::FieldChange],
    before: &str,
    after: &str,
) -> Markup {
    html! {
        @if !fields.is_empty() {
            (page::scrolling(label, html! {
                table.fields {
                    thead { tr {
                        th scope="col" { "Field" }
                        th scope="col" { (before) }
                        th scope="col" { (after) }
                    } }
                    tbody {
                        @for field in fields {
                            tr {
                                th scope="row" { code { (field.path) } }
                                @if field.sensitive {
                                    td { "(sensitive)" } td { "(sensitive)" }
                                } @else {
                                    td.before { (page::json_value(field.before.as_ref())) }
                                    td.after { (page::json_value(field.after.as_ref())) }
                                }
                            }
                        }
                    }
                }
            }))
        }
    }
}

fn recent_runs(runs: &[RunRecord], base: &str) -> Markup {
    html! {
        section aria-labelledby="runs-title" {
            h2 #runs-title { "Recent runs" }
            @if runs.is_empty() {
                p { "No run recorded yet." }
            } @else {
                (super::history::run_table(runs, base, false))
            }
            p { a href={ (base) "/history" } { "The whole history" } }
        }
    }
}

fn resources(resources: &StatusPage, query: &TenantQuery, base: &str) -> Markup {
    let filter: Option<ResourceStatus> = query.status.parse().ok();
    let total = resources.matching;
    let pages = total.div_ceil(RESOURCES_PER_PAGE).max(1);
    let page_number = query.page.unwrap_or(1).clamp(1, pages);
    let link = |page: usize| {
        let page = page.to_string();
        format!(
            "{base}{}#resources-title",
            page::query(&[
                ("q", query.q.trim()),
                ("status", &query.status),
                ("page", if page == "1" { "" } else { &page }),
            ])
        )
    };
    html! {
        section aria-labelledby="resources-title" {
            h2 #resources-title { "Resources (" (resources.owned) ")" }
            form.filters method="get" action=(base) role="search" {
                label for="resource-q" { "Search" }
                input #resource-q type="search" name="q" value=(query.q) placeholder="address or error";
                label for="resource-status" { "Status" }
                select #resource-status name="status" {
                    option value="" selected[filter.is_none()] { "every status" }
                    @for status in ResourceStatus::ALL {
                        option value=(status.as_str()) selected[filter == Some(*status)] { (status.as_str()) }
                    }
                }
                button type="submit" { "Show" }
            }
            @if resources.records.is_empty() && total > 0 {
                p { "This page is past the last one: " a href=(link(pages)) { "go to page " (pages) } "." }
            } @else if resources.records.is_empty() {
                p { "No resource matches." }
            } @else {
                (page::scrolling("Resources", html! {
                    table {
                        thead { tr {
                            th scope="col" { "Resource" }
                            th scope="col" { "Status" }
                            th scope="col" { "Last error" }
                            th scope="col" { "Applied at commit" }
                            th scope="col" { "Updated" }
                        } }
                        tbody {
                            @for record in &resources.records {
                                tr {
                                    th scope="row" { code { (record.address) } }
                                    td {
                                        (page::word_badge(record.status.as_str()))
                                        @if record.not_converged { " " span.badge.word-failed { "not converged" } }
                                    }
                                    td { (record.last_error.as_deref().unwrap_or("")) }
                                    td { code { (page::short(&record.commit_id)) } }
                                    td { (page::age_ms(record.updated_at)) }
                                }
                            }
                        }
                    }
                }))
                (page::pagination("Pages of resources", page_number, RESOURCES_PER_PAGE, total, link))
            }
        }
    }
}
