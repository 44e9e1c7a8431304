//! Who is looking: sign-in with an API token, the session cookie, and the
//! CSRF token of every form that changes anything.
//!
//! - With tokens configured, a session begins when a token is signed in
//!   (`POST /ui/sign-in`, the token in the form's body, never in a URL).
//!   The daemon keeps the session in memory with the token's SHA-256, not
//!   the token; each request checks that digest against the token
//!   configured now, so a rotated or removed token ends its sessions. The
//!   browser holds a random session id in an `HttpOnly`, `SameSite=Strict`
//!   cookie, `Secure` when the request came through HTTPS.
//! - With no token configured anywhere, everyone sees everything: the
//!   browser still gets a random id (kept by no one: nothing an anonymous
//!   caller does makes the daemon hold anything), to bind its CSRF token.
//! - A form's CSRF token is the HMAC of the session id under a key drawn
//!   at start: it is checked in constant time on every POST.

use super::page;
use crate::daemon::auth::{self, Access};
use crate::daemon::http::AppState;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "cairn_session";

/// How long a session lasts from sign-in: a working day; then the token
/// is asked for again.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The most signed-in sessions the daemon keeps (each about 150 bytes):
/// only a caller with a valid token can add one, and past this the oldest
/// gives way, so no caller can make the daemon hold more.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in session.
#[derive(Debug, Clone)]
struct Session {
    access: Access,
    /// SHA-256 of the token signed in with.
    token: [u8; 32],
    expires: Instant,
    /// Its place in the order sessions began, for the cap.
    order: u64,
}

/// The signed-in sessions, by the SHA-256 of their id.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    started: std::sync::atomic::AtomicU64,
}

impl Sessions {
    /// Starts a session for `access`, signed in with the token whose
    /// digest is `token`; returns its id.
    fn start(&self, access: Access, token: [u8; 32]) -> String {
        let id = new_id();
        let mut sessions = self.sessions.lock().expect("sessions");
        let now = Instant::now();
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.order)
                .map(|(key, _)| *key)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            key_of(&id),
            Session {
                access,
                token,
                expires: now + SESSION_LIFETIME,
                order: self
                    .started
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            },
        );
        id
    }

    fn get(&self, id: &str) -> Option<Session> {
        let sessions = self.sessions.lock().expect("sessions");
        sessions
            .get(&key_of(id))
            .filter(|session| session.expires > Instant::now())
            .cloned()
    }

    fn end(&self, id: &str) {
        self.sessions.lock().expect("sessions").remove(&key_of(id));
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.sessions.lock().expect("sessions").len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key_of(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A fresh random session id: 256 bits, hex.
fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The key of the CSRF tokens, drawn once per process.
fn csrf_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// The CSRF token of session `id`.
fn csrf_of(id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(csrf_key()).expect("any key length");
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Who is looking at a page, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// What they may see.
    pub access: Access,
    /// The CSRF token their forms carry.
    pub csrf: String,
    /// Whether the buttons that change anything work for them.
    pub can_act: bool,
    /// Whether they signed in with a token (and may sign out).
    pub signed_in: bool,
}

impl Viewer {
    /// Whether the tenant `name` exists for them.
    pub fn sees(&self, name: &str) -> bool {
        self.access.sees(name)
    }

    /// Whether they see every tenant, the cluster included.
    pub fn is_operator(&self) -> bool {
        self.access == Access::Everything
    }

    /// Refuses a form without this session's CSRF token, or a viewer who
    /// may not act.
    pub fn check_form(&self, csrf: &str) -> Result<(), page::Refused> {
        if !bool::from(csrf.as_bytes().ct_eq(self.csrf.as_bytes())) {
            return Err(page::Refused::new(
                StatusCode::FORBIDDEN,
                "This form is stale or was not sent from this dashboard (its CSRF token does not match): reload the page and try again. Nothing was changed.",
            ));
        }
        if !self.can_act {
            return Err(page::Refused::new(
                StatusCode::FORBIDDEN,
                "This dashboard is read-only: no API token is configured, and [daemon.dashboard] actions_without_token is not set. Nothing was changed.",
            ));
        }
        Ok(())
    }
}

/// The session id the request's cookie carries.
fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && value.len() == 64)
        .map(|(_, value)| value.to_string())
        .filter(|value| value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the request came through HTTPS (a TLS-terminating proxy in
/// front of the daemon says so): the cookie is then `Secure`.
fn through_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// The `Set-Cookie` of session `id` (`None`: the cookie is cleared).
fn set_cookie(id: Option<&str>, headers: &HeaderMap) -> HeaderValue {
    let secure = if through_https(headers) {
        "; Secure"
    } else {
        ""
    };
    let value = match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).expect("a cookie of hex and ASCII")
}

/// Finds who is looking, for every page but sign-in and the assets: a
/// valid session, or (with no token configured) anyone, given an id for
/// their forms. Without one, the browser goes to the sign-in page.
pub async fn require_viewer(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let id = cookie_id(headers);
    if !auth::required(&state) {
        let (id, fresh) = match id {
            Some(id) => (id, false),
            None => (new_id(), true),
        };
        let viewer = Viewer {
            access: Access::Everything,
            csrf: csrf_of(&id),
            can_act: state.dashboard.settings.actions_without_token,
            signed_in: false,
        };
        let cookie = fresh.then(|| set_cookie(Some(&id), headers));
        request.extensions_mut().insert(viewer);
        let mut response = next.run(request).await;
        if let Some(cookie) = cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return response;
    }
    let session = id.as_deref().and_then(|id| {
        let session = state.dashboard.sessions.get(id)?;
        // The token signed in with must still be the one configured.
        let current = auth::current_digest(&state, &session.access)?;
        if !bool::from(current.ct_eq(&session.token)) {
            state.dashboard.sessions.end(id);
            return None;
        }
        Some(session)
    });
    let (Some(id), Some(session)) = (id, session) else {
        if request.method() == axum::http::Method::GET {
            return Redirect::to("/ui/sign-in").into_response();
        }
        return page::refusal(
            StatusCode::UNAUTHORIZED,
            "Your session has ended: sign in again. Nothing was changed.",
        );
    };
    request.extensions_mut().insert(Viewer {
        access: session.access,
        csrf: csrf_of(&id),
        can_act: true,
        signed_in: true,
    });
    next.run(request).await
}

/// `GET /ui/sign-in`.
pub async fn sign_in_page(State(state): State<AppState>) -> Response {
    if !auth::required(&state) {
        return Redirect::to("/ui/").into_response();
    }
    sign_in_form(StatusCode::OK, None)
}

fn sign_in_form(status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        section.sign-in aria-labelledby="sign-in-title" {
            h1 #sign-in-title { "Sign in to Cairn" }
            p { "Sign in with an API token: the operator's (" code { "[daemon] api_token" } ") shows every tenant and the cluster; a tenant's (" code { "[tenants.NAME] api_token" } ") shows that tenant only." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/ui/sign-in" {
                label for="token" { "API token" }
                input #token type="password" name="token" required autocomplete="off" autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    (status, page::bare("Sign in", body)).into_response()
}

/// The sign-in form's body.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /ui/sign-in`: a valid token starts a session.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !auth::required(&state) {
        return Redirect::to("/ui/").into_response();
    }
    let token = match &form {
        Ok(Form(form)) => form.token.trim(),
        Err(_) => "",
    };
    let Some(access) = (!token.is_empty())
        .then(|| auth::access_of(&state, token))
        .flatten()
    else {
        const MESSAGE: &str = "refused a dashboard sign-in: the token is no one's";
        if crate::daemon::server::WARNINGS.admit(MESSAGE, None) {
            tracing::warn!("{MESSAGE}");
        }
        return sign_in_form(
            StatusCode::UNAUTHORIZED,
            Some("That token is not valid for this daemon. Check it and try again."),
        );
    };
    let landing = match &access {
        Access::Everything => "/ui/".to_string(),
        Access::Tenant(name) => format!("/ui/tenants/{}", page::path_segment(name)),
    };
    let id = state.dashboard.sessions.start(access, auth::digest(token));
    let mut response = Redirect::to(&landing).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(Some(&id), &headers));
    response
}

/// A form that carries only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    /// The session's CSRF token (absent: refused like a wrong one).
    #[serde(default)]
    pub csrf: String,
}

/// `POST /ui/sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    axum::Extension(viewer): axum::Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    // Signing out needs no right to act, only the session's own form.
    let own_form = Viewer {
        can_act: true,
        ..viewer
    };
    if let Err(refused) = own_form.check_form(&form.csrf) {
        return refused.into_response();
    }
    if let Some(id) = cookie_id(&headers) {
        state.dashboard.sessions.end(&id);
    }
    let mut response = Redirect::to("/ui/sign-in").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(None, &headers));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_read_among_others_and_only_when_well_formed() {
        let id = "ab".repeat(32);
        let found = cookie_id(&headers(&[("cookie", &format!("x=1; {COOKIE}={id}; y=2"))]));
        assert_eq!(found.as_deref(), Some(id.as_str()));
        assert_eq!(
            cookie_id(&headers(&[("cookie", &format!("{COOKIE}=short"))])),
            None
        );
        let not_hex = "zz".repeat(32);
        assert_eq!(
            cookie_id(&headers(&[("cookie", &format!("{COOKIE}={not_hex}"))])),
            None
        );
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_https() {
        let plain = set_cookie(Some("ab"), &HeaderMap::new());
        let plain = plain.to_str().unwrap();
        assert!(
            plain.contains("HttpOnly") && plain.contains("SameSite=Strict"),
            "{plain}"
        );
        assert!(!plain.contains("Secure"), "{plain}");
        let https = set_cookie(Some("ab"), &headers(&[("x-forwarded-proto", "https")]));
        assert!(https.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        assert_eq!(csrf_of("one"), csrf_of("one"));
        assert_ne!(csrf_of("one"), csrf_of("two"));
    }

    #[test]
    fn a_form_needs_its_csrf_token_and_a_viewer_who_may_act() {
        let viewer = Viewer {
            access: Access::Everything,
            csrf: csrf_of("one"),
            can_act: true,
            signed_in: true,
        };
        assert!(viewer.check_form(&csrf_of("one")).is_ok());
        assert!(viewer.check_form(&csrf_of("two")).is_err());
        assert!(viewer.check_form("").is_err());
        let read_only = Viewer {
            can_act: false,
            ..viewer
        };
        let refused = read_only.check_form(&csrf_of("one")).unwrap_err();
        assert!(refused.message.contains("read-only"), "{}", refused.message);
    }

    #[test]
    fn sessions_past_the_cap_push_out_the_oldest() {
        let sessions = Sessions::default();
        let first = sessions.start(Access::Everything, [0; 32]);
        for _ in 1..MAX_SESSIONS {
            let _ = sessions.start(Access::Tenant("a".into()), [1; 32]);
        }
        assert!(sessions.get(&first).is_some());
        let _ = sessions.start(Access::Everything, [2; 32]);
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.get(&first).is_none(), "the oldest gave way");
    }
}
