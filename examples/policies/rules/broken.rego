# A rule file with a syntax error, for the tests: the brace of the rule is
# never closed, so the policy cannot evaluate and the plan is blocked.
package cairn.broken

import rego.v1

deny contains msg if {
	input.tenant == "web"
	msg := "never reached"
