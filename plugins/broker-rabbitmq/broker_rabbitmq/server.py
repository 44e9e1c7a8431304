"""RabbitMQ's management HTTP API, as the provider uses it: objects read,
written and deleted by path, collections read page by page, and failures
turned into errors that say what was done and what to check.
"""

from typing import Any, List, Optional
from urllib.parse import quote

from cairn_provider import ErrorKind, ProviderError
from cairn_provider.http import Client, Response

#: The most items the API returns per page (it refuses a larger
#: `page_size`): fewer requests for a large broker.
PAGE_SIZE = 500

#: The most pages one listing reads: 500,000 queues or exchanges. A
#: listing that has more (or a server whose page count keeps growing) fails
#: rather than running until the host's deadline.
MAX_PAGES = 1000

#: What to check when the server refuses the login or the permission.
UNAUTHORIZED_HELP = (
    "check the secrets `username` and `password`, and that this user has the `administrator` tag "
    "(managing vhosts and users needs it)"
)

#: The API's path below the configured root.
API = "/api"


def segment(name: str) -> str:
    """A name as one path segment: every reserved character escaped, so
    that the default vhost `/` is `%2F`."""
    return quote(name, safe="")


def path(*parts: str) -> str:
    """The API path of a collection and the names of an object in it:
    `path("queues", "/", "orders")` is `/api/queues/%2F/orders`."""
    collection, names = parts[0], parts[1:]
    return "/".join([API, collection] + [segment(name) for name in names])


def api_root(url: str) -> str:
    """The configured URL without a trailing `/` or `/api`: the provider
    appends `/api/...` itself."""
    root = url.rstrip("/")
    if root.endswith(API):
        root = root[: -len(API)]
    return root


class Server:
    """The management API of one broker, through the SDK's HTTP client."""

    def __init__(self, client: Client):
        """The API behind `client`, whose base URL is the API's root."""
        self.client = client

    def _checked(self, response: Response, what: str) -> Response:
        """`response` when it is 2xx; otherwise its error, with what to
        check when the login or the permission was refused."""
        try:
            return response.error_for_status(what)
        except ProviderError as error:
            if error.kind is ErrorKind.UNAUTHORIZED:
                raise ProviderError(error.kind, f"{error.message}: {UNAUTHORIZED_HELP}") from None
            raise

    def get(self, where: str) -> Optional[Any]:
        """The JSON at `where`, or `None` when the server has no such
        object (404)."""
        response = self.client.send("GET", where)
        if response.status == 404:
            return None
        return self._checked(response, f"GET {where}").json()

    def put(self, where: str, body: Any) -> None:
        """Writes `body` at `where` (201 made, 204 changed)."""
        self._checked(self.client.send("PUT", where, json=body), f"PUT {where}")

    def delete(self, where: str) -> None:
        """Deletes the object at `where`; one already gone (404) is
        deleted."""
        response = self.client.send("DELETE", where)
        if response.status != 404:
            self._checked(response, f"DELETE {where}")

    def listing(self, collection: str, columns: List[str]) -> List[Any]:
        """Every item of an unpaged collection, with only `columns`."""
        where = f"{API}/{collection}?columns={','.join(columns)}"
        items = self._checked(self.client.send("GET", where), f"GET {where}").json()
        if not isinstance(items, list):
            raise ProviderError.internal(f"GET {where} answered something other than a list")
        return items

    def pages(self, collection: str, columns: List[str]) -> List[Any]:
        """Every item of a paged collection (queues, exchanges), with only
        `columns` and without statistics, `PAGE_SIZE` at a time."""
        items: List[Any] = []
        page = 1
        while True:
            where = (
                f"{API}/{collection}?page={page}&page_size={PAGE_SIZE}&disable_stats=true"
                f"&columns={','.join(columns)}"
            )
            answer = self._checked(self.client.send("GET", where), f"GET {where}").json()
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise ProviderError.internal(f"GET {where} answered something other than a page of items")
            items.extend(answer["items"])
            if page >= (answer.get("page_count") or 0):
                return items
            page += 1
            if page > MAX_PAGES:
                raise ProviderError.internal(
                    f"{API}/{collection} has more than {MAX_PAGES} pages of {PAGE_SIZE}: too many to list"
                )
