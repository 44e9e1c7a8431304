"""Refusing inputs and changes for an object other than the one named."""

import unittest

from cairn_provider import ErrorKind, ProviderInfo, ResourceType
from cairn_provider.addressed import refusal


def info():
    """A provider with one type identified by two fields."""
    entry = ResourceType("entry", "", {}, identity=["bucket", "key"])
    return ProviderInfo("kv", "1.0.0", "", [entry], {})


class RefusalTest(unittest.TestCase):
    """Inputs and changes whose type or id is not the provider's."""

    def test_an_id_its_spec_gives_is_accepted(self):
        spec = {"bucket": "b", "key": "k"}
        self.assertIsNone(refusal(info(), "entry", "b/k", spec, None))
        self.assertIsNone(refusal(info(), "entry", "b/k", None, spec))
        self.assertIsNone(refusal(info(), "entry", "b/k", None, None))

    def test_an_id_of_another_object_is_refused_as_invalid(self):
        spec = {"bucket": "b", "key": "k"}
        error = refusal(info(), "entry", "b/other", spec, None)
        self.assertIs(error.kind, ErrorKind.INVALID)
        self.assertEqual(
            error.message,
            "the id `b/other` is not the entry its desired spec describes, whose identity fields give `b/k`: "
            "refusing to act on an object other than the one named",
        )
        observed = refusal(info(), "entry", "b/other", None, spec)
        self.assertIn("observed state", observed.message)

    def test_the_desired_spec_wins_over_the_observed_state(self):
        desired, observed = {"bucket": "b", "key": "k"}, {"bucket": "b", "key": "x"}
        self.assertIsNone(refusal(info(), "entry", "b/k", desired, observed))

    def test_a_desired_spec_without_its_identity_is_refused(self):
        error = refusal(info(), "entry", "b/k", {"bucket": "b"}, None)
        self.assertIn("no `key`", error.message)

    def test_an_observed_state_without_its_identity_is_not_held_against_the_id(self):
        self.assertIsNone(refusal(info(), "entry", "b/k", None, {"value": "v"}))

    def test_an_unknown_type_is_refused_with_the_types_there_are(self):
        error = refusal(info(), "bucket", "b", None, None)
        self.assertIs(error.kind, ErrorKind.INVALID)
        self.assertEqual(error.message, "`kv` has no resource type `bucket` (it has entry)")


if __name__ == "__main__":
    unittest.main()
