# A plan that deletes more than `data.max_user_deletes` users (5 by
# default) is denied. Make this policy `soft-mandatory`: an operator lets
# an intended clean-up through with `cairn apply --override-policy ID
# --reason WHY`, which the history records.
package cairn.user_deletes

import rego.v1

max_deletes := object.get(data, "max_user_deletes", 5)

deleted contains change.address if {
	some change in input.plan.changes
	change.action == "delete"
	split(change.address, "/")[1] == "user"
}

deny contains finding if {
	count(deleted) > max_deletes
	finding := {
		"rule": "user-deletes",
		"msg": sprintf("the plan deletes %d users, more than %d: %s", [count(deleted), max_deletes, concat(", ", sort(deleted))]),
		"help": "if it is intended, an operator can apply it with --override-policy and a reason",
	}
}
