//! A SCIM 2.0 client (RFC 7644): authentication, discovery, paged
//! listing, lookup by filter and requests with `If-Match`.

use crate::auth::Auth;
use crate::schema::{Catalog, Features};
use cairn_sdk::http::{Client, Method, Response};
use cairn_sdk::{Error, ErrorKind, log};
use serde::Deserialize;
use serde_json::Value;
use std::cell::OnceCell;

/// The media type of SCIM messages (RFC 7644 §3.1).
const SCIM_JSON: &str = "application/scim+json";

/// Pages read before a listing is abandoned: a server whose paging never
/// ends must not hold the call until its deadline.
const MAX_PAGES: u64 = 10_000;

/// What the server supports, learnt once per call.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Its features.
    pub features: Features,
    /// Its attributes and endpoints.
    pub catalog: Catalog,
}

/// A connection to one SCIM service.
pub struct Scim {
    http: Client,
    base_url: String,
    auth: Auth,
    page_size: Option<u64>,
    discovery: OnceCell<Discovery>,
    /// Each discovery document, asked for once per call and only by what
    /// needs it: a listing needs the endpoints alone, a comparison the
    /// attributes too (`/Schemas` is the largest: 27 KB from Canaille).
    documents: [OnceCell<Option<Value>>; 3],
}

/// The discovery documents (RFC 7644 §4), in the order of
/// `Scim::documents`.
const DOCUMENTS: [&str; 3] = ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"];

/// Where `/ServiceProviderConfig` is in [`DOCUMENTS`].
const CONFIG: usize = 0;
/// Where `/ResourceTypes` is in [`DOCUMENTS`].
const RESOURCE_TYPES: usize = 1;
/// Where `/Schemas` is in [`DOCUMENTS`].
const SCHEMAS: usize = 2;

/// A page of a list answer (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    #[serde(default)]
    total_results: Option<u64>,
    #[serde(default, rename = "Resources")]
    resources: Vec<Value>,
}

impl Scim {
    /// A client of the service at `base_url` (`https://idp/scim/v2`).
    pub fn new(base_url: &str, auth: Auth, page_size: Option<u64>) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        Self {
            http: Client::new(&base_url)
                .with_header("accept", &format!("{SCIM_JSON}, application/json")),
            base_url,
            auth,
            page_size,
            discovery: OnceCell::new(),
            documents: Default::default(),
        }
    }

    /// The absolute URL of `path`, for `$ref`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request with the bearer token, once more with a new token
    /// when the server says the token is no longer good.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Response, Error> {
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|error| Error::internal(format!("cannot encode JSON: {error}")))?;
        let mut fresh_token = false;
        loop {
            let mut client = self
                .http
                .clone()
                .with_header("authorization", &self.auth.header(fresh_token)?);
            if let Some(etag) = if_match {
                client = client.with_header("if-match", etag);
            }
            let response =
                client.send(method, path, bytes.clone().map(|bytes| (SCIM_JSON, bytes)))?;
            if response.status == 401 && !fresh_token && self.auth.renewable() {
                fresh_token = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// Sends a request and returns its 2xx answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Response, Error> {
        self.send(method, path, body, if_match)?
            .error_for_status(&format!("{method} {path}"))
    }

    /// The server's features and attributes, asked once per call.
    pub fn discovery(&self) -> Result<&Discovery, Error> {
        if let Some(discovery) = self.discovery.get() {
            return Ok(discovery);
        }
        let features = self.features()?;
        let catalog = self.catalog()?;
        log::debug(
            "learnt what the SCIM server supports",
            &[
                ("patch", &features.patch.to_string()),
                ("filter", &features.filter.to_string()),
                ("etag", &features.etag.to_string()),
                ("bulk", &features.bulk.to_string()),
                ("users", &catalog.users_endpoint),
                ("groups", &catalog.groups_endpoint),
            ],
        );
        Ok(self
            .discovery
            .get_or_init(|| Discovery { features, catalog }))
    }

    /// The server's features (`/ServiceProviderConfig` alone).
    fn features(&self) -> Result<Features, Error> {
        Ok(self
            .document(CONFIG)?
            .map(Features::from_config)
            .unwrap_or_default())
    }

    /// The server's endpoints and attributes (`/ResourceTypes` and
    /// `/Schemas`).
    pub fn catalog(&self) -> Result<Catalog, Error> {
        Ok(Catalog::from_documents(
            self.document(RESOURCE_TYPES)?,
            self.document(SCHEMAS)?,
        ))
    }

    /// The server's endpoints, without its attributes (`/ResourceTypes`
    /// alone): what a listing needs.
    pub fn endpoints(&self) -> Result<Catalog, Error> {
        Ok(Catalog::from_documents(
            self.document(RESOURCE_TYPES)?,
            None,
        ))
    }

    /// One discovery document, asked for once per call.
    fn document(&self, index: usize) -> Result<Option<&Value>, Error> {
        if let Some(document) = self.documents[index].get() {
            return Ok(document.as_ref());
        }
        let document = self.optional(DOCUMENTS[index])?;
        Ok(self.documents[index].get_or_init(|| document).as_ref())
    }

    /// A discovery document, or `None` when the server has none (404).
    fn optional(&self, path: &str) -> Result<Option<Value>, Error> {
        let response = self.send(Method::GET, path, None, None)?;
        if response.status == 404 || response.status == 501 {
            return Ok(None);
        }
        let response = response.error_for_status(&format!("GET {path}"))?;
        response.json().map(Some)
    }

    /// Every resource of `endpoint`, page by page. Without a configured
    /// page size the server picks its own (RFC 7644 §3.4.2.4 makes `count`
    /// optional, and Canaille fails on it).
    pub fn list_all(&self, endpoint: &str) -> Result<Vec<Value>, Error> {
        let count = match self.page_size {
            Some(size) => Some(
                self.features()?
                    .max_results
                    .filter(|max| *max > 0)
                    .map_or(size, |max| max.min(size)),
            ),
            None => None,
        };
        let mut all = Vec::new();
        let mut start = 1;
        for _ in 0..MAX_PAGES {
            let path = match count {
                Some(count) => format!("{endpoint}?startIndex={start}&count={count}"),
                None => format!("{endpoint}?startIndex={start}"),
            };
            let page: ListResponse = self.call(Method::GET, &path, None, None)?.json()?;
            let got = page.resources.len() as u64;
            all.extend(page.resources);
            let total = page.total_results.unwrap_or(0);
            if got == 0 || all.len() as u64 >= total {
                return Ok(all);
            }
            start += got;
        }
        Err(Error::new(
            ErrorKind::Internal,
            format!("{endpoint} listed more than {MAX_PAGES} pages; its paging looks broken"),
        ))
    }

    /// The resources of `endpoint` whose `attribute` equals `value`, found
    /// by filter (RFC 7644 §3.4.2.2).
    pub fn find(&self, endpoint: &str, attribute: &str, value: &str) -> Result<Vec<Value>, Error> {
        let filter = format!("{attribute} eq \"{}\"", value.replace('"', "\\\""));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .finish();
        let page: ListResponse = self
            .call(Method::GET, &format!("{endpoint}?{query}"), None, None)?
            .json()?;
        Ok(page.resources)
    }
}
