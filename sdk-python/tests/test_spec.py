"""Checking specs against the subset of JSON Schema providers use."""

import unittest

from cairn_provider import ErrorKind, ProviderError
from cairn_provider.spec import UNKNOWN_FIELD_HELP, check, checked

ENTRY = {
    "type": "object",
    "properties": {"key": {"type": "string", "minLength": 1}, "value": {"type": "string"}},
    "required": ["key", "value"],
    "additionalProperties": False,
}

GROUP = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "members": {"type": "array", "items": {"type": "string", "enum": ["alan", "grace", "ada"]}},
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "weight": {"type": "number"},
        "open": {"type": "boolean"},
        "owner": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "additionalProperties": False,
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


def shown(problems):
    """`(path, message)` of each problem."""
    return [(p.path, p.message) for p in problems]


class CheckTest(unittest.TestCase):
    """Specs against schemas: each problem with its field's path."""

    def test_a_good_spec_has_no_problems(self):
        self.assertEqual(check({"key": "k", "value": "v"}, ENTRY), [])

    def test_unknown_and_missing_fields_are_named(self):
        problems = check({"key": "typo", "valeu": "misspelt"}, ENTRY)
        self.assertEqual(
            shown(problems),
            [("valeu", "unknown field `valeu`: expected one of key, value"), ("", "missing field `value`")],
        )
        self.assertEqual(problems[0].help, UNKNOWN_FIELD_HELP)

    def test_paths_reach_into_arrays_and_objects(self):
        spec = {"name": "g", "members": ["alan", "grace", "bob"], "owner": {"nmae": "x"}}
        self.assertEqual(
            shown(check(spec, GROUP)),
            [
                ("members/2", "unknown value `bob`: expected one of alan, grace, ada"),
                ("owner/nmae", "unknown field `nmae`: expected one of name"),
            ],
        )

    def test_types_are_json_types(self):
        spec = {"name": 5, "size": True, "weight": "heavy", "open": 1}
        self.assertEqual(
            shown(check(spec, GROUP)),
            [
                ("name", "invalid type: integer `5`, expected a string"),
                ("size", "invalid type: boolean `true`, expected an integer"),
                ("weight", 'invalid type: string "heavy", expected a number'),
                ("open", "invalid type: integer `1`, expected a boolean"),
            ],
        )
        self.assertEqual(shown(check({"name": "g", "size": 2.0}, GROUP)), [("size", "invalid type: number `2.0`, expected an integer")])
        self.assertEqual(check({"name": "g", "weight": 2}, GROUP), [])

    def test_bounds(self):
        self.assertEqual(shown(check({"name": "g", "size": 0}, GROUP)), [("size", "0 must be at least 1")])
        self.assertEqual(shown(check({"name": "g", "size": 11}, GROUP)), [("size", "11 must be at most 10")])
        self.assertEqual(shown(check({"key": "", "value": "v"}, ENTRY)), [("key", "must not be empty")])

    def test_a_spec_that_is_no_object(self):
        self.assertEqual(shown(check(["a"], ENTRY)), [("", "invalid type: an array, expected an object")])

    def test_keywords_outside_the_subset_are_not_checked(self):
        schema = {"type": "string", "pattern": "^[a-z]+$"}
        self.assertEqual(check("ABC", schema), [])


class CheckedTest(unittest.TestCase):
    """Configurations against their schema, as errors."""

    def test_a_wrong_config_is_invalid_with_each_problem(self):
        schema = {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"], "additionalProperties": False}
        self.assertEqual(checked({"url": "http://x"}, schema), {"url": "http://x"})
        with self.assertRaises(ProviderError) as raised:
            checked({"ulr": "http://x"}, schema)
        self.assertIs(raised.exception.kind, ErrorKind.INVALID)
        self.assertEqual(
            raised.exception.message,
            "config `ulr`: unknown field `ulr`: expected one of url; config: missing field `url`",
        )


if __name__ == "__main__":
    unittest.main()
