;; A provider component, in the WebAssembly text format, whose `describe`
;; loops forever (every other function traps). It exports
;; cairn:provider/provider@0.1.0 with the contract's types, so it compiles,
;; links and type-checks like any provider; the host loads the text as is
;; (wasmtime's `wat` feature), so nothing has to be built. Its `describe`
;; cannot take a mode from config — it runs before `configure` — hence a
;; plugin of its own. Used by the daemon tests: a tenant whose plugin loops
;; while loading must not hold up the others.
;;
;; The record, enum and variant types are exported under their WIT names
;; before the functions that use them: a component may only export a
;; function whose types are named.
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "describe") (result i32) (loop $spin (br $spin)) unreachable)
    (func (export "configure") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "validate") (param i32 i32) (result i32) unreachable)
    (func (export "list") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "diff") (param i32 i32) (result i32) unreachable)
    (func (export "apply") (param i32 i32) (result i32) unreachable)
  )
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))

  (type $severity' (enum "error" "warning"))
  (export $severity "severity" (type $severity'))
  (type $diagnostic' (record (field "path" string) (field "severity" $severity) (field "message" string) (field "help" (option string))))
  (export $diagnostic "diagnostic" (type $diagnostic'))
  (type $resource-type' (record (field "name" string) (field "description" string) (field "schema" string) (field "identity" (list string)) (field "force-replace" (list string)) (field "sensitive" (list string))))
  (export $resource-type "resource-type" (type $resource-type'))
  (type $provider-info' (record (field "name" string) (field "version" string) (field "description" string) (field "resource-types" (list $resource-type)) (field "config-schema" string)))
  (export $provider-info "provider-info" (type $provider-info'))
  (type $secret' (record (field "name" string) (field "value" string)))
  (export $secret "secret" (type $secret'))
  (type $desired' (record (field "type-name" string) (field "spec" string)))
  (export $desired "desired" (type $desired'))
  (type $validation' (record (field "canonical" (option string)) (field "diagnostics" (list $diagnostic))))
  (export $validation "validation" (type $validation'))
  (type $scope' (record (field "type-names" (list string)) (field "ids" (list string))))
  (export $scope "scope" (type $scope'))
  (type $observed' (record (field "type-name" string) (field "id" string) (field "state" string)))
  (export $observed "observed" (type $observed'))
  (type $diff-input' (record (field "type-name" string) (field "id" string) (field "desired" (option string)) (field "observed" (option string)) (field "prior" (option string))))
  (export $diff-input "diff-input" (type $diff-input'))
  (type $action' (enum "no-op" "create" "update" "replace" "delete"))
  (export $action "action" (type $action'))
  (type $field-change' (record (field "path" string) (field "before" (option string)) (field "after" (option string)) (field "sensitive" bool)))
  (export $field-change "field-change" (type $field-change'))
  (type $change' (record (field "type-name" string) (field "id" string) (field "action" $action) (field "summary" string) (field "fields" (list $field-change)) (field "desired" (option string)) (field "observed" (option string))))
  (export $change "change" (type $change'))
  (type $error-kind' (enum "invalid" "unauthorized" "conflict" "not-found" "denied" "unavailable" "timeout" "internal"))
  (export $error-kind "error-kind" (type $error-kind'))
  (type $error' (record (field "kind" $error-kind) (field "message" string)))
  (export $error "error" (type $error'))
  (type $outcome' (variant (case "applied" (option string)) (case "failed" $error) (case "skipped" string)))
  (export $outcome "outcome" (type $outcome'))

  (func $describe (result $provider-info)
    (canon lift (core func $i "describe") (memory $mem) (realloc $realloc)))
  (func $configure (param "config" string) (param "secrets" (list $secret)) (result (result (error $error)))
    (canon lift (core func $i "configure") (memory $mem) (realloc $realloc)))
  (func $validate (param "resources" (list $desired)) (result (list $validation))
    (canon lift (core func $i "validate") (memory $mem) (realloc $realloc)))
  (func $list (param "scope" $scope) (result (result (list $observed) (error $error)))
    (canon lift (core func $i "list") (memory $mem) (realloc $realloc)))
  (func $diff (param "inputs" (list $diff-input)) (result (result (list $change) (error $error)))
    (canon lift (core func $i "diff") (memory $mem) (realloc $realloc)))
  (func $apply (param "changes" (list $change)) (result (list $outcome))
    (canon lift (core func $i "apply") (memory $mem) (realloc $realloc)))
  (instance $provider
    (export "describe" (func $describe))
    (export "configure" (func $configure))
    (export "validate" (func $validate))
    (export "list" (func $list))
    (export "diff" (func $diff))
    (export "apply" (func $apply))
  )
  (export "cairn:provider/provider@0.1.0" (instance $provider))
)
