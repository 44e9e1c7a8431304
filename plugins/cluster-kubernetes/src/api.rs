//! Requests to the Kubernetes API server and its errors.

use cairn_sdk::http::{Client, Method, Request, Response};
use cairn_sdk::serde_json::{self, Value};
use cairn_sdk::{Error, ErrorKind};

/// The field manager Cairn applies as.
pub const FIELD_MANAGER: &str = "cairn";

/// Objects asked for per page of a list: large enough that a namespace's
/// objects of one kind usually come in one answer, small enough to keep
/// each answer's memory modest.
const LIST_PAGE: usize = 500;

/// The answer a metadata-only list asks for: each object's name, labels
/// and annotations, not its contents (a Secret's data stays on the
/// server), in far fewer bytes.
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// Why a request failed, with what the server said.
#[derive(Debug)]
pub struct Failure {
    /// The error to report.
    pub error: Error,
    /// The HTTP status, 0 when the server was not reached.
    pub status: u16,
    /// For a 409 of server-side apply: the field managers that own the
    /// conflicting fields.
    pub conflicting_managers: Vec<String>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            status: 0,
            conflicting_managers: Vec::new(),
        }
    }
}

/// A client for one API server, authenticated by a bearer token.
pub struct Api {
    client: Client,
    /// The same, asking lists for their objects' metadata only.
    metadata: Client,
}

impl Api {
    /// A client for `url` with `token`.
    pub fn new(url: &str, token: &str) -> Self {
        let authorization = format!("Bearer {token}");
        Self {
            client: Client::new(url)
                .with_header("authorization", &authorization)
                .with_header("accept", "application/json"),
            metadata: Client::new(url)
                .with_header("authorization", &authorization)
                .with_header("accept", METADATA_LIST),
        }
    }

    /// GETs `path`; `None` when it does not exist.
    pub fn get(&self, path: &str) -> Result<Option<Value>, Error> {
        one(self.get_all(&[path.to_string()]))
    }

    /// [`Api::get`] of each of `paths`, sent side by side; the answers in
    /// `paths`' order.
    pub fn get_all(&self, paths: &[String]) -> Vec<Result<Option<Value>, Error>> {
        let requests = paths
            .iter()
            .map(|path| Request::new(Method::GET, path.clone()))
            .collect();
        self.client
            .send_all(requests)
            .into_iter()
            .zip(paths)
            .map(|(response, path)| {
                let response = response?;
                if response.status == 404 {
                    return Ok(None);
                }
                Ok(Some(checked(response, "GET", path).map_err(|f| f.error)?))
            })
            .collect()
    }

    /// Lists `path` with a label selector, every page; each item gets the
    /// `apiVersion` and `kind` a list leaves out.
    pub fn list(
        &self,
        path: &str,
        selector: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<Vec<Value>, Error> {
        one(self.list_all(&[Selected {
            path,
            selector,
            api_version,
            kind,
        }]))
    }

    /// [`Api::list`] of each of `lists`, their first pages asked side by
    /// side; the answers in `lists`' order.
    pub fn list_all(&self, lists: &[Selected<'_>]) -> Vec<Result<Vec<Value>, Error>> {
        let paged: Vec<Paged> = lists
            .iter()
            .map(|list| (list.path, Some(list.selector), usize::MAX))
            .collect();
        self.pages_all(&self.client, &paged)
            .into_iter()
            .zip(lists)
            .map(|(items, list)| {
                let mut items = items?.unwrap_or_default();
                for item in &mut items {
                    item["apiVersion"] = Value::String(list.api_version.to_string());
                    item["kind"] = Value::String(list.kind.to_string());
                }
                Ok(items)
            })
            .collect()
    }

    /// The metadata of every object of each `(path, max_pages)`: which
    /// objects exist, and their labels and annotations (one request where
    /// a GET per object would take many), the first pages asked side by
    /// side. `None` for a path whose list would take more than its
    /// `max_pages` pages.
    pub fn list_metadata_all(
        &self,
        collections: &[(&str, usize)],
    ) -> Vec<Result<Option<Vec<Value>>, Error>> {
        let paged: Vec<Paged> = collections
            .iter()
            .map(|(path, max_pages)| (*path, None, *max_pages))
            .collect();
        self.pages_all(&self.metadata, &paged)
    }

    /// The items of every page of each list, the first pages side by
    /// side, the rest of a list (past [`LIST_PAGE`] objects, rare) one
    /// after the other; `None` for a list of more pages than its most.
    fn pages_all(
        &self,
        client: &Client,
        lists: &[Paged],
    ) -> Vec<Result<Option<Vec<Value>>, Error>> {
        let first_pages = lists
            .iter()
            .filter(|(_, _, max_pages)| *max_pages > 0)
            .map(|(path, selector, _)| Request::new(Method::GET, page_url(path, *selector, "")))
            .collect();
        let mut answers = client.send_all(first_pages).into_iter();
        lists
            .iter()
            .map(|(path, selector, max_pages)| {
                if *max_pages == 0 {
                    return Ok(None);
                }
                let response = answers.next().expect("one answer per first page")?;
                let mut items = Vec::new();
                let mut page = checked(response, "GET", path).map_err(|f| f.error)?;
                for pages in 1.. {
                    if let Some(Value::Array(found)) = page.get_mut("items").map(Value::take) {
                        items.extend(found);
                    }
                    let token = page
                        .pointer("/metadata/continue")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if token.is_empty() {
                        break;
                    }
                    if pages >= *max_pages {
                        return Ok(None);
                    }
                    let url = page_url(path, *selector, token);
                    let response = client.send(Method::GET, &url, None)?;
                    page = checked(response, "GET", path).map_err(|f| f.error)?;
                }
                Ok(Some(items))
            })
            .collect()
    }

    /// Server-side applies `object` at `path` (the object's own path), as
    /// field manager `cairn`; `dry_run` asks what would result.
    pub fn apply(
        &self,
        path: &str,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, Failure> {
        let request = apply_request(path, object, force, dry_run)?;
        let (content_type, bytes) = request.body.expect("an apply has a body");
        let response =
            self.client
                .send(request.method, &request.path, Some((&content_type, bytes)))?;
        checked(response, apply_what(dry_run), path)
    }

    /// Server-side applies each `(path, object)` as [`Api::apply`] does,
    /// without `force`, sent side by side; the answers in `objects`' order.
    pub fn apply_all(
        &self,
        objects: &[(&str, &Value)],
        dry_run: bool,
    ) -> Vec<Result<Value, Failure>> {
        let mut answers: Vec<Option<Result<Value, Failure>>> = Vec::with_capacity(objects.len());
        let mut requests = Vec::with_capacity(objects.len());
        for (path, object) in objects {
            match apply_request(path, object, false, dry_run) {
                Ok(request) => {
                    requests.push(request);
                    answers.push(None);
                }
                Err(failure) => answers.push(Some(Err(failure))),
            }
        }
        let mut responses = self.client.send_all(requests).into_iter();
        answers
            .into_iter()
            .zip(objects)
            .map(|(answer, (path, _))| {
                answer.unwrap_or_else(|| {
                    let response = responses.next().expect("one response per request")?;
                    checked(response, apply_what(dry_run), path)
                })
            })
            .collect()
    }

    /// Deletes the object at `path`; gone already is success.
    pub fn delete(&self, path: &str) -> Result<(), Error> {
        let body = serde_json::to_vec(&serde_json::json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }))
        .map_err(|e| Error::internal(e.to_string()))?;
        let response = self
            .client
            .send(Method::DELETE, path, Some(("application/json", body)))?;
        if response.status == 404 {
            return Ok(());
        }
        checked(response, "DELETE", path)
            .map(|_| ())
            .map_err(|f| f.error)
    }
}

/// The request of a server-side apply of `object` at `path`.
fn apply_request(
    path: &str,
    object: &Value,
    force: bool,
    dry_run: bool,
) -> Result<Request, Failure> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("fieldManager", FIELD_MANAGER);
    if force {
        query.append_pair("force", "true");
    }
    if dry_run {
        query.append_pair("dryRun", "All");
    }
    // JSON is YAML, which is what apply patches are.
    let body = serde_json::to_vec(object).map_err(|e| Error::internal(e.to_string()))?;
    Ok(
        Request::new(Method::PATCH, format!("{path}?{}", query.finish()))
            .with_body("application/apply-patch+yaml", body),
    )
}

/// One list of [`Api::pages_all`]: its path, its label selector, the
/// most pages to read.
type Paged<'a> = (&'a str, Option<&'a str>, usize);

/// One label-selected list of [`Api::list_all`].
pub struct Selected<'a> {
    /// The collection's path.
    pub path: &'a str,
    /// The label selector.
    pub selector: &'a str,
    /// The `apiVersion` its items get.
    pub api_version: &'a str,
    /// The `kind` its items get.
    pub kind: &'a str,
}

/// The only answer of a call made for one.
pub fn one<T>(answers: Vec<T>) -> T {
    answers.into_iter().next().expect("one answer per request")
}

/// The URL of one page of a list of `path`: `token` continues a list
/// (empty for its first page).
fn page_url(path: &str, selector: Option<&str>, token: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(selector) = selector {
        query.append_pair("labelSelector", selector);
    }
    query.append_pair("limit", &LIST_PAGE.to_string());
    if !token.is_empty() {
        query.append_pair("continue", token);
    }
    format!("{path}?{}", query.finish())
}

/// What an apply is called in its errors.
fn apply_what(dry_run: bool) -> &'static str {
    if dry_run { "dry-run apply" } else { "apply" }
}

/// The answer's JSON when it is 2xx; otherwise an error carrying the
/// server's own message (a `Status` object's `message`).
fn checked(response: Response, what: &str, path: &str) -> Result<Value, Failure> {
    if (200..300).contains(&response.status) {
        return response.json().map_err(Failure::from);
    }
    let status: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let message = status
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| response.text().chars().take(500).collect());
    let kind = match response.status {
        400 | 422 => ErrorKind::Invalid,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        408 | 504 => ErrorKind::Timeout,
        429 | 500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    let advice = match response.status {
        401 => " (check the provider's `token` secret)",
        403 => " (the token's RBAC role does not allow this)",
        _ => "",
    };
    Err(Failure {
        error: Error::new(
            kind,
            format!(
                "{what} {path} answered {}: {message}{advice}",
                response.status
            ),
        ),
        status: response.status,
        conflicting_managers: if response.status == 409 {
            conflicting_managers(&message)
        } else {
            Vec::new()
        },
    })
}

/// The managers a server-side apply conflict names: `conflict with
/// "kubectl-edit" using v1: .data.key`.
fn conflicting_managers(message: &str) -> Vec<String> {
    let mut managers: Vec<String> = message
        .split("conflict with \"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_string()))
        .collect();
    managers.sort();
    managers.dedup();
    managers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_messages_name_their_managers() {
        let message = "Apply failed with 2 conflicts: conflict with \"kubectl-edit\" using v1: .data.a\nconflict with \"other\" using v1: .data.b\nconflict with \"other\" using v1: .data.c";
        assert_eq!(conflicting_managers(message), vec!["kubectl-edit", "other"]);
        assert!(conflicting_managers("Operation cannot be fulfilled").is_empty());
    }
}
