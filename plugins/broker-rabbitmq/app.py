"""broker-rabbitmq: a Cairn provider of RabbitMQ's vhosts, users,
permissions, queues and exchanges, through the management HTTP API
(`{url}/api/...`).

It follows every rule of the contract (`cairn:provider@0.2.0`):
- `validate` returns the canonical spec (defaults filled in, tags sorted,
  the mistakes RabbitMQ would refuse found before anything is sent), which
  `list` reads back in the same shape, so an unchanged repository plans
  nothing and an applied change converges;
- ids come from the identity fields: a vhost's or a user's `name`, a
  permission's `vhost/user`, a queue's or an exchange's `vhost/name`;
- what RabbitMQ cannot change in place (a queue's or an exchange's
  properties and arguments) is `force_replace`: the object is deleted and
  declared again;
- `apply` is idempotent: a delete of an object already gone succeeds; it
  makes a batch in the order RabbitMQ needs (vhosts, users, then what
  lives in a vhost; deletes the other way round), whatever order the
  changes come in;
- errors carry their kind (`unauthorized`, `unavailable`, `conflict`...);
- every object it makes that can hold one carries the owner mark (a tag of
  a vhost or a user, the argument `x-cairn-owner` of a queue or an
  exchange), and `list` vouches for the objects that bear it; a create
  that finds the object made by someone else fails with `conflict`;
- references are checked when planning: the vhost of a permission, a
  queue or an exchange, and a permission's user, must be declared in the
  commit or exist on the server;
- passwords are operator secrets: only a salted hash is sent, and a
  password changed by hand is found by checking the server's hash.

`build.sh` builds it into `broker_rabbitmq.wasm`.
"""

# Import every module here, at the top: the plugin holds only the modules
# imported while componentize-py initialises the app, so one imported
# inside a function is missing when the function runs.
import base64
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cairn_provider as cairn
from cairn_provider import (
    Action,
    Applied,
    Change,
    Declarations,
    Diagnostic,
    DiffInput,
    ErrorKind,
    Failed,
    FieldChange,
    Invalid,
    MissingIdentity,
    Observed,
    Outcome,
    ProviderError,
    Scope,
    Skipped,
    Validation,
    diff as diffing,
    jsonvalue,
    log,
    spec,
)
from cairn_provider.http import Client, shown_url, split_url

from broker_rabbitmq import canonical, marks, passwords, schemas
from broker_rabbitmq.schemas import EXCHANGE, PERMISSION, QUEUE, USER, VHOST
from broker_rabbitmq.server import Server, api_root, path

#: The provider's name and version, as `describe` gives them.
NAME = "broker-rabbitmq"
VERSION = "0.1.0"

#: What a plan shows as the password the server holds when it is not the
#: desired one (the field is sensitive, so the host withholds it anyway;
#: a value keeps the change from reading as "nothing on either side").
ANOTHER_PASSWORD = "(another password)"

#: The columns `list` reads of each collection: only what the canonical
#: state and the owner mark need.
VHOST_COLUMNS = ["name", "description", "tags", "tracing"]
USER_COLUMNS = ["name", "tags", "password_hash"]
PERMISSION_COLUMNS = ["vhost", "user", "configure", "write", "read"]
QUEUE_COLUMNS = ["vhost", "name", "durable", "auto_delete", "arguments"]
EXCHANGE_COLUMNS = ["vhost", "name", "type", "durable", "auto_delete", "internal", "arguments"]

#: The order in which `apply` makes objects of each type: what others live
#: in or name comes first, and permissions before queues and exchanges (the
#: provider's own login needs one on a vhost to declare anything there).
#: Deletes go after every other change, in the opposite order.
CREATION_ORDER = {VHOST: 0, USER: 1, PERMISSION: 2, EXCHANGE: 3, QUEUE: 4}

#: What the API answers (401) when the login holds no permission on the
#: vhost it declares a queue or an exchange in.
ACCESS_REFUSED = "Access refused"


def execution_rank(change: Change) -> Tuple[int, int]:
    """Where `change` comes when `apply` carries out a batch (a sort key;
    the sort is stable, so changes of one rank keep their order)."""
    rank = CREATION_ORDER[change.type_name]
    if change.action is Action.DELETE:
        return 1, len(CREATION_ORDER) - rank
    return 0, rank


def where(type_name: str, state: Dict[str, Any]) -> str:
    """The API path of the object a spec or a state describes."""
    if type_name == VHOST:
        return path("vhosts", state["name"])
    if type_name == USER:
        return path("users", state["name"])
    if type_name == PERMISSION:
        return path("permissions", state["vhost"], state["user"])
    if type_name == QUEUE:
        return path("queues", state["vhost"], state["name"])
    return path("exchanges", state["vhost"], state["name"])


class Lookups:
    """What `diff` asks the server about other objects (whether a vhost
    exists, a user's password hash, ...), each asked at most once per
    call."""

    def __init__(self, server: Server):
        """Lookups through `server`, none asked yet."""
        self.server = server
        self._answers: Dict[str, Any] = {}

    def _get(self, at: str) -> Optional[Any]:
        """The object at `at`, or `None`; asked once."""
        if at not in self._answers:
            self._answers[at] = self.server.get(at)
        return self._answers[at]

    def vhost_exists(self, name: str) -> bool:
        """Whether the server has the vhost `name`."""
        return self._get(path("vhosts", name)) is not None

    def user(self, name: str) -> Optional[Dict[str, Any]]:
        """The user `name` as the server holds it (with its password hash),
        or `None`."""
        return self._get(path("users", name))

    def exchange_exists(self, vhost: str, name: str) -> bool:
        """Whether the server has the exchange `name` in `vhost`."""
        return self._get(path("exchanges", vhost, name)) is not None

    def exchange_types(self) -> List[str]:
        """The exchange types the server has enabled."""
        overview = self._get("/api/overview?columns=exchange_types") or {}
        return [item.get("name") for item in overview.get("exchange_types") or [] if isinstance(item, dict)]


class RabbitMQ(cairn.Provider):
    """A configured provider: the broker's management API, the secrets (a
    user's password is one of them), the owner mark, and the name the
    provider logs in as (so that it never deletes itself)."""

    def __init__(self, server: Server, secrets: cairn.Secrets, owner: str, login: str):
        """A provider of the broker behind `server`, with the instance's
        secrets, its owner mark and the name it logs in as."""
        super().__init__(secrets=secrets, owner=owner)
        self.server = server
        self.login = login

    @classmethod
    def describe(cls):
        """The provider and its five resource types."""
        return cairn.ProviderInfo(
            name=NAME,
            version=VERSION,
            description="RabbitMQ's vhosts, users, permissions, queues and exchanges, through its management HTTP API",
            resource_types=schemas.RESOURCE_TYPES,
            config_schema=schemas.CONFIG_SCHEMA,
        )

    @classmethod
    def configure(cls, config, secrets, owner):
        """A client of the management API at `url`, logging in with the
        secrets `username` and `password` (HTTP Basic)."""
        config = spec.checked(config, schemas.CONFIG_SCHEMA, "config")
        username = secrets.require("username")
        password = secrets.require("password")
        root = api_root(config["url"])
        if split_url(root) is None:
            raise ProviderError.invalid(
                f"config `url`: `{shown_url(root)}` is not an http or https URL, such as `http://127.0.0.1:15672`"
            )
        token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
        client = Client(root, headers={"authorization": f"Basic {token}"})
        return cls(Server(client), secrets, owner, username)

    @classmethod
    def validate(cls, type_name, resource):
        """The canonical spec, or the problems RabbitMQ would refuse it
        for. A password written in Git is refused without repeating it."""
        if type_name == USER and isinstance(resource, dict):
            password = resource.get("password")
            if password is not None and not isinstance(password, dict):
                raise Invalid(
                    Diagnostic.error(
                        "password",
                        "a password is not written in Git: the plan, the state and the audit trail would keep it",
                        help='write `password = { secret = "NAME" }` and give the secret NAME to this provider '
                        "in cairn.toml",
                    )
                )
        resource = super().validate(type_name, resource)
        result, problems = canonical.CANONICAL[type_name](resource)
        if any(problem.is_error for problem in problems):
            raise Invalid(problems)
        return Validation(result, problems) if problems else result

    # -- list -------------------------------------------------------------

    def list(self, scope: Scope) -> List[Observed]:
        """The objects of the scope's types whose ids the host asked about
        (every object, when it asked about none), each vouched for when it
        bears the owner mark. RabbitMQ's own exchanges (the default one and
        `amq.*`) are left out: no one can declare or delete them."""
        wanted = set(scope.ids)
        readers = (
            (VHOST, self._vhosts),
            (USER, self._users),
            (PERMISSION, self._permissions),
            (QUEUE, self._queues),
            (EXCHANGE, self._exchanges),
        )
        found: List[Observed] = []
        for type_name, reader in readers:
            if not scope.wants(type_name):
                continue
            resource_type = self.resource_type(type_name)
            for state, vouched in reader():
                try:
                    object_id = resource_type.id_of(state)
                except MissingIdentity:
                    continue  # a name no spec could give (empty)
                if not wanted or object_id in wanted:
                    found.append(Observed(type_name, object_id, state, vouched=vouched))
        log.debug("listed the broker's objects", count=len(found))
        return found

    def _vhosts(self) -> Iterator[Tuple[Dict[str, Any], bool]]:
        """Every vhost, and whether it bears the mark."""
        for raw in self.server.listing("vhosts", VHOST_COLUMNS):
            tags = canonical.server_tags(raw.get("tags"))
            yield canonical.observed_vhost(raw), marks.tags_bear(tags, self.owner)

    def _users(self) -> Iterator[Tuple[Dict[str, Any], bool]]:
        """Every user, and whether it bears the mark."""
        for raw in self.server.listing("users", USER_COLUMNS):
            tags = canonical.server_tags(raw.get("tags"))
            yield canonical.observed_user(raw), marks.tags_bear(tags, self.owner)

    def _permissions(self) -> Iterator[Tuple[Dict[str, Any], bool]]:
        """Every permission, never vouched for: it has nowhere to carry a
        mark."""
        for raw in self.server.listing("permissions", PERMISSION_COLUMNS):
            yield canonical.observed_permission(raw), False

    def _queues(self) -> Iterator[Tuple[Dict[str, Any], bool]]:
        """Every queue, and whether it bears the mark."""
        for raw in self.server.pages("queues", QUEUE_COLUMNS):
            yield canonical.observed_queue(raw), marks.arguments_bear(raw.get("arguments") or {}, self.owner)

    def _exchanges(self) -> Iterator[Tuple[Dict[str, Any], bool]]:
        """Every exchange but RabbitMQ's own, and whether it bears the
        mark."""
        for raw in self.server.pages("exchanges", EXCHANGE_COLUMNS):
            if raw.get("name", "") in canonical.BUILTIN_EXCHANGES:
                continue
            yield canonical.observed_exchange(raw), marks.arguments_bear(raw.get("arguments") or {}, self.owner)

    # -- diff -------------------------------------------------------------

    def diff(self, inputs: Sequence[DiffInput], declarations: Declarations) -> List[Change]:
        """One change per input: field by field, a user's password by the
        server's hash, with the references that resolve neither in the
        commit nor on the server as error diagnostics."""
        lookups = Lookups(self.server)
        return [self._change(item, declarations, lookups) for item in inputs]

    def _change(self, item: DiffInput, declarations: Declarations, lookups: Lookups) -> Change:
        """The change of one input, with its diagnostics."""
        rules = self.resource_type(item.type_name)
        diagnostics: List[Diagnostic] = []
        if item.type_name == USER and item.desired is not None and item.observed is not None:
            change = self._user_change(item, rules, lookups, diagnostics)
        else:
            change = diffing.compare(item, rules)
        if item.desired is not None:
            if item.type_name == USER:
                self._password_value(item.desired, diagnostics)
            diagnostics.extend(self._references(item.type_name, item.desired, declarations, lookups))
        if item.type_name == USER:
            diagnostics.extend(self._own_login(item, change))
        change.diagnostics.extend(diagnostics)
        return change

    def _user_change(
        self, item: DiffInput, rules: cairn.ResourceType, lookups: Lookups, diagnostics: List[Diagnostic]
    ) -> Change:
        """A user's change: its tags field by field, its password by
        checking the server's hash against the secret (neither is ever in
        the change)."""
        one_sided = ("password", schemas.PASSWORD_FINGERPRINT)
        desired = {key: value for key, value in item.desired.items() if key not in one_sided}
        observed = {key: value for key, value in item.observed.items() if key not in one_sided}
        fields = diffing.field_changes(observed, desired)
        wanted = item.desired.get("password")
        value, known = self._password_value(item.desired, [])
        if known:
            stored = lookups.user(item.desired["name"])
            if stored is None or not passwords.matches(stored, value):
                before = ANOTHER_PASSWORD if stored is not None and stored.get("password_hash") else None
                fields.append(FieldChange("password", before, wanted))
        for field in fields:
            field.sensitive = diffing.names_field(rules.sensitive, field.path)
        verb = diffing.action(True, True, fields)
        return item.to_change(verb, diffing.summarize(verb, fields), fields)

    def _password_value(self, desired: Dict[str, Any], diagnostics: List[Diagnostic]) -> Tuple[Optional[str], bool]:
        """The desired password's value (`None` for no password) and
        whether it is known; a secret the instance was not given is an
        error diagnostic in `diagnostics`."""
        wanted = desired.get("password")
        if wanted is None:
            return None, True
        name = wanted["secret"]
        value = self.secrets.get(name)
        if value is None:
            diagnostics.append(
                Diagnostic.error(
                    "password/secret",
                    f"the secret `{name}` is not given to this provider",
                    help=f'add `{name} = {{ file = "PATH" }}` (or `{{ env = "VAR" }}`) to its `secrets` in cairn.toml',
                )
            )
            return None, False
        return value, True

    def _references(
        self, type_name: str, desired: Dict[str, Any], declarations: Declarations, lookups: Lookups
    ) -> List[Diagnostic]:
        """The references of a desired object that resolve neither in the
        commit nor on the server: its vhost, a permission's user (errors),
        a dead-letter or alternate exchange (warnings: RabbitMQ accepts
        one that does not exist, and drops what it would route there), an
        exchange type the server lacks (an error)."""
        problems: List[Diagnostic] = []
        if type_name in (PERMISSION, QUEUE, EXCHANGE):
            vhost = desired["vhost"]
            if not declarations.contains(VHOST, vhost) and not lookups.vhost_exists(vhost):
                problems.append(
                    Diagnostic.error(
                        "vhost",
                        f"the vhost `{vhost}` is neither a vhost this commit declares nor one on the server",
                        help="declare it as a `vhost` of this provider, or correct the name",
                    )
                )
        if type_name == PERMISSION:
            user = desired["user"]
            if not declarations.contains(USER, user) and lookups.user(user) is None:
                problems.append(
                    Diagnostic.error(
                        "user",
                        f"the user `{user}` is neither a user this commit declares nor one on the server",
                        help="declare it as a `user` of this provider, or correct the name",
                    )
                )
        if type_name in (QUEUE, EXCHANGE):
            argument = canonical.DEAD_LETTER_EXCHANGE if type_name == QUEUE else canonical.ALTERNATE_EXCHANGE
            target = desired["arguments"].get(argument)
            if isinstance(target, str) and not self._exchange_resolves(desired["vhost"], target, declarations, lookups):
                problems.append(
                    Diagnostic.warning(
                        f"arguments/{argument}",
                        f"the exchange `{target}` is neither an exchange this commit declares nor one on the server "
                        f"in the vhost `{desired['vhost']}`: RabbitMQ drops the messages it would route there",
                        help="declare it as an `exchange` of this provider, or correct the name",
                    )
                )
        if type_name == EXCHANGE and desired["type"] not in schemas.BUILTIN_EXCHANGE_TYPES:
            if desired["type"] not in lookups.exchange_types():
                problems.append(
                    Diagnostic.error(
                        "type",
                        f"the server has no exchange type `{desired['type']}`",
                        help="enable the plugin that provides it (rabbitmq-plugins enable ...), or correct the type",
                    )
                )
        return problems

    def _exchange_resolves(self, vhost: str, name: str, declarations: Declarations, lookups: Lookups) -> bool:
        """Whether the exchange `name` of `vhost` is built in, declared in
        the commit or on the server."""
        if name in canonical.BUILTIN_EXCHANGES:
            return True
        exchange_id = self.resource_type(EXCHANGE).id_of({"vhost": vhost, "name": name})
        return declarations.contains(EXCHANGE, exchange_id) or lookups.exchange_exists(vhost, name)

    def _own_login(self, item: DiffInput, change: Change) -> List[Diagnostic]:
        """A change to the user the provider logs in as: deleting it would
        lock the provider out (an error), changing its password leaves the
        secret behind (a warning). The user's name is a secret: no message
        repeats it."""
        state = item.desired if item.desired is not None else item.observed
        if not isinstance(state, dict) or state.get("name") != self.login:
            return []
        if change.action is Action.DELETE:
            return [
                Diagnostic.error(
                    "",
                    "this is the user the provider logs in as: deleting it would lock the provider out",
                    help="log the provider in as another administrator first (the secrets `username` and `password`), "
                    "or keep the user in Git",
                )
            ]
        if any(field.path == "password" for field in change.fields) and change.action is not Action.CREATE:
            return [
                Diagnostic.warning(
                    "password",
                    "this is the user the provider logs in as: once its password changes, the secret `password` "
                    "must hold the new one",
                )
            ]
        return []

    # -- apply ------------------------------------------------------------

    def apply(self, changes: Sequence[Change]) -> List[Outcome]:
        """Makes the changes, one outcome per change in the order given,
        but carried out in the order RabbitMQ needs whatever order they
        come in (a commit's resources carry no order of their own): vhosts,
        then users, then what lives in a vhost; deletes after, the other
        way round. A change whose vhost or user failed to be made in the
        same batch is skipped, saying why, rather than sent to fail."""
        outcomes: List[Optional[Outcome]] = [None] * len(changes)
        failed: Dict[Tuple[str, str], str] = {}
        for index in sorted(range(len(changes)), key=lambda i: execution_rank(changes[i])):
            change = changes[index]
            reason = self._blocked(change, failed)
            if reason is not None:
                outcomes[index] = Skipped(reason)
                continue
            try:
                outcomes[index] = Applied(self.apply_change(change))
            except Exception as error:  # each change fails on its own
                problem = ProviderError.from_exception(error)
                failed[(change.type_name, change.id)] = problem.message
                outcomes[index] = Failed(problem)
        return outcomes

    def _blocked(self, change: Change, failed: Dict[Tuple[str, str], str]) -> Optional[str]:
        """Why `change` is not attempted: the vhost or the user it needs
        failed to be made earlier in the batch; `None` otherwise."""
        if change.action is Action.DELETE or not isinstance(change.desired, dict):
            return None
        needed = []
        if change.type_name in (PERMISSION, QUEUE, EXCHANGE):
            needed.append((VHOST, change.desired["vhost"]))
        if change.type_name == PERMISSION:
            needed.append((USER, change.desired["user"]))
        for type_name, name in needed:
            if (type_name, name) in failed:
                return f"the {type_name} `{name}` it needs was not made: {failed[(type_name, name)]}"
        return None

    def apply_change(self, change: Change) -> Any:
        """Makes one change; returns the object's new state, as `list` will
        observe it (`None` after a delete): each maker returns it."""
        if change.action is Action.NO_OP:
            return change.observed
        if change.action is Action.DELETE:
            state = change.observed if change.observed is not None else change.desired
            if state is not None:
                self.server.delete(where(change.type_name, state))
            return None
        makers = {
            VHOST: self._make_vhost,
            USER: self._make_user,
            PERMISSION: self._make_permission,
            QUEUE: self._make_queue,
            EXCHANGE: self._make_exchange,
        }
        return makers[change.type_name](change)

    def _make_vhost(self, change: Change) -> Dict[str, Any]:
        """Creates or updates a vhost, its tags bearing the mark; a create
        that finds someone else's fails with `conflict`."""
        desired = change.desired
        at = where(VHOST, desired)
        if change.action is Action.CREATE:
            existing = self.server.get(at)
            if existing is not None and not marks.tags_bear(canonical.server_tags(existing.get("tags")), self.owner):
                raise ProviderError.conflict(
                    f"the vhost `{desired['name']}` exists and this provider did not make it "
                    "(it does not bear its owner mark)"
                )
        body = {
            "description": desired["description"],
            "tags": marks.tags_with_mark(desired["tags"], self.owner),
            "tracing": desired["tracing"],
        }
        self.server.put(at, body)
        return canonical.applied(VHOST, desired)

    def _make_user(self, change: Change) -> Dict[str, Any]:
        """Creates or updates a user, its tags bearing the mark, with a
        hash of the secret password: the hash it has when that already
        matches, a fresh one otherwise."""
        desired = change.desired
        at = where(USER, desired)
        existing = self.server.get(at)
        if change.action is Action.CREATE and existing is not None:
            if not marks.tags_bear(canonical.server_tags(existing.get("tags")), self.owner):
                raise ProviderError.conflict(
                    f"the user `{desired['name']}` exists and this provider did not make it "
                    "(it does not bear its owner mark)"
                )
        value = self._password(desired)
        if value is None:
            password_hash, algorithm = "", passwords.SHA256
        elif existing is not None and passwords.matches(existing, value):
            password_hash = existing["password_hash"]
            algorithm = existing.get("hashing_algorithm") or passwords.SHA256
        else:
            password_hash, algorithm = passwords.make_hash(value)
        body = {
            "password_hash": password_hash,
            "hashing_algorithm": algorithm,
            "tags": marks.tags_with_mark(desired["tags"], self.owner),
        }
        self.server.put(at, body)
        return canonical.applied(USER, desired, password_hash)

    def _password(self, desired: Dict[str, Any]) -> Optional[str]:
        """The desired password's value, `None` for none; `invalid` when
        its secret was not given."""
        problems: List[Diagnostic] = []
        value, known = self._password_value(desired, problems)
        if not known:
            raise ProviderError.invalid(f"the user `{desired['name']}`: {problems[0].message}")
        return value

    def _make_permission(self, change: Change) -> Dict[str, Any]:
        """Writes a permission. A create that finds one fails with
        `conflict`: RabbitMQ keeps nothing on a permission that could tell
        who made it. One exception: RabbitMQ grants the user who creates a
        vhost every permission on it, so the provider's own login on a
        vhost bearing its mark holds a permission this provider made."""
        desired = change.desired
        at = where(PERMISSION, desired)
        taken = change.action is Action.CREATE and self.server.get(at) is not None
        if taken and not self._granted_by_own_vhost(desired):
            raise ProviderError.conflict(
                f"the permission of the user `{desired['user']}` in the vhost `{desired['vhost']}` exists, and "
                "RabbitMQ keeps no mark on a permission to tell who made it"
            )
        body = {key: desired[key] for key in ("configure", "write", "read")}
        try:
            self.server.put(at, body)
        except ProviderError as error:
            if "vhost_or_user_not_found" in error.message:
                raise ProviderError.not_found(
                    f"PUT {at}: the vhost `{desired['vhost']}` or the user `{desired['user']}` does not exist"
                ) from None
            raise
        return canonical.applied(PERMISSION, desired)

    def _granted_by_own_vhost(self, desired: Dict[str, Any]) -> bool:
        """Whether a permission is the one RabbitMQ granted the provider's
        own login when this provider created the vhost (the vhost bears
        its mark)."""
        if desired["user"] != self.login:
            return False
        vhost = self.server.get(where(VHOST, {"name": desired["vhost"]}))
        return vhost is not None and marks.tags_bear(canonical.server_tags(vhost.get("tags")), self.owner)

    def _make_queue(self, change: Change) -> Dict[str, Any]:
        """Declares a queue, its arguments bearing the mark (deleting it
        first for a replace)."""
        return self._declare(change, QUEUE, canonical.observed_queue, ("durable", "auto_delete"))

    def _make_exchange(self, change: Change) -> Dict[str, Any]:
        """Declares an exchange, its arguments bearing the mark (deleting it
        first for a replace)."""
        properties = ("type", "durable", "auto_delete", "internal")
        return self._declare(change, EXCHANGE, canonical.observed_exchange, properties)

    def _declare(self, change: Change, type_name: str, observe: Any, properties: Sequence[str]) -> Dict[str, Any]:
        """Declares a queue or an exchange. RabbitMQ cannot change one in
        place: a replace deletes it first, and so does a create that finds
        this provider's own with other properties (an interrupted apply); a
        create that finds someone else's fails with `conflict`."""
        desired = change.desired
        at = where(type_name, desired)
        if change.action is Action.CREATE:
            existing = self.server.get(at)
            if existing is not None:
                if not marks.arguments_bear(existing.get("arguments") or {}, self.owner):
                    raise ProviderError.conflict(
                        f"the {type_name} `{desired['name']}` of the vhost `{desired['vhost']}` exists and this "
                        "provider did not make it (it does not bear its owner mark)"
                    )
                if not jsonvalue.equal(observe(existing), desired):
                    self.server.delete(at)
        elif change.action is Action.REPLACE:
            self.server.delete(at)
        body = {name: desired[name] for name in properties}
        body["arguments"] = marks.arguments_with_mark(desired["arguments"], self.owner)
        try:
            self.server.put(at, body)
        except ProviderError as error:
            if "vhost_not_found" in error.message:
                raise ProviderError.not_found(f"PUT {at}: the vhost `{desired['vhost']}` does not exist") from None
            if error.kind is ErrorKind.UNAUTHORIZED and ACCESS_REFUSED in error.message:
                raise ProviderError.unauthorized(
                    f"PUT {at}: RabbitMQ refused access: the provider's login holds no permission to configure "
                    f"the vhost `{desired['vhost']}`; declare a `permission` for it there (RabbitMQ grants one on "
                    "the vhosts the provider creates)"
                ) from None
            raise
        return canonical.applied(type_name, desired)


# The class componentize-py exports: the SDK drives `RabbitMQ` through it.
Provider = cairn.export(RabbitMQ)
