# No TTL under `data.min_ttl` seconds (300 by default) in the production
# zones (`data.production_zones`); elsewhere such a TTL is a warning.
package cairn.dns_min_ttl

import rego.v1

min_ttl := object.get(data, "min_ttl", 300)

in_zone(name, zone) if name == zone

in_zone(name, zone) if endswith(name, concat("", [".", zone]))

production(name) if {
	some zone in data.production_zones
	in_zone(name, zone)
}

deny contains finding if {
	some r in input.resources
	r.type == "record"
	production(r.spec.name)
	r.spec.ttl < min_ttl
	finding := {
		"rule": "dns-min-ttl",
		"msg": sprintf("%s %s has a TTL of %d s, under %d s in a production zone", [r.spec.name, r.spec.type, r.spec.ttl, min_ttl]),
		"address": r.address,
		"field": "ttl",
		"help": sprintf("raise ttl to %d or more (%s, line %d)", [min_ttl, r.file, r.line]),
	}
}

warn contains finding if {
	some r in input.resources
	r.type == "record"
	not production(r.spec.name)
	r.spec.ttl < min_ttl
	finding := {
		"rule": "dns-low-ttl",
		"msg": sprintf("%s %s has a TTL of %d s", [r.spec.name, r.spec.type, r.spec.ttl]),
		"address": r.address,
		"field": "ttl",
	}
}
