"""Statuses and transport failures as error kinds, and what errors show."""

import unittest

from cairn_provider import ErrorKind, ProviderError
from cairn_provider.http import (
    QUOTED_BODY_LIMIT,
    REDACTED,
    Client,
    Response,
    _TransportFailure,
    shown_url,
    split_url,
    status_kind,
    transport_error,
)


class ErrorCode_ConnectionRefused:  # noqa: N801 (named as componentize-py names it)
    """A stand-in for the generated `error-code` case."""


class ErrorCode_HttpRequestDenied:  # noqa: N801
    """A stand-in for the generated `error-code` case."""


class ErrorCode_ConnectionReadTimeout:  # noqa: N801
    """A stand-in for the generated `error-code` case."""


class ErrorCode_DnsError:  # noqa: N801
    """A stand-in for the generated `error-code` case, with its payload."""

    def __init__(self, value):
        self.value = value


class ErrorCode_TlsCertificateError:  # noqa: N801
    """A stand-in for the generated `error-code` case."""


class StatusTest(unittest.TestCase):
    """Responses and the errors their statuses make."""

    def test_statuses_map_onto_kinds(self):
        expected = {
            200: None,
            204: None,
            301: ErrorKind.INTERNAL,
            400: ErrorKind.INVALID,
            401: ErrorKind.UNAUTHORIZED,
            403: ErrorKind.UNAUTHORIZED,
            404: ErrorKind.NOT_FOUND,
            408: ErrorKind.TIMEOUT,
            409: ErrorKind.CONFLICT,
            418: ErrorKind.INTERNAL,
            429: ErrorKind.UNAVAILABLE,
            500: ErrorKind.UNAVAILABLE,
            503: ErrorKind.UNAVAILABLE,
            504: ErrorKind.TIMEOUT,
        }
        for status, kind in expected.items():
            self.assertIs(status_kind(status), kind, status)

    def test_error_for_status_names_what_was_done_and_quotes_the_answer(self):
        ok = Response(200, [], b"{}")
        self.assertIs(ok.error_for_status("GET /x"), ok)
        with self.assertRaises(ProviderError) as raised:
            Response(404, [], b'{"error": "no entry x"}\n').error_for_status("GET /entries/x")
        self.assertIs(raised.exception.kind, ErrorKind.NOT_FOUND)
        self.assertEqual(raised.exception.message, 'GET /entries/x answered 404: {"error": "no entry x"}')
        with self.assertRaises(ProviderError) as raised:
            Response(502, [], b"").error_for_status("PUT /x")
        self.assertEqual(raised.exception.message, "PUT /x answered 502")

    def test_a_long_answer_is_cut(self):
        with self.assertRaises(ProviderError) as raised:
            Response(500, [], b"x" * 2000).error_for_status("GET /")
        self.assertEqual(len(raised.exception.message), len("GET / answered 500: ") + QUOTED_BODY_LIMIT + 1)

    def test_json_that_is_not_json_is_internal(self):
        self.assertEqual(Response(200, [("Content-Type", "x")], b'[1]').json(), [1])
        self.assertEqual(Response(200, [("Content-Type", "x")], b"").header("content-type"), "x")
        with self.assertRaises(ProviderError) as raised:
            Response(200, [], b"<html>").json()
        self.assertIs(raised.exception.kind, ErrorKind.INTERNAL)


class TransportTest(unittest.TestCase):
    """Failures without a response."""

    def test_transport_failures_map_onto_kinds(self):
        cases = [
            (ErrorCode_HttpRequestDenied(), ErrorKind.DENIED),
            (ErrorCode_ConnectionRefused(), ErrorKind.UNAVAILABLE),
            (ErrorCode_DnsError("no such host"), ErrorKind.UNAVAILABLE),
            (ErrorCode_ConnectionReadTimeout(), ErrorKind.TIMEOUT),
            (ErrorCode_TlsCertificateError(), ErrorKind.INTERNAL),
        ]
        for code, kind in cases:
            self.assertIs(transport_error("GET", "http://h/x", code).kind, kind, type(code).__name__)

    def test_messages_say_what_failed(self):
        refused = transport_error("GET", "http://127.0.0.1:9/entries", ErrorCode_ConnectionRefused())
        self.assertEqual(refused.message, "GET http://127.0.0.1:9/entries failed: ConnectionRefused")
        denied = transport_error("GET", "http://h/x", ErrorCode_HttpRequestDenied())
        self.assertIn("outside this provider's network grants (`allow` in cairn.toml)", denied.message)
        dns = transport_error("GET", "http://h/x", ErrorCode_DnsError("no such host"))
        self.assertEqual(dns.message, "GET http://h/x failed: DnsError (no such host)")


class UrlTest(unittest.TestCase):
    """URLs as wasi:http takes them and as messages show them."""

    def test_urls_split_as_wasi_http_takes_them(self):
        self.assertEqual(split_url("http://127.0.0.1:8780/entries/a"), ("http", "127.0.0.1:8780", "/entries/a"))
        self.assertEqual(split_url("HTTPS://h"), ("https", "h", "/"))
        self.assertEqual(split_url("http://h?x=1"), ("http", "h", "/?x=1"))
        self.assertIsNone(split_url("ftp://h/x"))
        self.assertIsNone(split_url("http:///x"))
        self.assertIsNone(split_url("127.0.0.1:8780"))

    def test_credentials_in_a_url_are_not_shown(self):
        self.assertEqual(shown_url("https://user:pw@h/x"), "https://h/x")


class RecordingClient(Client):
    """A client whose exchanges are recorded and answered from a list."""

    def __init__(self, *args, answers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []
        self.answers = list(answers)

    def _exchange(self, method, target, headers, body):
        self.sent.append((method, target, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


TOKEN = "t0ken-of-the-operator"


class ClientTest(unittest.TestCase):
    """What the client sends, and what its errors show."""

    def client(self, *answers):
        """A client with a token, answering with `answers` in turn."""
        return RecordingClient("http://h:1/api/", headers={"Authorization": f"Bearer {TOKEN}"}, answers=answers)

    def test_a_json_body_has_its_type_and_length(self):
        client = self.client((201, [], b"{}"))
        client.send_json("put", "/entries/a", {"value": "é"})
        method, target, headers, body = client.sent[0]
        self.assertEqual((method, target), ("PUT", ("http", "h:1", "/api/entries/a")))
        self.assertEqual(body, '{"value":"é"}'.encode())
        self.assertEqual(headers["content-type"], b"application/json")
        self.assertEqual(headers["content-length"], str(len(body)).encode())
        self.assertEqual(headers["authorization"], f"Bearer {TOKEN}".encode())

    def test_a_request_without_a_body_says_its_length_is_zero(self):
        client = self.client((200, [], b"[]"))
        self.assertEqual(client.get_json("/entries"), [])
        self.assertEqual(client.sent[0][2]["content-length"], b"0")

    def test_a_server_quoting_the_token_back_does_not_put_it_into_an_error(self):
        client = self.client((401, [], f"bad token {TOKEN}".encode()))
        with self.assertRaises(ProviderError) as raised:
            client.get_json("/entries")
        self.assertIs(raised.exception.kind, ErrorKind.UNAUTHORIZED)
        self.assertNotIn(TOKEN, raised.exception.message)
        self.assertIn(REDACTED, raised.exception.message)

    def test_a_transport_failure_names_the_url(self):
        client = self.client(_TransportFailure(ErrorCode_ConnectionRefused()))
        with self.assertRaises(ProviderError) as raised:
            client.send("GET", "/entries")
        self.assertIs(raised.exception.kind, ErrorKind.UNAVAILABLE)
        self.assertEqual(raised.exception.message, "GET http://h:1/api/entries failed: ConnectionRefused")

    def test_a_url_that_is_not_http_is_invalid(self):
        with self.assertRaises(ProviderError) as raised:
            RecordingClient("h:1").send("GET", "/x")
        self.assertIs(raised.exception.kind, ErrorKind.INVALID)

    def test_outside_a_component_there_is_no_network(self):
        with self.assertRaises(ProviderError) as raised:
            Client("http://h").send("GET", "/x")
        self.assertIs(raised.exception.kind, ErrorKind.INTERNAL)
        self.assertIn("outside a component", raised.exception.message)

    def test_the_repr_shows_no_header_value(self):
        self.assertNotIn(TOKEN, repr(self.client()))


if __name__ == "__main__":
    unittest.main()
