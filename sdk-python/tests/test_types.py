"""Ids built as the host builds them, declarations, secrets and errors."""

import unittest

from cairn_provider import (
    Declarations,
    Declared,
    DiffInput,
    ErrorKind,
    MissingIdentity,
    ProviderError,
    ResourceType,
    Secrets,
)
from cairn_provider.jsonvalue import equal, number_text


def rtype(*identity):
    """A resource type with these identity fields."""
    return ResourceType("object", "", {}, identity=list(identity))


class IdOfTest(unittest.TestCase):
    """Ids built from identity fields as the host builds them."""

    def test_identity_fields_may_be_nested_and_optional(self):
        object_type = rtype("metadata/namespace?", "kind", "metadata/name")
        namespaced = {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}}
        self.assertEqual(object_type.id_of(namespaced), "web/ConfigMap/a")
        cluster = {"kind": "Namespace", "metadata": {"name": "web"}}
        self.assertEqual(object_type.id_of(cluster), "Namespace/web")
        null_namespace = {"kind": "Namespace", "metadata": {"name": "web", "namespace": None}}
        self.assertEqual(object_type.id_of(null_namespace), "Namespace/web")
        with self.assertRaises(MissingIdentity) as raised:
            object_type.id_of({"kind": "Namespace", "metadata": {}})
        self.assertEqual(raised.exception.field, "metadata/name")

    def test_numbers_count_and_empty_strings_do_not(self):
        port = rtype("host", "port")
        self.assertEqual(port.id_of({"host": "db", "port": 5432}), "db/5432")
        self.assertEqual(port.id_of({"host": "db", "port": 1.5}), "db/1.5")
        for bad in ({"host": "", "port": 1}, {"host": "db", "port": True}, {"host": "db", "port": [1]}):
            with self.assertRaises(MissingIdentity):
                port.id_of(bad)

    def test_an_optional_field_that_is_empty_is_still_missing(self):
        with self.assertRaises(MissingIdentity) as raised:
            rtype("zone?", "name").id_of({"zone": "", "name": "a"})
        self.assertEqual(raised.exception.field, "zone")

    def test_a_path_does_not_step_into_arrays(self):
        with self.assertRaises(MissingIdentity):
            rtype("items/0").id_of({"items": ["a"]})

    def test_numbers_are_written_as_serde_json_writes_them(self):
        cases = {
            5: "5",
            -3: "-3",
            1.0: "1.0",
            100.0: "100.0",
            0.1: "0.1",
            0.00001: "0.00001",
            0.000001: "1e-6",
            1.5e-7: "1.5e-7",
            1e15: "1000000000000000.0",
            1e16: "1e16",
            1.2345e20: "1.2345e20",
            -0.0: "-0.0",
            2**64 - 1: "18446744073709551615",
            2**64: "1.8446744073709552e19",
        }
        for value, text in cases.items():
            self.assertEqual(number_text(value), text, repr(value))


class JsonEqualityTest(unittest.TestCase):
    """Equality of JSON values as the host compares them."""

    def test_types_must_match_and_null_is_absent(self):
        self.assertFalse(equal(True, 1))
        self.assertFalse(equal(1, 1.0))
        self.assertTrue(equal({"a": 1, "b": None}, {"a": 1}))
        self.assertTrue(equal([{"a": None}], [{}]))
        self.assertFalse(equal([1, 2], [2, 1]))


class DeclarationsTest(unittest.TestCase):
    """What the commit declares."""

    def test_inputs_with_a_desired_spec_and_the_others_are_declared(self):
        inputs = [DiffInput("user", "alan", desired={}), DiffInput("user", "gone", observed={})]
        declarations = Declarations(inputs, [Declared("group", "admins")])
        self.assertTrue(declarations.contains("user", "alan"))
        self.assertFalse(declarations.contains("user", "gone"), "leaving Git")
        self.assertTrue(declarations.contains("group", "admins"))
        self.assertFalse(declarations.contains("group", "alan"))
        self.assertEqual(list(declarations.ids("user")), ["alan"])


class SecretsTest(unittest.TestCase):
    """Secrets by name, their values hidden."""

    def test_values_stay_out_of_repr_and_a_missing_one_is_invalid(self):
        secrets = Secrets([("token", "hunter2-secret")])
        self.assertEqual(secrets.require("token"), "hunter2-secret")
        self.assertNotIn("hunter2", repr(secrets))
        self.assertNotIn("hunter2", str(secrets))
        with self.assertRaises(ProviderError) as raised:
            secrets.require("password")
        self.assertIs(raised.exception.kind, ErrorKind.INVALID)
        self.assertIn("`password` is missing", raised.exception.message)


class ProviderErrorTest(unittest.TestCase):
    """Errors with kinds, and exceptions turned into them."""

    def test_kinds_by_name_and_helpers(self):
        self.assertIs(ProviderError("not-found", "x").kind, ErrorKind.NOT_FOUND)
        self.assertEqual(ProviderError.conflict("taken"), ProviderError(ErrorKind.CONFLICT, "taken"))
        self.assertEqual(str(ProviderError.timeout("slow")), "slow (timeout)")
        self.assertEqual(ProviderError.invalid("bad").context("config").message, "config: bad")
        with self.assertRaises(ValueError):
            ProviderError("retry-later", "x")

    def test_an_unexpected_exception_becomes_internal_with_its_message(self):
        try:
            {}["value"]
        except KeyError as error:
            converted = ProviderError.from_exception(error)
        self.assertIs(converted.kind, ErrorKind.INTERNAL)
        self.assertIn("unexpected KeyError in the provider: 'value'", converted.message)
        self.assertIn("test_types.py:", converted.message)


if __name__ == "__main__":
    unittest.main()
