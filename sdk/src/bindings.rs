//! The generated bindings of `cairn:provider@0.2.0`, the one place where
//! `wit-bindgen` runs. Provider authors never use these directly: the rest of
//! the SDK wraps them in plain Rust types.

wit_bindgen::generate!({
    path: "wit/provider@0.2.0",
    world: "cairn:provider/provider-plugin",
    pub_export_macro: true,
    export_macro_name: "__export_provider_plugin",
    default_bindings_module: "cairn_sdk::__private::bindings",
    runtime_path: "cairn_sdk::__private::wit_bindgen::rt",
});
