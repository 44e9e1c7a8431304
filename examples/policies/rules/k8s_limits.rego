# Kubernetes Deployments set CPU and memory limits on every container.
package cairn.k8s_limits

import rego.v1

limited(container) if {
	container.resources.limits.cpu
	container.resources.limits.memory
}

deny contains finding if {
	some r in input.resources
	r.type == "object"
	r.spec.kind == "Deployment"
	some i, container in r.spec.spec.template.spec.containers
	not limited(container)
	finding := {
		"rule": "k8s-limits",
		"msg": sprintf("Deployment %s: container %s sets no CPU and memory limits", [r.spec.metadata.name, container.name]),
		"address": r.address,
		"field": sprintf("spec/template/spec/containers/%d/resources/limits", [i]),
		"help": "set resources.limits.cpu and resources.limits.memory",
	}
}
