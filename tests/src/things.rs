//! The server of the unconverging test provider (`tests/plugins/
//! unconverging`): it keeps each thing as the provider applied it and
//! counts the writes of each, so that a test sees how often Cairn applied
//! a thing.

use crate::serve::Served;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What the server holds: the things by name, and the writes of each.
#[derive(Debug, Default)]
struct Store {
    things: Map<String, Value>,
    writes: BTreeMap<String, usize>,
}

/// A things server on a free loopback port, until dropped.
pub struct ThingsServer {
    /// `http://127.0.0.1:PORT`: the provider's `url` and network grant.
    pub url: String,
    store: Arc<Mutex<Store>>,
    _server: Served,
}

impl ThingsServer {
    /// Starts the server, empty.
    pub fn start() -> Self {
        use axum::extract::{Path, State};
        use axum::routing::get;
        let store: Arc<Mutex<Store>> = Arc::default();
        let state = store.clone();
        let server = Served::start(move || {
            axum::Router::new()
                .route(
                    "/things",
                    get(|State(store): State<Arc<Mutex<Store>>>| async move {
                        axum::Json(Value::Object(store.lock().expect("things").things.clone()))
                    }),
                )
                .route(
                    "/things/{name}",
                    axum::routing::put(
                        |State(store): State<Arc<Mutex<Store>>>,
                         Path(name): Path<String>,
                         axum::Json(thing): axum::Json<Value>| async move {
                            let mut store = store.lock().expect("things");
                            *store.writes.entry(name.clone()).or_default() += 1;
                            store.things.insert(name, thing);
                            "stored"
                        },
                    )
                    .delete(
                        |State(store): State<Arc<Mutex<Store>>>, Path(name): Path<String>| async move {
                            store.lock().expect("things").things.remove(&name);
                            "deleted"
                        },
                    ),
                )
                .with_state(state)
        });
        Self {
            url: server.base_url.clone(),
            store,
            _server: server,
        }
    }

    /// How many times the thing `name` was written (applied).
    pub fn writes(&self, name: &str) -> usize {
        self.store
            .lock()
            .expect("things")
            .writes
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    /// The thing `name` as stored.
    pub fn thing(&self, name: &str) -> Option<Value> {
        self.store.lock().expect("things").things.get(name).cloned()
    }

    /// The `[tenants.TENANT.providers.INSTANCE]` table of the provider,
    /// talking to this server.
    pub fn provider_table(&self, tenant: &str, instance: &str) -> String {
        format!(
            r#"
[tenants.{tenant}.providers.{instance}]
plugin = {plugin:?}
allow = [{url:?}]
memory = "32MiB"
config = {{ url = {url:?} }}
"#,
            plugin = crate::plugin_path("unconverging_provider")
                .display()
                .to_string(),
            url = self.url,
        )
    }
}
