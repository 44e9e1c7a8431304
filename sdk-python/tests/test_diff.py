"""The default field-by-field comparison."""

import unittest

from cairn_provider import Action, DiffInput, ResourceType
from cairn_provider.diff import compare, field_changes


def item(desired, observed):
    """A diff input of a record."""
    return DiffInput("record", "a/A", desired=desired, observed=observed)


class FieldChangesTest(unittest.TestCase):
    """Which fields differ, by path."""

    def test_nested_fields_are_reported_by_path(self):
        changes = field_changes({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 1, "c": 3}, "d": [1, 2]})
        self.assertEqual([c.path for c in changes], ["a/c", "d"])
        self.assertEqual((changes[0].before, changes[0].after), (2, 3))

    def test_null_and_absent_are_alike(self):
        self.assertEqual(field_changes({"a": 1, "b": None}, {"a": 1}), [])

    def test_values_compare_as_json(self):
        self.assertEqual([c.path for c in field_changes({"a": True}, {"a": 1})], ["a"])


class CompareTest(unittest.TestCase):
    """The action, summary and marks of the default comparison."""

    def test_force_replace_fields_turn_an_update_into_a_replace(self):
        rules = ResourceType("record", "", {}, identity=["name"], force_replace=["kind"])
        change = compare(item({"kind": "x"}, {"kind": "y"}), rules)
        self.assertIs(change.action, Action.REPLACE)
        self.assertEqual(change.summary, 'replace kind: "y" → "x"')

    def test_a_field_inside_a_force_replace_field_replaces_too(self):
        rules = ResourceType("record", "", {}, identity=["name"], force_replace=["spec"])
        change = compare(item({"spec": {"a": 1}}, {"spec": {"a": 2}}), rules)
        self.assertIs(change.action, Action.REPLACE)

    def test_sensitive_values_never_reach_the_summary(self):
        rules = ResourceType("user", "", {}, identity=["name"], sensitive=["password"])
        change = compare(item({"password": "new"}, {"password": "old"}), rules)
        self.assertIs(change.action, Action.UPDATE)
        self.assertTrue(change.fields[0].sensitive)
        self.assertEqual(change.summary, "update password (sensitive)")

    def test_a_create_lists_each_field_so_that_sensitive_ones_are_marked(self):
        rules = ResourceType("user", "", {}, identity=["name"], sensitive=["password"])
        change = compare(item({"name": "alan", "password": "s3cret"}, None), rules)
        self.assertIs(change.action, Action.CREATE)
        self.assertEqual(change.summary, "create")
        self.assertEqual([(f.path, f.sensitive) for f in change.fields], [("name", False), ("password", True)])

    def test_equal_documents_are_a_no_op_and_missing_ones_create_or_delete(self):
        self.assertIs(compare(item({"a": 1}, {"a": 1})).action, Action.NO_OP)
        self.assertIs(compare(item({"a": 1}, {"a": 1, "b": None})).action, Action.NO_OP)
        self.assertIs(compare(item({"a": 1}, None)).action, Action.CREATE)
        delete = compare(item(None, {"a": 1}))
        self.assertIs(delete.action, Action.DELETE)
        self.assertEqual(delete.observed, {"a": 1})
        self.assertIs(compare(item(None, None)).action, Action.NO_OP)

    def test_the_change_carries_the_input(self):
        change = compare(item({"a": 1}, {"a": 2}))
        self.assertEqual((change.type_name, change.id), ("record", "a/A"))
        self.assertEqual((change.desired, change.observed), ({"a": 1}, {"a": 2}))
        self.assertEqual(change.summary, "update a: 2 → 1")


if __name__ == "__main__":
    unittest.main()
