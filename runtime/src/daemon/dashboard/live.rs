//! `GET /ui/events[?tenant=T]`: server-sent events — first a `hello`
//! with the count of changes so far (a page rendered at another count
//! missed some, and reloads), then one `change` event (its data the
//! tenant's name) each time a tenant's status changes in this daemon — a run ended, plugins loaded or failed to. The events come
//! from the workers themselves ([`crate::daemon::status::StatusChanges`]);
//! nothing polls the store. A tenant token hears of its own tenant only.
//!
//! A stream is an open connection like any other: it counts against the
//! server's connection cap and, while it waits, may give way to a newer
//! caller ([`crate::daemon::server`]); the page's script connects again.

use super::session::Viewer;
use crate::daemon::http::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often an idle stream sends a comment, so that proxies keep it and
/// a closed page is found out.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The stream's query.
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// Only this tenant's changes (all the viewer sees when absent).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The handler.
pub async fn events(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(query): Query<EventsQuery>,
) -> Response {
    // Subscribed first, counted second: a change between the two is both
    // counted and heard.
    let receiver = state.dashboard.changes.subscribe();
    let hello = Event::default()
        .event("hello")
        .data(state.dashboard.changes.count().to_string());
    let wanted = query.tenant.filter(|name| !name.is_empty() && name != "*");
    let stream = stream::once(async { Ok(hello) }).chain(changes(receiver, viewer, wanted));
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

/// The changes the viewer may hear of, as events; a receiver that fell
/// behind is told that everything may have changed (`*`).
fn changes(
    receiver: tokio::sync::broadcast::Receiver<std::sync::Arc<str>>,
    viewer: Viewer,
    wanted: Option<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(receiver, move |mut receiver| {
        let viewer = viewer.clone();
        let wanted = wanted.clone();
        async move {
            loop {
                let name: String = match receiver.recv().await {
                    Ok(name) => name.to_string(),
                    Err(RecvError::Lagged(_)) => "*".to_string(),
                    Err(RecvError::Closed) => return None,
                };
                let heard = name == "*"
                    || (viewer.sees(&name) && wanted.as_deref().is_none_or(|w| w == name));
                if heard {
                    let event = Event::default().event("change").data(name);
                    return Some((Ok(event), receiver));
                }
            }
        }
    })
}
