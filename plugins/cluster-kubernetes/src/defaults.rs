//! Defaults the API server's own bugs require, written into a declared
//! object before it is planned or applied, as Flux does.
//!
//! Server-side apply merges lists of ports by their keys, and before
//! Kubernetes 1.22 `protocol` is one of those keys although the server
//! defaults it only after merging: an apply whose Service port or
//! container port omits `protocol` is refused ("associative list with keys
//! has an element that omits key field \"protocol\""), where `kubectl
//! apply` (a client-side merge) accepts it. Writing `protocol: TCP` — the
//! value the server would default — makes such manifests apply on every
//! version, and since the canonical spec carries it, the plan compares
//! like with like and an applied object re-plans empty.

use cairn_sdk::serde_json::Value;

/// The protocol the API server defaults a port to.
const DEFAULT_PROTOCOL: &str = "TCP";

/// Fills in the defaults `object` needs: `protocol` on a Service's ports
/// and on the ports of every container and init container of a Pod or of
/// a built-in workload's pod template. Other objects are left as they are.
pub fn fill(object: &mut Value) {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .rsplit_once('/')
        .map_or("", |(group, _)| group)
        .to_string();
    let pod_spec = match (group.as_str(), kind.as_str()) {
        ("", "Service") => {
            default_protocols(object.pointer_mut("/spec/ports"));
            return;
        }
        ("", "Pod") => "/spec",
        ("", "PodTemplate") => "/template/spec",
        ("", "ReplicationController") => "/spec/template/spec",
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            "/spec/template/spec"
        }
        ("batch", "Job") => "/spec/template/spec",
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => return,
    };
    let Some(spec) = object.pointer_mut(pod_spec) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        let containers = spec.get_mut(list).and_then(Value::as_array_mut);
        for container in containers.into_iter().flatten() {
            default_protocols(container.get_mut("ports"));
        }
    }
}

/// Sets `protocol` on each port of a list that does not say it.
fn default_protocols(ports: Option<&mut Value>) {
    let ports = ports.and_then(Value::as_array_mut);
    for port in ports.into_iter().flatten().filter_map(Value::as_object_mut) {
        port.entry("protocol")
            .or_insert_with(|| Value::String(DEFAULT_PROTOCOL.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    fn filled(mut object: Value) -> Value {
        fill(&mut object);
        object
    }

    #[test]
    fn service_ports_default_to_tcp_and_keep_what_they_say() {
        let service = filled(json!({"apiVersion": "v1", "kind": "Service",
            "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}}));
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}])
        );
    }

    #[test]
    fn container_and_init_container_ports_of_every_pod_template() {
        let pod = json!({
            "containers": [{"name": "a", "ports": [{"containerPort": 8080}]}, {"name": "b"}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 9000, "protocol": "SCTP"}, {"containerPort": 9001}]}]
        });
        let expected = json!({
            "containers": [{"name": "a", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}, {"name": "b"}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 9000, "protocol": "SCTP"}, {"containerPort": 9001, "protocol": "TCP"}]}]
        });
        let template = |pod: &Value| json!({"template": {"spec": pod}});
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Pod", "spec": pod}),
                "/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ReplicationController", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "v1", "kind": "PodTemplate", "template": {"spec": pod}}),
                "/template/spec",
            ),
            (
                json!({"apiVersion": "batch/v1", "kind": "Job", "spec": template(&pod)}),
                "/spec/template/spec",
            ),
            (
                json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": template(&pod)}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
        ];
        for (object, at) in cases {
            let kind = object["kind"].clone();
            assert_eq!(filled(object).pointer(at), Some(&expected), "{kind}");
        }
    }

    #[test]
    fn custom_kinds_and_other_groups_are_left_alone() {
        let custom = json!({"apiVersion": "example.org/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1}]}]}}}});
        assert_eq!(filled(custom.clone()), custom);
        let service = json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
            "spec": {"ports": [{"port": 80}]}});
        assert_eq!(filled(service.clone()), service);
        let odd = json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": "none"}});
        assert_eq!(filled(odd.clone()), odd);
    }
}
