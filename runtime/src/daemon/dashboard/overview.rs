//! `GET /ui/`: every tenant the viewer may see, with its state, commit
//! and author, last run and its age, and the daemon holding it; searched,
//! filtered by state, sorted and paged on the server, so a thousand
//! tenants cost one page of HTML.

use super::page::{self, Section};
use super::session::Viewer;
use super::state::TenantState;
use crate::daemon::http::{AppState, cluster_statuses};
use crate::daemon::status::TenantStatus;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Tenants on one page of the overview: a screenful and a little more,
/// and a page of HTML that stays small (about 40 KB) whatever the fleet.
pub const TENANTS_PER_PAGE: usize = 50;

/// The overview's query: `?q=TEXT&state=WORD&sort=name|state|last-run&page=N`.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    /// Text searched in the name, ref, commit, author and holder.
    #[serde(default)]
    pub q: String,
    /// Only tenants in this state.
    #[serde(default)]
    pub state: String,
    /// `name` (the default), `state` or `last-run` (newest first).
    #[serde(default)]
    pub sort: String,
    /// The page, from 1.
    #[serde(default)]
    pub page: Option<usize>,
}

/// One tenant's row.
struct Row {
    status: TenantStatus,
    state: TenantState,
}

impl Row {
    fn matches(&self, text: &str) -> bool {
        if text.is_empty() {
            return true;
        }
        let text = text.to_lowercase();
        let status = &self.status;
        let commit = status.commit.as_ref();
        [
            Some(status.name.as_str()),
            Some(status.reference.as_str()),
            commit.map(|c| c.id.as_str()),
            commit.map(|c| c.author.as_str()),
            commit.map(|c| c.summary.as_str()),
            status.holder.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|field| field.to_lowercase().contains(&text))
    }
}

/// The handler.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<OverviewQuery>,
) -> Response {
    match render(&state, &viewer, &query).await {
        Ok(page) => page.into_response(),
        Err(error) => page::store_failed(&error),
    }
}

/// The overview as `viewer` sees it.
pub async fn render(
    state: &AppState,
    viewer: &Viewer,
    query: &OverviewQuery,
) -> Result<axum::response::Html<String>, crate::store::StoreError> {
    let seen = state.dashboard.changes.count();
    let names: Vec<&String> = state
        .tenants
        .keys()
        .filter(|name| viewer.sees(name))
        .collect();
    let statuses = cluster_statuses(state, &names).await?;
    let controls = state.store.tenant_states().await?;
    let rows: Vec<Row> = statuses
        .into_iter()
        .map(|status| {
            let control = controls.get(&status.name).cloned().unwrap_or_default();
            Row {
                state: TenantState::of(&status, &control),
                status,
            }
        })
        .collect();
    let mut counts: BTreeMap<TenantState, usize> = BTreeMap::new();
    for row in &rows {
        *counts.entry(row.state).or_default() += 1;
    }
    let filter = TenantState::parse(&query.state);
    let mut shown: Vec<&Row> = rows
        .iter()
        .filter(|row| filter.is_none_or(|state| row.state == state))
        .filter(|row| row.matches(query.q.trim()))
        .collect();
    match query.sort.as_str() {
        "state" => shown.sort_by(|a, b| {
            a.state
                .cmp(&b.state)
                .then(a.status.name.cmp(&b.status.name))
        }),
        "last-run" => shown.sort_by(|a, b| {
            let at = |row: &Row| row.status.last_run.as_ref().map(|run| run.at.clone());
            at(b).cmp(&at(a)).then(a.status.name.cmp(&b.status.name))
        }),
        _ => {} // by name: the tenants' own order
    }
    let total = shown.len();
    let pages = total.div_ceil(TENANTS_PER_PAGE).max(1);
    let page_number = query.page.unwrap_or(1).clamp(1, pages);
    let visible = shown
        .iter()
        .skip((page_number - 1) * TENANTS_PER_PAGE)
        .take(TENANTS_PER_PAGE);
    let link = |state: &str, sort: &str, page: usize| {
        let page = page.to_string();
        format!(
            "/ui/{}",
            page::query(&[
                ("q", query.q.trim()),
                ("state", state),
                ("sort", sort),
                ("page", if page == "1" { "" } else { &page }),
            ])
        )
    };
    let body = html! {
        h1 { "Tenants" }
        form.filters method="get" action="/ui/" role="search" {
            label for="q" { "Search" }
            input #q type="search" name="q" value=(query.q) placeholder="name, commit, author…";
            label for="state" { "State" }
            select #state name="state" {
                option value="" selected[filter.is_none()] { "every state" }
                @for state in TenantState::ALL {
                    option value=(state.as_str()) selected[filter == Some(state)] { (state.label()) }
                }
            }
            label for="sort" { "Sort by" }
            select #sort name="sort" {
                option value="name" selected[query.sort.is_empty() || query.sort == "name"] { "name" }
                option value="state" selected[query.sort == "state"] { "state" }
                option value="last-run" selected[query.sort == "last-run"] { "last run" }
            }
            button type="submit" { "Show" }
        }
        nav.chips aria-label="States" {
            a href=(link("", &query.sort, 1)) aria-current=[filter.is_none().then_some("true")] { "all " (rows.len()) }
            @for (state, count) in &counts {
                a href=(link(state.as_str(), &query.sort, 1)) aria-current=[(filter == Some(*state)).then_some("true")] {
                    (page::badge(*state)) " " (count)
                }
            }
        }
        @if shown.is_empty() {
            p { "No tenant matches." }
        } @else {
            (page::scrolling("Tenants", html! {
                table.tenants {
                    caption.visually-hidden { "Tenants, their state, commit and last run" }
                    thead { tr {
                        th scope="col" { "Tenant" }
                        th scope="col" { "State" }
                        th scope="col" { "Commit" }
                        th scope="col" { "Author" }
                        th scope="col" { "Last run" }
                        th scope="col" { "Held by" }
                    } }
                    tbody {
                        @for row in visible {
                            (tenant_row(row))
                        }
                    }
                }
            }))
            (page::pagination("Pages of tenants", page_number, TENANTS_PER_PAGE, total, |page| link(&query.state, &query.sort, page)))
        }
    };
    Ok(page::shell(
        "Tenants",
        viewer,
        Section::Tenants,
        Some(page::Live { scope: "*", seen }),
        body,
    ))
}

fn tenant_row(row: &Row) -> Markup {
    let status = &row.status;
    html! {
        tr {
            th scope="row" { a href={ "/ui/tenants/" (page::path_segment(&status.name)) } { (status.name) } }
            td { (page::badge(row.state)) }
            td {
                @if let Some(commit) = &status.commit {
                    code { (page::short(&commit.id)) } " " span.summary { (commit.summary) }
                } @else { "—" }
            }
            td { @if let Some(commit) = &status.commit { (commit.author) } @else { "—" } }
            td {
                @if let Some(run) = &status.last_run {
                    (page::word_badge(run.outcome.as_str())) " "
                    time datetime=(run.at) { (page::age_rfc3339(&run.at)) }
                } @else { "—" }
            }
            td { (status.holder.as_deref().unwrap_or("—")) }
        }
    }
}
