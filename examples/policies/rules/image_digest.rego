# No container image without a digest: apps (`app`) and the containers of
# Kubernetes workloads (`object`) name their images `NAME@sha256:…`, so
# that what runs is exactly what was reviewed.
package cairn.image_digest

import rego.v1

pinned(image) if contains(image, "@sha256:")

deny contains finding if {
	some r in input.resources
	r.type == "app"
	not pinned(r.spec.image)
	finding := {
		"rule": "image-digest",
		"msg": sprintf("app %s runs %s, which has no digest", [r.spec.name, r.spec.image]),
		"address": r.address,
		"field": "image",
		"help": "pin the image by its digest: NAME@sha256:DIGEST",
	}
}

deny contains finding if {
	some r in input.resources
	r.type == "object"
	some i, container in r.spec.spec.template.spec.containers
	not pinned(container.image)
	finding := {
		"rule": "image-digest",
		"msg": sprintf("%s %s: container %s runs %s, which has no digest", [r.spec.kind, r.spec.metadata.name, container.name, container.image]),
		"address": r.address,
		"field": sprintf("spec/template/spec/containers/%d/image", [i]),
		"help": "pin the image by its digest: NAME@sha256:DIGEST",
	}
}
