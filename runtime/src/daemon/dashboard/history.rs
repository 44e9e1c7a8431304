//! `GET /ui/tenants/T/history`: a tenant's runs, newest first, paged by
//! run number, each with its trigger, commit, author, outcome and counts,
//! and a form to compare the commits of any two; `GET
//! /ui/tenants/T/runs/N`: one run with every action, its result, error and
//! duration.

use super::page::{self, Section};
use super::session::Viewer;
use crate::daemon::http::AppState;
use crate::store::{RunKind, RunRecord};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// Runs on one page of the history.
pub const RUNS_PER_PAGE: u32 = 50;

/// The history's query: `?before=RUN`, the page of runs older than it.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    /// Show runs older than this one.
    #[serde(default)]
    pub before: Option<i64>,
}

/// What started a run of this kind, in words.
pub fn trigger_of(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Reconcile => "daemon",
        RunKind::Plan => "plan",
        RunKind::Apply => "cairn apply",
        RunKind::Rollback => "rollback",
        RunKind::Drift => "drift check",
        RunKind::Suspend | RunKind::Resume => "operator",
        RunKind::ReleaseHold => "new commit",
    }
}

/// A table of runs; with `compare`, radio buttons to pick two to compare.
pub fn run_table(runs: &[RunRecord], base: &str, compare: bool) -> Markup {
    page::scrolling(
        "Runs",
        html! {
            table.runs {
                thead { tr {
                    th scope="col" { "Run" }
                    th scope="col" { "Kind" }
                    th scope="col" { "Trigger" }
                    th scope="col" { "Commit" }
                    th scope="col" { "Author" }
                    th scope="col" { "Outcome" }
                    th scope="col" { "Changes" }
                    th scope="col" { "Failed" }
                    th scope="col" { "Started" }
                    @if compare {
                        th scope="col" { "From" }
                        th scope="col" { "To" }
                    }
                } }
                tbody {
                    @for run in runs {
                        tr {
                            th scope="row" { a href={ (base) "/runs/" (run.id) } { (run.id) } }
                            td { (run.kind.as_str()) }
                            td { (trigger_of(run.kind)) @if let Some(daemon) = &run.daemon { " (" (daemon) ")" } }
                            td { code { (page::short(&run.commit_id)) } " " span.summary { (run.commit_summary) } }
                            td { (run.commit_author) }
                            td { @match run.outcome { Some(outcome) => (page::word_badge(outcome.as_str())), None => (page::word_badge("running")) } }
                            td { (run.changes) }
                            td { (run.failures) }
                            td { time datetime=(page::time_ms(run.started_at)) { (page::age_ms(run.started_at)) } }
                            @if compare {
                                td { input type="radio" name="from" value=(run.id) aria-label={ "Compare from run " (run.id) }; }
                                td { input type="radio" name="to" value=(run.id) aria-label={ "Compare to run " (run.id) }; }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/tenants/T/history`.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    if !state.tenants.contains_key(&name) || !viewer.sees(&name) {
        return page::no_tenant(&name);
    }
    let seen = state.dashboard.changes.count();
    let runs = match state.store.runs(&name, query.before, RUNS_PER_PAGE).await {
        Ok(runs) => runs,
        Err(error) => return page::store_failed(&error),
    };
    let base = format!("/ui/tenants/{}", page::path_segment(&name));
    let older = (runs.len() == RUNS_PER_PAGE as usize)
        .then(|| runs.last().map(|run| run.id))
        .flatten();
    let body = html! {
        p.crumbs { a href=(base) { "Tenant " (name) } }
        h1 { "History of " (name) }
        @if runs.is_empty() {
            p { "No run recorded." }
        } @else {
            form method="get" action={ (base) "/diff" } {
                p { "Pick a run in each of the last two columns to see how their commits differ." }
                (run_table(&runs, &base, true))
                button type="submit" { "Compare the two runs' commits" }
            }
        }
        nav.pages aria-label="Pages of runs" {
            @if query.before.is_some() { a href={ (base) "/history" } { "Newest runs" } }
            @if let Some(older) = older { a href={ (base) "/history?before=" (older) } rel="next" { "Older runs →" } }
        }
    };
    page::shell(
        &format!("History of {name}"),
        &viewer,
        Section::Tenants,
        Some(page::Live { scope: &name, seen }),
        body,
    )
    .into_response()
}

/// `GET /ui/tenants/T/runs/N`.
pub async fn run_page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((name, id)): Path<(String, i64)>,
) -> Response {
    if !state.tenants.contains_key(&name) || !viewer.sees(&name) {
        return page::no_tenant(&name);
    }
    let seen = state.dashboard.changes.count();
    let run = match state.store.run(&name, id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            return page::refusal(
                StatusCode::NOT_FOUND,
                &format!("Tenant `{name}` has no run {id}."),
            );
        }
        Err(error) => return page::store_failed(&error),
    };
    let base = format!("/ui/tenants/{}", page::path_segment(&name));
    let body = html! {
        p.crumbs { a href=(base) { "Tenant " (name) } " › " a href={ (base) "/history" } { "History" } }
        h1 { "Run " (run.id) " of " (name) " "
            @match run.outcome { Some(outcome) => (page::word_badge(outcome.as_str())), None => (page::word_badge("running")) } }
        dl.facts {
            dt { "Kind" } dd { (run.kind.as_str()) " (" (trigger_of(run.kind)) ")" }
            dt { "Commit" } dd { code { (run.commit_id) } }
            dt { "Summary" } dd { (run.commit_summary) }
            dt { "Author" } dd { (run.commit_author) }
            dt { "Started" } dd { (page::time_ms(run.started_at)) }
            dt { "Finished" } dd { @match run.finished_at {
                Some(at) => { (page::time_ms(at)) " (" (at - run.started_at) " ms)" },
                None => "not finished",
            } }
            dt { "Changes" } dd { (run.changes) ", " (run.failures) " failed" }
            @if let Some(daemon) = &run.daemon { dt { "Daemon" } dd { (daemon) } }
            @if let Some(reason) = &run.reason { dt { "Refused because" } dd { (reason) } }
            @if let Some(by) = &run.policy_override {
                dt { "Policy override" } dd { (by.policies.join(", ")) " by " (by.by) ": " (by.reason) }
            }
        }
        (super::tenant::findings(&run.findings))
        section aria-labelledby="actions-title" {
            h2 #actions-title { "Actions (" (run.actions.len()) ")" }
            @if run.actions.is_empty() {
                p { "This run made no change." }
            } @else {
                (page::scrolling("Actions", html! {
                    table {
                        thead { tr {
                            th scope="col" { "#" }
                            th scope="col" { "Resource" }
                            th scope="col" { "Action" }
                            th scope="col" { "What it did" }
                            th scope="col" { "Result" }
                            th scope="col" { "Error" }
                            th scope="col" { "Duration" }
                        } }
                        tbody {
                            @for action in &run.actions {
                                tr {
                                    td { (action.seq) }
                                    th scope="row" { code { (action.address) } }
                                    td { (action.action.as_str()) }
                                    td { (action.summary.as_deref().unwrap_or("")) }
                                    td { (page::word_badge(action.result.as_str())) }
                                    td { (action.error.as_deref().unwrap_or("")) }
                                    td { (action.duration_ms) " ms" }
                                }
                            }
                        }
                    }
                }))
            }
        }
    };
    page::shell(
        &format!("Run {id} of {name}"),
        &viewer,
        Section::Tenants,
        Some(page::Live { scope: &name, seen }),
        body,
    )
    .into_response()
}
