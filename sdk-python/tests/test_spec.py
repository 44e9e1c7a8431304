"""Checking specs against the subset of JSON Schema providers use."""

import random
import unittest

from cairn_provider import ErrorKind, ProviderError
from cairn_provider.spec import UNKNOWN_FIELD_HELP, _check, check, checked, conforms

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


def walked(value, schema):
    """The problems the walk of `check` finds, without the compiled test;
    the exception it raises, if any."""
    problems = []
    try:
        _check(value, schema, "", problems)
    except Exception as error:  # noqa: BLE001
        return error
    return problems


class CompiledTest(unittest.TestCase):
    """The compiled test of a schema passes exactly the values the walk
    finds nothing wrong with."""

    TYPES = ["string", "integer", "number", "boolean", "null", "object", "array", "widget"]
    KEYS = ["a", "b", "c"]

    def schema(self, rng, depth=0):
        if depth > 2 or rng.random() < 0.1:
            return rng.choice([True, False, {}, {"type": rng.choice(self.TYPES)}])
        schema = {}
        if rng.random() < 0.7:
            schema["type"] = [rng.choice(self.TYPES), rng.choice(self.TYPES)] if rng.random() < 0.3 else rng.choice(self.TYPES)
        if rng.random() < 0.1:
            schema["const"] = rng.choice(["x", 1, 1.0, True, None, {"a": 1}])
        if rng.random() < 0.15:
            schema["enum"] = [rng.choice(["x", "é😀", 1, 2.5, None, True]), rng.choice([{"a": 1}, [1], "y"])]
        for keyword, choices in (
            ("minLength", [0, 1, 2, 3, True]),
            ("maxLength", [0, 1, 2, 4]),
            ("minimum", [-1, 0, 1.5]),
            ("maximum", [0, 2, 10]),
            ("exclusiveMinimum", [0, 1]),
            ("exclusiveMaximum", [2, 10.5]),
            ("minItems", [0, 1, 2]),
            ("maxItems", [0, 1, 3]),
        ):
            if rng.random() < 0.15:
                schema[keyword] = rng.choice(choices)
        if rng.random() < 0.3:
            schema["items"] = self.schema(rng, depth + 1)
        if rng.random() < 0.5:
            schema["properties"] = {key: self.schema(rng, depth + 1) for key in self.KEYS if rng.random() < 0.5}
        if rng.random() < 0.3:
            schema["additionalProperties"] = False if rng.random() < 0.5 else self.schema(rng, depth + 1)
        if rng.random() < 0.3:
            schema["required"] = [key for key in self.KEYS if rng.random() < 0.4]
        return schema

    def value(self, rng, depth=0):
        kind = rng.randrange(5 if depth > 2 else 7)
        if kind == 0:
            return rng.choice(["", "x", "ab", "abcd", "😀", "é😀", "y"])
        if kind == 1:
            return rng.choice([0, 1, -1, 2, 2.5, 10, 10.5, -3.5, 1.0, float("nan"), float("inf"), 10**400])
        if kind == 2:
            return rng.choice([True, False])
        if kind == 3:
            return None
        if kind == 4:
            return rng.choice(["x", 1, 2.5])
        if kind == 5:
            return [self.value(rng, depth + 1) for _ in range(rng.randrange(4))]
        return {key: self.value(rng, depth + 1) for key in self.KEYS + ["z"] if rng.random() < 0.5}

    def test_the_compiled_test_agrees_with_the_walk(self):
        rng = random.Random(20261203)
        conforming = 0
        for _ in range(4000):
            schema = self.schema(rng)
            for _ in range(5):
                value = self.value(rng)
                found = walked(value, schema)
                clean = isinstance(found, list) and not found
                self.assertEqual(conforms(value, schema), clean, f"schema {schema!r}, value {value!r}: {found!r}")
                if isinstance(found, list):
                    self.assertEqual(check(value, schema), found)
                else:
                    self.assertRaises(type(found), check, value, schema)
                conforming += clean
        self.assertTrue(2000 < conforming < 18000, f"{conforming} of 20000 conform")

    def test_a_schema_that_contains_itself(self):
        tree = {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False}
        tree["properties"]["children"] = {"type": "array", "items": tree}
        self.assertTrue(conforms({"name": "a", "children": [{"name": "b", "children": []}]}, tree))
        problems = check({"name": "a", "children": [{"name": "b", "children": [{"nmae": "c"}]}]}, tree)
        self.assertEqual([p.path for p in problems], ["children/0/children/0/nmae"])

    def test_a_schema_check_cannot_read_is_left_to_the_walk(self):
        for schema in ({"type": 5}, {"enum": 5}, {"required": None}, {"required": [["a"]]}):
            with self.subTest(schema=schema):
                found = walked({"a": 1}, schema)
                self.assertFalse(conforms({"a": 1}, schema))
                if isinstance(found, list):
                    self.assertEqual(check({"a": 1}, schema), found)
                else:
                    self.assertRaises(type(found), check, {"a": 1}, schema)
