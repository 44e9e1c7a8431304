"""Unit tests of the RabbitMQ provider's logic under plain CPython, against
an in-memory stand-in for the management API (no build, no broker):

    python3 plugins/broker-rabbitmq/test_app.py

The conformance run (`cairn plugin test` with cairn-test.toml against a
real broker) covers what needs the component and the server.
"""

import base64
import hashlib
import os
import sys
import unittest
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "sdk-python"))
sys.path.insert(0, HERE)

import app  # noqa: E402
from broker_rabbitmq import canonical, marks, passwords, server  # noqa: E402
from cairn_provider import (  # noqa: E402
    Action,
    Applied,
    Declarations,
    DiffInput,
    ErrorKind,
    Failed,
    Invalid,
    ProviderError,
    Scope,
    Secrets,
    Skipped,
    Validation,
)
from cairn_provider.http import Client  # noqa: E402

#: This instance's owner mark, and another instance's.
OWNER = "cairn-0123456789abcdef01234567"
OTHER = "cairn-fedcba9876543210fedcba98"


class FakeServer:
    """The management API as the provider's `Server` offers it, over a
    dict of objects by API path; it records every write."""

    def __init__(self):
        """An empty broker."""
        self.objects = {}
        self.writes = []

    def get(self, where):
        """The object at `where`, or `None`."""
        if where.startswith("/api/overview"):
            return {"exchange_types": [{"name": name} for name in ("direct", "fanout", "topic", "headers")]}
        return self.objects.get(where)

    def put(self, where, body):
        """Stores `body` as the object at `where`, with its names."""
        self.writes.append(("PUT", where))
        collection, *names = [unquote(part) for part in where.split("/")[2:]]
        stored = dict(body)
        if collection in ("vhosts", "users"):
            stored["name"] = names[0]
        elif collection == "permissions":
            if f"/api/vhosts/{server.segment(names[0])}" not in self.objects:
                raise ProviderError.invalid(f'PUT {where} answered 400: {{"reason":"vhost_or_user_not_found"}}')
            stored.update(vhost=names[0], user=names[1])
        else:
            if f"/api/vhosts/{server.segment(names[0])}" not in self.objects:
                raise ProviderError.not_found(f'PUT {where} answered 404: {{"reason":"vhost_not_found"}}')
            stored.update(vhost=names[0], name=names[1])
        self.objects[where] = stored

    def delete(self, where):
        """Deletes the object at `where`, if any."""
        self.writes.append(("DELETE", where))
        self.objects.pop(where, None)

    def _collection(self, collection):
        """The objects of one collection."""
        prefix = f"/api/{collection}/"
        return [value for key, value in sorted(self.objects.items()) if key.startswith(prefix)]

    def listing(self, collection, columns):
        """An unpaged collection."""
        return self._collection(collection)

    def pages(self, collection, columns):
        """A paged collection, whole."""
        return self._collection(collection)


def provider(fake=None, secrets=None):
    """A configured provider over `fake`, logged in as `admin`."""
    given = {"username": "admin", "password": "admin-password", "app": "app-password-1"}
    given.update(secrets or {})
    return app.RabbitMQ(fake if fake is not None else FakeServer(), Secrets(given), OWNER, "admin")


def change_of(item, declarations=None, fake=None, secrets=None):
    """The one change `diff` answers for `item`."""
    instance = provider(fake, secrets)
    return instance.diff([item], declarations or Declarations([item]))[0]


class Validate(unittest.TestCase):
    """`validate`: canonical forms and refusals."""

    def test_defaults_are_filled_in_and_tags_sorted(self):
        """Absent fields take the server's defaults; tags are a set."""
        self.assertEqual(
            app.RabbitMQ.validate("vhost", {"name": "/", "tags": [" b", "a", "a"]}),
            {"name": "/", "description": "", "tags": ["a", "b"], "tracing": False},
        )
        self.assertEqual(
            app.RabbitMQ.validate("queue", {"vhost": "v", "name": "q"}),
            {"vhost": "v", "name": "q", "durable": True, "auto_delete": False, "arguments": {}},
        )
        self.assertEqual(
            app.RabbitMQ.validate("exchange", {"vhost": "v", "name": "e", "type": "x-delayed-message"})["internal"],
            False,
        )

    def test_canonical_specs_validate_to_themselves(self):
        """`validate` is idempotent."""
        for type_name, spec in (
            ("vhost", {"name": "v", "tags": ["z", "a"]}),
            ("user", {"name": "u", "password": {"secret": "app"}, "tags": ["management"]}),
            ("queue", {"vhost": "v", "name": "q", "arguments": {"x-queue-type": "quorum"}}),
        ):
            once = app.RabbitMQ.validate(type_name, spec)
            self.assertEqual(app.RabbitMQ.validate(type_name, once), once)

    def paths(self, type_name, spec):
        """The paths of the error diagnostics `validate` gives."""
        with self.assertRaises(Invalid) as raised:
            app.RabbitMQ.validate(type_name, spec)
        return [d.path for d in raised.exception.diagnostics if d.is_error]

    def test_a_password_in_git_is_refused_without_repeating_it(self):
        """A string password is refused, and the message never holds it."""
        with self.assertRaises(Invalid) as raised:
            app.RabbitMQ.validate("user", {"name": "u", "password": "hunter2-secret"})
        self.assertEqual([d.path for d in raised.exception.diagnostics], ["password"])
        self.assertNotIn("hunter2-secret", str(raised.exception.diagnostics))

    def test_what_rabbitmq_refuses_is_refused(self):
        """Reserved names, marks, bad arguments, inconsistent quorum queues
        and unknown exchange types."""
        self.assertEqual(self.paths("queue", {"vhost": "v", "name": "amq.q"}), ["name"])
        self.assertEqual(self.paths("exchange", {"vhost": "v", "name": "e", "type": "broadcast"}), ["type"])
        tags = self.paths("vhost", {"name": "v", "tags": [OWNER, "a,b", " "]})
        self.assertEqual(tags, ["tags/0", "tags/1", "tags/2"])
        self.assertEqual(
            self.paths(
                "queue",
                {
                    "vhost": "v",
                    "name": "q",
                    "durable": False,
                    "auto_delete": True,
                    "arguments": {"x-queue-type": "quorum", "x-max-priority": 300, marks.MARK_ARGUMENT: "x"},
                },
            ),
            ["arguments/x-max-priority", f"arguments/{marks.MARK_ARGUMENT}", "durable", "auto_delete"],
        )
        self.assertEqual(self.paths("vhost", {"name": "é" * 200}), ["name"])
        self.assertEqual(self.paths("user", {"name": "u", "password_fingerprint": "0" * 16}), ["password_fingerprint"])

    def test_unknown_arguments_are_kept(self):
        """RabbitMQ stores arguments it does not know: so does the spec."""
        spec = app.RabbitMQ.validate("queue", {"vhost": "v", "name": "q", "arguments": {"x-custom": [1, "a"]}})
        self.assertEqual(spec["arguments"], {"x-custom": [1, "a"]})
        self.assertNotIsInstance(spec, Validation)


class Passwords(unittest.TestCase):
    """RabbitMQ's salted hashes."""

    def test_a_hash_made_here_matches_its_password_only(self):
        """`make_hash` and `matches` agree, and tell passwords apart."""
        password_hash, algorithm = passwords.make_hash("correct horse")
        stored = {"password_hash": password_hash, "hashing_algorithm": algorithm}
        self.assertTrue(passwords.matches(stored, "correct horse"))
        self.assertFalse(passwords.matches(stored, "correct horse!"))
        self.assertFalse(passwords.matches(stored, None))

    def test_the_servers_hash_of_guest_matches(self):
        """A hash RabbitMQ 3.10 made (of `guest`) is checked right."""
        stored = {
            "password_hash": "750uZE/pFdAR/aoZJBtWdtya2JEPILIdk44aKZMZXMDvNIJQ",
            "hashing_algorithm": passwords.SHA256,
        }
        self.assertTrue(passwords.matches(stored, "guest"))
        self.assertFalse(passwords.matches(stored, "Guest"))

    def test_a_fingerprint_follows_the_hash_and_not_the_password(self):
        """Two hashes of one password have other fingerprints; no password
        has none."""
        first, _ = passwords.make_hash("same")
        second, _ = passwords.make_hash("same")
        self.assertNotEqual(passwords.fingerprint(first), passwords.fingerprint(second))
        self.assertIsNone(passwords.fingerprint(""))

    def test_other_algorithms_and_no_password(self):
        """SHA-512 is checked; an unknown algorithm or a broken hash never
        matches; an empty hash is no password."""
        salt = b"\x01\x02\x03\x04"
        sha512 = base64.b64encode(salt + hashlib.sha512(salt + b"pw").digest()).decode()
        sha512_user = {"password_hash": sha512, "hashing_algorithm": "rabbit_password_hashing_sha512"}
        self.assertTrue(passwords.matches(sha512_user, "pw"))
        self.assertFalse(passwords.matches({"password_hash": sha512, "hashing_algorithm": "a_plugins_own"}, "pw"))
        broken = {"password_hash": "not base64!", "hashing_algorithm": passwords.SHA256}
        self.assertFalse(passwords.matches(broken, "pw"))
        self.assertTrue(passwords.matches({"password_hash": ""}, None))


class Diff(unittest.TestCase):
    """`diff`: passwords by hash, references, the provider's own login."""

    def user_on_server(self, fake, password, tags=("management",)):
        """Puts the user `app-user` with `password` on `fake`."""
        password_hash, algorithm = passwords.make_hash(password) if password else ("", passwords.SHA256)
        fake.objects["/api/users/app-user"] = {
            "name": "app-user",
            "password_hash": password_hash,
            "hashing_algorithm": algorithm,
            "tags": list(tags) + [OWNER],
        }

    def user_input(self, secret="app"):
        """A diff input for `app-user`, observed with its tags."""
        desired = {"name": "app-user", "tags": ["management"]}
        if secret:
            desired["password"] = {"secret": secret}
        return DiffInput("user", "app-user", desired=desired, observed={"name": "app-user", "tags": ["management"]})

    def test_a_matching_password_plans_nothing(self):
        """The server's hash of the secret's value is no change."""
        fake = FakeServer()
        self.user_on_server(fake, "app-password-1")
        self.assertIs(change_of(self.user_input(), fake=fake).action, Action.NO_OP)

    def test_a_password_changed_by_hand_is_a_sensitive_update(self):
        """Another password on the server plans an update of `password`,
        its values withheld from the summary."""
        fake = FakeServer()
        self.user_on_server(fake, "changed by hand")
        change = change_of(self.user_input(), fake=fake)
        self.assertIs(change.action, Action.UPDATE)
        self.assertEqual([(f.path, f.sensitive) for f in change.fields], [("password", True)])
        self.assertEqual(change.summary, "update password (sensitive)")
        self.assertNotIn("changed by hand", repr(change))

    def test_a_password_set_by_hand_on_a_passwordless_user_is_found(self):
        """A user meant to have no password that has one plans an update."""
        fake = FakeServer()
        self.user_on_server(fake, "set by hand")
        change = change_of(self.user_input(secret=None), fake=fake)
        self.assertIs(change.action, Action.UPDATE)
        self.assertEqual(change.fields[0].before, app.ANOTHER_PASSWORD)

    def test_a_secret_not_given_is_an_error_diagnostic(self):
        """The password's secret must be one of the instance's."""
        fake = FakeServer()
        self.user_on_server(fake, "app-password-1")
        change = change_of(self.user_input(secret="nowhere"), fake=fake)
        self.assertEqual([(d.path, d.is_error) for d in change.diagnostics], [("password/secret", True)])

    def test_references_resolve_in_the_commit_or_on_the_server(self):
        """A permission's vhost and user, each declared or on the server."""
        fake = FakeServer()
        fake.objects["/api/vhosts/on-server"] = {"name": "on-server"}
        permission = {"vhost": "on-server", "user": "nobody", "configure": "", "write": "", "read": ""}
        item = DiffInput("permission", "on-server/nobody", desired=permission)
        change = change_of(item, fake=fake)
        self.assertEqual([d.path for d in change.diagnostics], ["user"])
        declared = DiffInput("user", "nobody", desired={"name": "nobody", "tags": []})
        change = change_of(item, Declarations([item, declared]), fake=fake)
        self.assertEqual(change.diagnostics, [])

    def test_a_missing_dead_letter_exchange_is_a_warning(self):
        """RabbitMQ accepts a dead-letter exchange that does not exist."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v"}
        queue = app.RabbitMQ.validate(
            "queue", {"vhost": "v", "name": "q", "arguments": {"x-dead-letter-exchange": "dlx"}}
        )
        change = change_of(DiffInput("queue", "v/q", desired=queue), fake=fake)
        found = [(d.path, d.is_error) for d in change.diagnostics]
        self.assertEqual(found, [("arguments/x-dead-letter-exchange", False)])

    def test_a_changed_argument_replaces_the_queue(self):
        """Arguments are force-replace fields."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v"}
        before = app.RabbitMQ.validate("queue", {"vhost": "v", "name": "q", "arguments": {"x-message-ttl": 1}})
        after = app.RabbitMQ.validate("queue", {"vhost": "v", "name": "q", "arguments": {"x-message-ttl": 2}})
        change = change_of(DiffInput("queue", "v/q", desired=after, observed=before), fake=fake)
        self.assertIs(change.action, Action.REPLACE)

    def test_deleting_the_login_user_is_refused(self):
        """The provider never plans to lock itself out, and never names the
        login (a secret)."""
        item = DiffInput("user", "admin", observed={"name": "admin", "tags": ["administrator"]})
        change = change_of(item, Declarations())
        self.assertTrue(change.diagnostics and change.diagnostics[0].is_error)
        self.assertNotIn("admin`", change.diagnostics[0].message)


class Apply(unittest.TestCase):
    """`apply`: marks, conflicts, replaces, order."""

    def spec(self, type_name, **fields):
        """A canonical spec."""
        return app.RabbitMQ.validate(type_name, fields)

    def create(self, type_name, spec):
        """A create change of `spec`."""
        resource_type = app.RabbitMQ.resource_type(type_name)
        return DiffInput(type_name, resource_type.id_of(spec), desired=spec).to_change(Action.CREATE, "create")

    def test_a_batch_is_made_in_the_order_rabbitmq_needs(self):
        """Given in any order, vhost and user go first; the outcomes keep
        the order given; the objects bear the mark."""
        fake = FakeServer()
        changes = [
            self.create(
                "permission", self.spec("permission", vhost="v", user="u", configure=".*", write=".*", read=".*")
            ),
            self.create("queue", self.spec("queue", vhost="v", name="q")),
            self.create("user", self.spec("user", name="u", password={"secret": "app"})),
            self.create("vhost", self.spec("vhost", name="v")),
        ]
        outcomes = provider(fake).apply(changes)
        self.assertTrue(all(isinstance(o, Applied) for o in outcomes), outcomes)
        self.assertEqual([w[1] for w in fake.writes[:2]], ["/api/vhosts/v", "/api/users/u"])
        self.assertIn(OWNER, fake.objects["/api/vhosts/v"]["tags"])
        self.assertEqual(fake.objects["/api/queues/v/q"]["arguments"], {marks.MARK_ARGUMENT: OWNER})
        self.assertTrue(passwords.matches(fake.objects["/api/users/u"], "app-password-1"))
        self.assertNotIn("password", outcomes[2].state)
        listed = {o.id: o.state for o in provider(fake).list(Scope(["user"], ["u"]))}
        self.assertEqual(listed["u"], outcomes[2].state)
        self.assertEqual(len(outcomes[2].state["password_fingerprint"]), passwords.FINGERPRINT_HEX)

    def test_what_needs_a_vhost_that_failed_is_skipped(self):
        """A queue whose vhost could not be made is not attempted."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v", "tags": [OTHER]}
        changes = [
            self.create("queue", self.spec("queue", vhost="v", name="q")),
            self.create("vhost", self.spec("vhost", name="v")),
        ]
        outcomes = provider(fake).apply(changes)
        self.assertIsInstance(outcomes[1], Failed)
        self.assertIs(outcomes[1].error.kind, ErrorKind.CONFLICT)
        self.assertIsInstance(outcomes[0], Skipped)

    def test_a_create_over_someone_elses_queue_conflicts_and_ones_own_is_taken_over(self):
        """Unmarked: conflict, nothing written; marked by this instance (an
        interrupted apply): declared again."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v"}
        fake.objects["/api/queues/v/q"] = {"vhost": "v", "name": "q", "durable": True, "arguments": {}}
        change = self.create("queue", self.spec("queue", vhost="v", name="q"))
        outcome = provider(fake).apply([change])[0]
        self.assertIs(outcome.error.kind, ErrorKind.CONFLICT)
        self.assertEqual(fake.writes, [])
        fake.objects["/api/queues/v/q"]["arguments"] = {marks.MARK_ARGUMENT: OWNER}
        self.assertIsInstance(provider(fake).apply([change])[0], Applied)

    def test_a_replace_deletes_first_and_a_delete_is_idempotent(self):
        """A replace is a delete and a declaration; deleting twice works."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v"}
        spec = self.spec("exchange", vhost="v", name="e", type="topic")
        replace = DiffInput("exchange", "v/e", desired=spec, observed=spec).to_change(Action.REPLACE, "replace")
        provider(fake).apply([replace])
        self.assertEqual(fake.writes, [("DELETE", "/api/exchanges/v/e"), ("PUT", "/api/exchanges/v/e")])
        delete = DiffInput("exchange", "v/e", observed=spec).to_change(Action.DELETE, "delete")
        for _ in range(2):
            self.assertEqual(provider(fake).apply([delete]), [Applied(None)])

    def test_the_logins_permission_on_its_own_new_vhost_is_taken_over(self):
        """RabbitMQ grants the creator of a vhost every permission on it:
        declaring the login's permission there is no conflict; anyone
        else's existing permission is."""
        fake = FakeServer()
        fake.objects["/api/vhosts/v"] = {"name": "v", "tags": [OWNER]}
        for user in ("admin", "someone"):
            fake.objects[f"/api/permissions/v/{user}"] = {"vhost": "v", "user": user}
        spec = self.spec("permission", vhost="v", user="admin", configure="", write=".*", read=".*")
        self.assertIsInstance(provider(fake).apply([self.create("permission", spec)])[0], Applied)
        spec = self.spec("permission", vhost="v", user="someone", configure="", write=".*", read=".*")
        outcome = provider(fake).apply([self.create("permission", spec)])[0]
        self.assertIs(outcome.error.kind, ErrorKind.CONFLICT)

    def test_a_permission_whose_user_is_missing_is_not_found(self):
        """The server's 400 names neither: the error says which to check."""
        fake = FakeServer()
        spec = self.spec("permission", vhost="v", user="u", configure="", write="", read="")
        change = self.create("permission", spec)
        outcome = provider(fake).apply([change])[0]
        self.assertIs(outcome.error.kind, ErrorKind.NOT_FOUND)


class List(unittest.TestCase):
    """`list`: ids asked about, vouching, RabbitMQ's own exchanges."""

    def test_only_the_ids_asked_about_and_vouched_only_from_the_mark(self):
        """Ids filter; the mark vouches; marks never show in a state."""
        fake = FakeServer()
        fake.objects["/api/vhosts/a"] = {"name": "a", "tags": ["x", OWNER], "tracing": False}
        fake.objects["/api/vhosts/b"] = {"name": "b", "tags": [OTHER]}
        fake.objects["/api/exchanges/a/amq.direct"] = {"vhost": "a", "name": "amq.direct", "type": "direct"}
        found = provider(fake).list(Scope(["vhost", "exchange"], ["a", "b", "a/amq.direct"]))
        seen = [(o.id, o.vouched, o.state.get("tags")) for o in found]
        self.assertEqual(seen, [("a", True, ["x"]), ("b", False, [])])
        self.assertEqual(len(provider(fake).list(Scope(["vhost"], ["a"]))), 1)


class Paths(unittest.TestCase):
    """The API's paths and pages."""

    def test_names_are_escaped_whole(self):
        """The default vhost is `%2F`; every reserved character is escaped."""
        self.assertEqual(server.path("queues", "/", "a b/c"), "/api/queues/%2F/a%20b%2Fc")
        self.assertEqual(server.api_root("http://h:15672/api/"), "http://h:15672")

    def test_a_collection_is_read_page_by_page(self):
        """Pages are read until `page_count`."""
        asked = []

        def exchange(method, target, headers, body):
            """Answers page N of two."""
            asked.append(target[2])
            page = int(target[2].split("page=")[1].split("&")[0])
            return 200, [], (b'{"items": [%d], "page_count": 2}' % page)

        client = Client("http://h:1")
        client._exchange = exchange
        self.assertEqual(server.Server(client).pages("queues", ["name"]), [1, 2])
        self.assertEqual(len(asked), 2)
        self.assertIn("page_size=500", asked[0])

    def test_a_refused_login_says_what_to_check(self):
        """A 401 is `unauthorized`, with the secrets to check."""
        client = Client("http://h:1", headers={"authorization": "Basic c2VjcmV0"})
        client._exchange = lambda *_: (401, [], b'{"error":"not_authorized","reason":"Login failed"}')
        with self.assertRaises(ProviderError) as raised:
            server.Server(client).listing("vhosts", ["name"])
        self.assertIs(raised.exception.kind, ErrorKind.UNAUTHORIZED)
        self.assertIn("`username`", raised.exception.message)


if __name__ == "__main__":
    unittest.main()
