"""RabbitMQ's password hashes, made and checked without the server.

RabbitMQ keeps a user's password as `base64(salt || H(salt || password))`
with a 4-byte random salt, `H` the user's `hashing_algorithm`; its
management API returns that hash (never the password) and takes one in
place of a password. So the provider sends only a hash it made itself —
the password never crosses the network, even over plain HTTP — and finds
a password changed by hand by checking the observed hash against the
operator's secret, without ever storing either.
"""

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any, Mapping, Optional, Tuple

#: The algorithm the provider hashes with: RabbitMQ's default since 3.6.
SHA256 = "rabbit_password_hashing_sha256"

#: The algorithms RabbitMQ offers, and the digest each names. A hash made
#: with another (a plugin's own) cannot be checked: it counts as not
#: matching, and the next apply writes a SHA-256 one.
DIGESTS = {
    SHA256: hashlib.sha256,
    "rabbit_password_hashing_sha512": hashlib.sha512,
    "rabbit_password_hashing_md5": hashlib.md5,
}

#: The salt's length in bytes, as RabbitMQ makes it (`rabbit_password`).
SALT_BYTES = 4

#: The hex digits of a hash's fingerprint: 64 bits, so that two hashes of
#: one user never share one, and far too few to test a guessed password
#: against (that needs the salt, which the fingerprint does not give).
FINGERPRINT_HEX = 16

#: What a fingerprint digests before the hash, so that it is never the
#: plain digest of anything RabbitMQ shows.
FINGERPRINT_CONTEXT = b"cairn broker-rabbitmq password fingerprint\0"


def make_hash(password: str) -> Tuple[str, str]:
    """A fresh salted hash of `password` and its algorithm, as the
    management API takes them (`password_hash`, `hashing_algorithm`)."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii"), SHA256


def fingerprint(password_hash: str) -> Optional[str]:
    """A short digest of the hash the server holds (`None` for no
    password). It is part of the observed state: every new password, set
    by Cairn or by hand, changes it, so the host sees the user moved and
    asks `diff`, which checks the hash itself. It tells nothing of the
    password."""
    if not password_hash:
        return None
    return hashlib.sha256(FINGERPRINT_CONTEXT + password_hash.encode("ascii", "replace")).hexdigest()[:FINGERPRINT_HEX]


def matches(stored: Mapping[str, Any], password: Optional[str]) -> bool:
    """Whether the user the server returned (`password_hash`,
    `hashing_algorithm`) has `password`; with `password` `None`, whether
    it has none (an empty hash)."""
    stored_hash = stored.get("password_hash") or ""
    if password is None:
        return stored_hash == ""
    if not stored_hash:
        return False
    digest = DIGESTS.get(stored.get("hashing_algorithm") or SHA256)
    if digest is None:
        return False
    try:
        raw = base64.b64decode(stored_hash, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) <= SALT_BYTES:
        return False
    salt, expected = raw[:SALT_BYTES], raw[SALT_BYTES:]
    return hmac.compare_digest(digest(salt + password.encode("utf-8")).digest(), expected)
