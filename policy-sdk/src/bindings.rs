//! The generated bindings of `cairn:policy@0.1.0`, the one place where
//! `wit-bindgen` runs. Policy authors never use these directly.

wit_bindgen::generate!({
    path: "wit/policy@0.1.0",
    world: "cairn:policy/policy-plugin",
    pub_export_macro: true,
    export_macro_name: "__export_policy_plugin",
    default_bindings_module: "cairn_policy_sdk::__private::bindings",
    runtime_path: "cairn_policy_sdk::__private::wit_bindgen::rt",
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
