"""The exported class, driven through stand-ins for componentize-py's
generated records: conversion, refusal, one answer per input, and
exceptions turned into errors."""

import abc
import enum
import json
import types
import unittest
from dataclasses import make_dataclass

import cairn_provider as cairn
from cairn_provider import Action, Applied, Diagnostic, Invalid, Observed, ProviderError
from cairn_provider.export import exported_class


def fake_wit():
    """A stand-in for `wit_world.imports.cairn_provider_types`: the same
    names, fields and enum members as the generated module."""
    wit = types.SimpleNamespace()
    wit.Severity = enum.Enum("Severity", "ERROR WARNING")
    wit.Action = enum.Enum("Action", "NO_OP CREATE UPDATE REPLACE DELETE")
    wit.ErrorKind = enum.Enum("ErrorKind", "INVALID UNAUTHORIZED CONFLICT NOT_FOUND DENIED UNAVAILABLE TIMEOUT INTERNAL")
    records = {
        "Diagnostic": "path severity message help",
        "ResourceType": "name description schema identity force_replace sensitive",
        "ProviderInfo": "name version description resource_types config_schema",
        "Secret": "name value",
        "Desired": "type_name spec",
        "Validation": "canonical diagnostics",
        "Scope": "type_names ids",
        "Observed": "type_name id state vouched",
        "DiffInput": "type_name id desired observed prior",
        "FieldChange": "path before after sensitive",
        "Declared": "type_name id",
        "Change": "type_name id action summary fields desired observed diagnostics recheck_after",
        "Error": "kind message",
        "Outcome_Applied": "value",
        "Outcome_Failed": "value",
        "Outcome_Skipped": "value",
    }
    for name, fields in records.items():
        setattr(wit, name, make_dataclass(name, fields.split()))
    return wit


WIT = fake_wit()


class Err(Exception):
    """A stand-in for `componentize_py_types.Err`."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class ExportBase(abc.ABC):
    """A stand-in for the generated `wit_world.exports.Provider`."""

    @abc.abstractmethod
    def describe(self): ...

    @abc.abstractmethod
    def configure(self, config, secrets, owner): ...

    @abc.abstractmethod
    def validate(self, resources): ...

    @abc.abstractmethod
    def list(self, scope): ...

    @abc.abstractmethod
    def diff(self, inputs, declared): ...

    @abc.abstractmethod
    def apply(self, changes): ...


SCHEMA = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
    "required": ["key", "value"],
    "additionalProperties": False,
}


class Entries(cairn.Provider):
    """A provider of entries kept in memory, recording what it is asked."""

    store = {}
    calls = []

    @classmethod
    def describe(cls):
        entry = cairn.ResourceType("entry", "an entry", SCHEMA, identity=["key"], sensitive=["value"])
        return cairn.ProviderInfo("kv", "1.0.0", "entries", [entry], {"type": "object"})

    @classmethod
    def configure(cls, config, secrets, owner):
        secrets.require("token")
        if config.get("explode"):
            raise RuntimeError("the configuration exploded")
        return cls(config, secrets, owner)

    @classmethod
    def validate(cls, type_name, spec):
        spec = super().validate(type_name, spec)
        if spec["key"] == "boom":
            raise ZeroDivisionError("division by zero")
        if not spec["key"]:
            raise Invalid(Diagnostic("key", "the key is empty"))
        return {"key": spec["key"].lower(), "value": spec["value"]}

    def list(self, scope):
        return [Observed("entry", key, {"key": key, "value": value}) for key, value in sorted(self.store.items())]

    def apply_change(self, change):
        Entries.calls.append(change.id)
        if change.id == "fails":
            raise ProviderError.conflict("someone else's")
        if change.id == "crashes":
            raise KeyError("made_by")
        if change.action is Action.DELETE:
            self.store.pop(change.id, None)
            return None
        self.store[change.id] = change.desired["value"]
        return change.desired


def exported(provider_class=Entries):
    """An instance of the exported class of `provider_class`."""
    return exported_class(provider_class, ExportBase, WIT, Err)()


def configured(provider_class=Entries, config=None):
    """An exported instance, configured."""
    instance = exported(provider_class)
    instance.configure(json.dumps(config or {}), [WIT.Secret("token", "s3cret-token")], "cairn-" + "0" * 24)
    return instance


def change(id, desired, action=None, observed=None):
    """A WIT change of an entry."""
    action = action or WIT.Action.CREATE
    text = lambda value: None if value is None else json.dumps(value)  # noqa: E731
    return WIT.Change("entry", id, action, "", [], text(desired), text(observed), [], None)


class DescribeTest(unittest.TestCase):
    """The description as WIT records."""

    def test_the_description_becomes_wit_records_with_json_text(self):
        info = exported().describe()
        self.assertEqual(info.name, "kv")
        self.assertEqual(json.loads(info.resource_types[0].schema), SCHEMA)
        self.assertEqual(info.resource_types[0].identity, ["key"])
        self.assertEqual(info.config_schema, '{"type":"object"}')

    def test_only_a_provider_subclass_can_be_exported(self):
        with self.assertRaises(TypeError):
            exported_class(object, ExportBase, WIT, Err)


class ConfigureTest(unittest.TestCase):
    """Configuring, and calls without it."""

    def test_a_missing_secret_fails_as_invalid(self):
        with self.assertRaises(Err) as raised:
            exported().configure("{}", [], "owner")
        self.assertIs(raised.exception.value.kind, WIT.ErrorKind.INVALID)
        self.assertIn("the secret `token` is missing", raised.exception.value.message)

    def test_an_exception_fails_as_internal_with_its_message(self):
        with self.assertRaises(Err) as raised:
            configured(config={"explode": True})
        self.assertIs(raised.exception.value.kind, WIT.ErrorKind.INTERNAL)
        self.assertIn("unexpected RuntimeError in the provider: the configuration exploded", raised.exception.value.message)

    def test_configure_must_return_the_provider(self):
        class Forgetful(Entries):
            @classmethod
            def configure(cls, config, secrets, owner):
                cls(config, secrets, owner)

        with self.assertRaises(Err) as raised:
            configured(Forgetful)
        self.assertIn("configure returned NoneType", raised.exception.value.message)

    def test_a_call_before_configure_fails_as_internal(self):
        with self.assertRaises(Err) as raised:
            exported().list(WIT.Scope(["entry"], []))
        self.assertEqual(raised.exception.value.message, "the host called the provider before `configure`")


class ValidateTest(unittest.TestCase):
    """One validation per resource, errors as diagnostics."""

    def validate(self, *resources):
        """`(canonical, [(path, severity, message)])` of each resource."""
        answers = exported().validate([WIT.Desired(t, json.dumps(s)) for t, s in resources])
        return [(a.canonical, [(d.path, d.severity.name, d.message) for d in a.diagnostics]) for a in answers]

    def test_one_answer_per_resource_in_order(self):
        answers = self.validate(
            ("entry", {"key": "Greeting", "value": "hello"}),
            ("entry", {"key": "typo", "valeu": "x"}),
            ("bucket", {"name": "b"}),
            ("entry", {"key": "", "value": "x"}),
            ("entry", {"key": "boom", "value": "x"}),
        )
        self.assertEqual(answers[0], ('{"key":"greeting","value":"hello"}', []))
        self.assertEqual(
            answers[1],
            (None, [("valeu", "ERROR", "unknown field `valeu`: expected one of key, value"), ("", "ERROR", "missing field `value`")]),
        )
        self.assertEqual(answers[2], (None, [("", "ERROR", "`kv` has no resource type `bucket` (it has entry)")]))
        self.assertEqual(answers[3], (None, [("key", "ERROR", "the key is empty")]))
        self.assertIsNone(answers[4][0])
        self.assertIn("unexpected ZeroDivisionError in the provider: division by zero", answers[4][1][0][2])

    def test_a_spec_that_is_not_json_is_an_error_diagnostic(self):
        answer = exported().validate([WIT.Desired("entry", "{")])[0]
        self.assertIsNone(answer.canonical)
        self.assertIn("the host sent a spec that is not JSON", answer.diagnostics[0].message)


class ListTest(unittest.TestCase):
    """Observed objects as WIT records."""

    def test_observed_objects_become_wit_records(self):
        Entries.store = {"a": "1"}
        observed = configured().list(WIT.Scope(["entry"], []))
        self.assertEqual(observed, [WIT.Observed("entry", "a", '{"key":"a","value":"1"}', False)])


class DiffTest(unittest.TestCase):
    """Refusal before the provider, and one change per input."""

    def test_the_default_diff_compares_field_by_field(self):
        inputs = [
            WIT.DiffInput("entry", "a", '{"key":"a","value":"new"}', '{"key":"a","value":"old"}', None),
            WIT.DiffInput("entry", "b", '{"key":"b","value":"v"}', None, None),
            WIT.DiffInput("entry", "c", None, '{"key":"c","value":"v"}', None),
        ]
        changes = configured().diff(inputs, [])
        self.assertEqual([c.action for c in changes], [WIT.Action.UPDATE, WIT.Action.CREATE, WIT.Action.DELETE])
        self.assertEqual(changes[0].summary, "update value (sensitive)")
        self.assertTrue(changes[0].fields[0].sensitive)
        self.assertEqual(changes[0].desired, '{"key":"a","value":"new"}')

    def test_an_unchanged_input_is_a_no_op_carrying_the_texts_the_host_sent(self):
        # A number written as serde_json writes it (`1e16`, which Python
        # would write `1e+16`) comes back as the host wrote it.
        same = '{"key":"a","value":"v","weight":1e16}'
        inputs = [
            WIT.DiffInput("entry", "a", same, same, None),
            WIT.DiffInput("entry", "b", '{"key":"b","value":"new"}', '{"key":"b","value":"old"}', None),
            WIT.DiffInput("entry", "c", '{"key":"c","value":"v"}', '{"key":"c","value":"v"}', '{"key":"c","value":"v"}'),
        ]
        changes = configured().diff(inputs, [])
        self.assertEqual(
            changes[0],
            WIT.Change("entry", "a", WIT.Action.NO_OP, "no changes", [], same, same, [], None),
        )
        self.assertEqual([c.action for c in changes], [WIT.Action.NO_OP, WIT.Action.UPDATE, WIT.Action.NO_OP])
        self.assertEqual(changes[1].summary, "update value (sensitive)")
        self.assertEqual(changes[1].desired, '{"key":"b","value":"new"}')

    def test_an_unchanged_input_for_another_object_is_refused_all_the_same(self):
        same = '{"key":"a","value":"v"}'
        for id in ("a-foreign-to-its-spec", "A"):
            with self.subTest(id=id):
                with self.assertRaises(Err) as raised:
                    configured().diff([WIT.DiffInput("entry", "a", same, same, None), WIT.DiffInput("entry", id, same, same, None)], [])
                self.assertIs(raised.exception.value.kind, WIT.ErrorKind.INVALID)
                self.assertIn(f"the id `{id}` is not the entry its desired spec describes", raised.exception.value.message)
        with self.assertRaises(Err) as raised:
            configured().diff([WIT.DiffInput("entry", "a", '{"value":"v"}', '{"value":"v"}', None)], [])
        self.assertIn("has no `key`, which identifies it", raised.exception.value.message)
        with self.assertRaises(Err) as raised:
            configured().diff([WIT.DiffInput("bucket", "a", same, same, None)], [])
        self.assertIn("has no resource type `bucket`", raised.exception.value.message)

    def test_a_provider_diff_gets_values_of_its_own_even_for_equal_texts(self):
        seen = []

        class Mutating(Entries):
            def diff(self, inputs, declarations):
                for item in inputs:
                    seen.append(item.desired is item.observed)
                    item.desired["value"] = "changed"
                return super().diff(inputs, declarations)

        same = '{"key":"a","value":"v"}'
        [change] = configured(Mutating).diff([WIT.DiffInput("entry", "a", same, same, None)], [])
        self.assertEqual(seen, [False])
        self.assertIs(change.action, WIT.Action.UPDATE)
        self.assertEqual(change.observed, same)

    def test_an_input_for_another_object_fails_the_whole_call_before_the_provider(self):
        class Watched(Entries):
            asked = False

            def diff(self, inputs, declarations):
                Watched.asked = True
                return super().diff(inputs, declarations)

        inputs = [
            WIT.DiffInput("entry", "a", '{"key":"a","value":"v"}', None, None),
            WIT.DiffInput("entry", "a-foreign-to-its-spec", '{"key":"a","value":"v"}', None, None),
        ]
        with self.assertRaises(Err) as raised:
            configured(Watched).diff(inputs, [])
        self.assertIs(raised.exception.value.kind, WIT.ErrorKind.INVALID)
        self.assertIn("the id `a-foreign-to-its-spec` is not the entry", raised.exception.value.message)
        self.assertFalse(Watched.asked)

    def test_an_unknown_type_fails_as_invalid(self):
        with self.assertRaises(Err) as raised:
            configured().diff([WIT.DiffInput("bucket", "b", None, None, None)], [])
        self.assertIs(raised.exception.value.kind, WIT.ErrorKind.INVALID)

    def test_one_change_per_input_for_the_same_resource(self):
        class Lossy(Entries):
            def diff(self, inputs, declarations):
                return super().diff(inputs, declarations)[:1]

        class Reordering(Entries):
            def diff(self, inputs, declarations):
                return list(reversed(super().diff(inputs, declarations)))

        inputs = [
            WIT.DiffInput("entry", "a", '{"key":"a","value":"v"}', None, None),
            WIT.DiffInput("entry", "b", '{"key":"b","value":"v"}', None, None),
        ]
        with self.assertRaises(Err) as raised:
            configured(Lossy).diff(inputs, [])
        self.assertEqual(raised.exception.value.message, "diff returned 1 changes for 2 inputs")
        with self.assertRaises(Err) as raised:
            configured(Reordering).diff(inputs, [])
        self.assertIn("a change for entry `b` at position 0, whose input is entry `a`", raised.exception.value.message)

    def test_declarations_hold_the_inputs_and_the_others(self):
        seen = {}

        class Looking(Entries):
            def diff(self, inputs, declarations):
                seen["group"] = declarations.contains("group", "admins")
                seen["a"] = declarations.contains("entry", "a")
                return super().diff(inputs, declarations)

        configured(Looking).diff(
            [WIT.DiffInput("entry", "a", '{"key":"a","value":"v"}', None, None)], [WIT.Declared("group", "admins")]
        )
        self.assertEqual(seen, {"group": True, "a": True})


class ApplyTest(unittest.TestCase):
    """Refusal per change, and one outcome per change."""

    def setUp(self):
        Entries.store, Entries.calls = {}, []

    def test_a_change_for_another_object_fails_alone_and_the_rest_are_applied(self):
        outcomes = configured().apply(
            [
                change("a", {"key": "a", "value": "1"}),
                change("b-foreign", {"key": "b", "value": "2"}),
                change("c", {"key": "c", "value": "3"}),
            ]
        )
        self.assertEqual(outcomes[0], WIT.Outcome_Applied('{"key":"a","value":"1"}'))
        self.assertIs(outcomes[1].value.kind, WIT.ErrorKind.INVALID)
        self.assertIn("the id `b-foreign` is not the entry", outcomes[1].value.message)
        self.assertEqual(outcomes[2], WIT.Outcome_Applied('{"key":"c","value":"3"}'))
        self.assertEqual(Entries.calls, ["a", "c"])
        self.assertEqual(Entries.store, {"a": "1", "c": "3"})

    def test_a_delete_is_checked_against_the_observed_state(self):
        outcomes = configured().apply([change("x", None, WIT.Action.DELETE, observed={"key": "y", "value": "v"})])
        self.assertIs(outcomes[0].value.kind, WIT.ErrorKind.INVALID)
        self.assertIn("its observed state describes", outcomes[0].value.message)

    def test_each_change_fails_on_its_own_with_its_kind(self):
        outcomes = configured().apply(
            [
                change("fails", {"key": "fails", "value": "1"}),
                change("crashes", {"key": "crashes", "value": "2"}),
                change("ok", {"key": "ok", "value": "3"}),
                change("gone", None, WIT.Action.DELETE),
            ]
        )
        self.assertEqual(outcomes[0], WIT.Outcome_Failed(WIT.Error(WIT.ErrorKind.CONFLICT, "someone else's")))
        self.assertIs(outcomes[1].value.kind, WIT.ErrorKind.INTERNAL)
        self.assertIn("unexpected KeyError in the provider: 'made_by'", outcomes[1].value.message)
        self.assertEqual(outcomes[2], WIT.Outcome_Applied('{"key":"ok","value":"3"}'))
        self.assertEqual(outcomes[3], WIT.Outcome_Applied(None))

    def test_one_outcome_per_change(self):
        class Short(Entries):
            def apply(self, changes):
                return [Applied(None)]

        outcomes = configured(Short).apply([change("a", {"key": "a", "value": "1"}), change("b", {"key": "b", "value": "2"})])
        self.assertEqual(len(outcomes), 2)
        for outcome in outcomes:
            self.assertEqual(outcome.value.message, "apply returned 1 outcomes for 2 changes")

    def test_a_state_that_is_not_json_fails_that_change(self):
        class Odd(Entries):
            def apply_change(self, change):
                return {"key": change.id, "value": {1, 2}}

        outcome = configured(Odd).apply([change("a", {"key": "a", "value": "1"})])[0]
        self.assertIs(outcome.value.kind, WIT.ErrorKind.INTERNAL)
        self.assertIn("an applied state is not JSON", outcome.value.message)


class DescribedOnceTest(unittest.TestCase):
    """The description is asked once per class, and each class has its own."""

    def test_each_class_keeps_its_own_description(self):
        asked = []

        class Counted(Entries):
            @classmethod
            def describe(cls):
                asked.append(cls.__name__)
                return super().describe()

        class Buckets(Counted):
            @classmethod
            def describe(cls):
                asked.append(cls.__name__)
                bucket = cairn.ResourceType("bucket", "a bucket", {"type": "object"}, identity=["name"])
                return cairn.ProviderInfo("buckets", "1.0.0", "buckets", [bucket], {})

        answers = exported(Counted).validate([WIT.Desired("entry", json.dumps({"key": k, "value": "v"})) for k in "abc"])
        self.assertTrue(all(a.canonical for a in answers))
        self.assertEqual(Buckets.resource_type("bucket").name, "bucket")
        self.assertEqual(Counted.resource_type("entry").name, "entry")
        with self.assertRaises(ProviderError):
            Buckets.resource_type("entry")
        self.assertEqual(sorted(set(asked)), ["Buckets", "Counted"])
        self.assertLessEqual(asked.count("Counted"), 2)  # the SDK's and the class's own


class PlainCPythonTest(unittest.TestCase):
    """The package outside componentize-py's build."""

    def test_export_outside_the_build_returns_the_provider_class(self):
        self.assertIs(cairn.export(Entries), Entries)


if __name__ == "__main__":
    unittest.main()
