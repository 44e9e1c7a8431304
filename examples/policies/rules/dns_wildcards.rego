# No wildcard DNS record (`*.…`) outside the zones that allow them
# (`data.wildcard_zones`).
package cairn.dns_wildcards

import rego.v1

allowed(name) if {
	some zone in data.wildcard_zones
	endswith(name, concat("", [".", zone]))
}

deny contains finding if {
	some r in input.resources
	r.type == "record"
	startswith(r.spec.name, "*.")
	not allowed(r.spec.name)
	finding := {
		"rule": "dns-wildcard",
		"msg": sprintf("%s is a wildcard record outside the zones that allow them", [r.spec.name]),
		"address": r.address,
		"field": "name",
		"help": sprintf("name the hosts one by one, or ask for the zone to be added to wildcard_zones (%s, line %d)", [r.file, r.line]),
	}
}
