//! The generated bindings of `cairn:provider@0.3.0`, the one place where
//! `wit-bindgen` runs. Provider authors never use these directly: the rest of
//! the SDK wraps them in plain Rust types.

wit_bindgen::generate!({
    path: "wit/provider@0.3.0",
    world: "cairn:provider/provider-plugin",
    pub_export_macro: true,
    export_macro_name: "__export_provider_plugin",
    default_bindings_module: "cairn_sdk::__private::bindings",
    runtime_path: "cairn_sdk::__private::wit_bindgen::rt",
    // The world's WASI imports are the `wasip2` crate's bindings, which
    // the SDK's HTTP client uses: one set of types for both.
    with: {
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:random/random@0.2.12": wasip2::random::random,
        "wasi:random/insecure@0.2.12": wasip2::random::insecure,
        "wasi:random/insecure-seed@0.2.12": wasip2::random::insecure_seed,
        "wasi:cli/stdin@0.2.12": wasip2::cli::stdin,
        "wasi:cli/stdout@0.2.12": wasip2::cli::stdout,
        "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
    },
});
