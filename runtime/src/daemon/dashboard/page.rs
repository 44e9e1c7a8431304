//! The page shell every dashboard page shares, and the small pieces pages
//! are made of: state badges, times and ages, commits, pagination links,
//! forms that carry the CSRF token, refusals.

use super::session::Viewer;
use super::state::TenantState;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which part of the dashboard a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The overview and tenant pages.
    Tenants,
    /// The cluster page.
    Cluster,
}

/// What a live page tells its script: reload its content when the status
/// of tenant `scope` changes (`*`: any tenant's), and whether changes
/// came between its rendering and its subscription (`seen`: the count of
/// changes when it began to read what it shows).
#[derive(Debug, Clone, Copy)]
pub struct Live<'a> {
    /// The tenant, or `*`.
    pub scope: &'a str,
    /// [`crate::daemon::status::StatusChanges::count`] before the page
    /// read its data.
    pub seen: u64,
}

/// A page's `<head>`: its title, the stylesheet, and the live script
/// when `live`.
fn head(title: &str, live: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · Cairn" }
            link rel="stylesheet" href="/ui/assets/dashboard.css";
            @if live {
                script src="/ui/assets/live.js" defer {}
            }
        }
    }
}

/// A whole page for `viewer`.
pub fn shell(
    title: &str,
    viewer: &Viewer,
    section: Section,
    live: Option<Live<'_>>,
    body: Markup,
) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, live.is_some()))
            body data-live=[live.map(|live| live.scope)] data-seen=[live.map(|live| live.seen)] {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href="/ui/" { "Cairn" }
                        a href="/ui/" aria-current=[(section == Section::Tenants).then_some("page")] { "Tenants" }
                        @if viewer.is_operator() {
                            a href="/ui/cluster" aria-current=[(section == Section::Cluster).then_some("page")] { "Cluster" }
                        }
                    }
                    div.who {
                        @match &viewer.access {
                            crate::daemon::auth::Access::Everything => span { "operator" },
                            crate::daemon::auth::Access::Tenant(name) => span { "tenant " (name) },
                        }
                        @if !viewer.can_act {
                            span.badge.neutral { "read-only" }
                        }
                        @if viewer.signed_in {
                            form.inline method="post" action="/ui/sign-out" {
                                (csrf_field(viewer))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #content {
                    (body)
                    p.live-note role="status" aria-live="polite" {}
                }
            }
        }
    };
    Html(page.into_string())
}

/// A page without navigation (the sign-in page, refusals).
pub fn bare(title: &str, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body {
                header.top { nav aria-label="Main" { a.brand href="/ui/" { "Cairn" } } }
                main #content { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// A refusal as a small page: what happened and what to do.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { (status.canonical_reason().unwrap_or("Refused")) }
        p.error role="alert" { (message) }
        p { a href="/ui/" { "Back to the tenants" } }
    };
    (status, bare("Refused", body)).into_response()
}

/// A page refused, to answer with [`refusal`]: small enough to return
/// in a `Result`.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The status.
    pub status: StatusCode,
    /// What happened and what to do.
    pub message: String,
}

impl Refused {
    /// A refusal with `status` saying `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        refusal(self.status, &self.message)
    }
}

/// The answer for a tenant the viewer may not see, or that does not
/// exist: the same, so a tenant token learns nothing of other tenants.
pub fn no_tenant(name: &str) -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        &format!("There is no tenant `{name}`."),
    )
}

/// The answer when the state store cannot be read.
pub fn store_failed(error: &crate::store::StoreError) -> Response {
    let status = match error.is_unreachable() {
        true => StatusCode::SERVICE_UNAVAILABLE,
        false => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refusal(
        status,
        &format!("The state store cannot be read: {error}. Try again shortly."),
    )
}

/// The hidden field that carries the viewer's CSRF token.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// A tenant's state as a badge: its word and its colour together.
pub fn badge(state: TenantState) -> Markup {
    html! { span class={ "badge state-" (state.as_str()) } { (state.symbol()) " " (state.label()) } }
}

/// A word of the store (a resource status, a run outcome) as a badge.
pub fn word_badge(word: &str) -> Markup {
    html! { span class={ "badge word-" (word) } { (word) } }
}

/// The first 12 characters of a commit id.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// Milliseconds since the Unix epoch as a UTC time to the second.
pub fn time_ms(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// How long ago `ms` (milliseconds since the Unix epoch) was, in words.
pub fn age_ms(ms: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    age(Duration::from_millis(u64::try_from(now - ms).unwrap_or(0)))
}

/// How long ago an RFC 3339 time was, in words; the text itself when it
/// does not parse.
pub fn age_rfc3339(at: &str) -> String {
    match humantime::parse_rfc3339(at) {
        Ok(time) => age(SystemTime::now().duration_since(time).unwrap_or_default()),
        Err(_) => at.to_string(),
    }
}

/// A duration as the largest unit that fits: `42 s ago`, `3 min ago`.
pub fn age(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// `text` percent-encoded for a URL's path segment or query value.
pub fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// A query string of the non-empty pairs, `?` included (empty when none).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", path_segment(value)))
        .collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!("?{}", parts.join("&")),
    }
}

/// A JSON value on one line, for a table cell.
pub fn json_value(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "(not set)".to_string(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Links to the previous and next pages of a list of `total` items shown
/// `per_page` at a time, page `page` (from 1) shown; `link` makes a
/// page's URL.
pub fn pagination(
    label: &str,
    page: usize,
    per_page: usize,
    total: usize,
    link: impl Fn(usize) -> String,
) -> Markup {
    let pages = total.div_ceil(per_page).max(1);
    html! {
        nav.pages aria-label=(label) {
            @if page > 1 {
                a href=(link(page - 1)) rel="prev" { "← Previous" }
            }
            span { "Page " (page) " of " (pages) " · " (total) " in all" }
            @if page < pages {
                a href=(link(page + 1)) rel="next" { "Next →" }
            }
        }
    }
}

/// A table inside a region that scrolls sideways on a narrow screen, and
/// can be reached with the keyboard to do so.
pub fn scrolling(label: &str, table: Markup) -> Markup {
    html! {
        div.scroll role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_the_largest_unit_that_fits() {
        assert_eq!(age(Duration::from_secs(42)), "42 s ago");
        assert_eq!(age(Duration::from_secs(180)), "3 min ago");
        assert_eq!(age(Duration::from_secs(7200)), "2 h ago");
        assert_eq!(age(Duration::from_secs(3 * 86_400)), "3 d ago");
    }

    #[test]
    fn values_are_encoded_for_urls() {
        assert_eq!(path_segment("web-1_a.b~"), "web-1_a.b~");
        assert_eq!(path_segment("a b/&?"), "a%20b%2F%26%3F");
        assert_eq!(query(&[("q", "x y"), ("state", "")]), "?q=x%20y");
        assert_eq!(query(&[("q", "")]), "");
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(time_ms(0), "1970-01-01 00:00:00 UTC");
    }
}
