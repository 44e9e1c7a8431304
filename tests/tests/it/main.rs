//! Cairn's end-to-end tests, one test program: each module drives Cairn
//! as its operators do — the `cairn` command line, the daemon and its HTTP
//! API, the plugin host — against real servers (PowerDNS, PostgreSQL,
//! Canaille, podman, kube-apiserver) started on free loopback ports by the
//! harness (`cairn_tests`). One program links wasmtime and the harness
//! once, not once per file.
//!
//! Run one module with a filter: `cargo test -p cairn-tests --test it
//! daemon::`. The hostile-plugin suite is a test program of its own
//! (`--test hostile`): it measures a tenant's latency beside the attackers,
//! which other tests running beside it would disturb.

mod api_tokens;
mod apps_docker;
mod bad_input;
mod chaos_daemon;
mod chaos_docker;
mod cluster;
mod cluster_kubernetes;
mod contract_versions;
mod convergence;
mod crash;
mod daemon;
mod daemon_lifecycle;
mod dashboard;
mod dns_powerdns;
mod endpoint_limit;
mod git_source;
mod http_limits;
mod identity_scim;
mod incremental;
mod logging;
mod plugin_call;
mod plugin_kit;
mod plugin_kit_languages;
mod policies;
mod policy_kit;
mod previews;
mod quickstart;
mod refusals;
mod regressions;
mod run_slots;
mod sandbox;
mod sandbox_languages;
mod secrets;
mod sources;
mod store_backends;
mod tenant_input;
mod tenant_limits;
