//! What Cairn writes to its log stays bounded whatever a plugin or the
//! operator's filter asks: a plugin's log fields share a per-record budget,
//! a call's warnings about its requests are counted past a few,
//! and `CAIRN_LOG=trace` does not let the WebAssembly engine write its own
//! trace of every compile.

use cairn_tests::Workspace;
use cairn_tests::cairn::config_header;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// `cairn.toml` with the hostile plugin in `mode` as the only tenant, and
/// compiled plugins kept in `cache` (the shared test cache when `None`).
fn configure(ws: &Workspace, mode: &str, cache: Option<&std::path::Path>) {
    configure_with_target(ws, mode, cache, "");
}

/// [`configure`], the plugin sending to `target`, which it is granted.
fn configure_with_target(
    ws: &Workspace,
    mode: &str,
    cache: Option<&std::path::Path>,
    target: &str,
) {
    let header = match cache {
        Some(cache) => format!(
            "state = \"sqlite:.cairn/state.db\"\ncache_dir = {:?}\n",
            cache.display().to_string()
        ),
        None => config_header(),
    };
    let config = format!(
        "{header}\n[tenants.default]\nrepo = {repo:?}\npath = \".\"\n\n[tenants.default.providers.hostile]\nplugin = {plugin:?}\nallow = [{allow}]\nmemory = \"128MiB\"\nconfig = {{ mode = {mode:?}, target = {target:?} }}\n",
        allow = if target.is_empty() {
            String::new()
        } else {
            format!("{target:?}")
        },
        repo = ws.repo.path().display().to_string(),
        plugin = cairn_tests::plugin_path("hostile_provider")
            .display()
            .to_string(),
    );
    std::fs::write(ws.config_path(), config).expect("write cairn.toml");
    ws.repo
        .write("thing.toml", "[[hostile.thing]]\nname = \"bait\"\n");
    ws.repo.commit("bait", AUTHOR);
}

#[test]
fn a_plugins_log_fields_are_cut_to_their_budget() {
    use cairn::host::limits::MAX_LOG_FIELDS_BYTES;
    let ws = Workspace::new();
    configure(&ws, "log-fields", None);
    // 200 records, each with a 1 MiB field: 200 MiB if written whole.
    let output = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "info")]);
    output.expect_code(2);
    let records = output
        .stderr
        .lines()
        .filter(|line| line.contains("fields"))
        .count();
    assert_eq!(
        records,
        200,
        "{}",
        &output.stderr[..2000.min(output.stderr.len())]
    );
    let longest = output.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest < MAX_LOG_FIELDS_BYTES + 1024,
        "a log line of {longest} bytes"
    );
}

#[test]
fn tracing_cairn_does_not_trace_the_engine() {
    let ws = Workspace::new();
    // An empty cache: the plugin is compiled by this very command.
    let cache = ws.path().join("fresh-cache");
    configure(&ws, "well", Some(&cache));
    let output = ws.cairn_env(&["validate"], &[("CAIRN_LOG", "trace")]);
    output.expect_code(0);
    assert!(
        cache
            .read_dir()
            .is_ok_and(|mut entries| entries.next().is_some()),
        "the plugin was not compiled into the fresh cache"
    );
    // Cairn's own trace of a one-file validate is a few KiB; the engine's
    // trace of one compile is gigabytes.
    assert!(
        output.stderr.len() < 1 << 20,
        "validate at CAIRN_LOG=trace wrote {} bytes of log",
        output.stderr.len()
    );
}

#[test]
fn a_streamed_body_cut_at_its_cap_is_logged_with_the_limit() {
    let ws = Workspace::new();
    let server = cairn_tests::serve::Served::start(|| {
        axum::Router::new()
            .route(
                "/sink",
                axum::routing::post(
                    |body: axum::body::Bytes| async move { body.len().to_string() },
                ),
            )
            .layer(axum::extract::DefaultBodyLimit::disable())
    });
    configure_with_target(&ws, "big-stream", None, &server.base_url);
    let output = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "warn")]);
    output.expect_code(1);
    output.expect_contains("HttpRequestBodySize");
    output.expect_contains(&format!(
        "its streamed body went over {} bytes",
        cairn::host::limits::MAX_HTTP_REQUEST_BYTES
    ));
    output.expect_contains("tenant=default");
}

#[test]
fn a_call_writes_a_bounded_number_of_warnings_about_its_requests() {
    use cairn::host::limits::MAX_REQUEST_WARNINGS_PER_CALL;
    let ws = Workspace::new();
    let server = cairn_tests::serve::Served::start(|| {
        axum::Router::new().route("/", axum::routing::get(|| async { "ok" }))
    });
    // 2,000 requests at once: all but the 16 the gate lets be open are
    // refused, each a warning if nothing bounded them.
    configure_with_target(&ws, "flood", None, &server.base_url);
    let output = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "warn")]);
    output.expect_code(1);
    let refusals = output
        .stderr
        .lines()
        .filter(|line| line.contains("refused a plugin's HTTP request"))
        .count();
    assert_eq!(
        refusals,
        MAX_REQUEST_WARNINGS_PER_CALL,
        "{}",
        &output.stderr[..2000.min(output.stderr.len())]
    );
    output.expect_contains(&format!(
        "more warnings about this call's requests were not written: a call writes at most {MAX_REQUEST_WARNINGS_PER_CALL}"
    ));
}
