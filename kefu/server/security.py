"""Dashboard authentication: signed tokens, sent as a bearer header or kept in a cookie.

``POST /api/v1/admin/login`` checks the username and password (argon2, in the store) and returns a token
``<payload>.<signature>``: the payload is base64url JSON ``{"uid", "sub", "role", "exp", "v", "n"}`` and
the signature its HMAC-SHA256 under the server secret. ``n`` is random, so two sign-ins in the same second
get two tokens (and two CSRF tokens). The signature is checked without the database, but ``v`` must also
be the user's current token version (``users.token_version``, one primary-key read per request, so every
worker agrees at once): signing out and changing the password raise it, which revokes every token issued
to that user before, on every device. Tokens expire after :data:`TOKEN_TTL_SECONDS` in any case.

Every other admin route requires the token, one of two ways:

* API clients send ``Authorization: Bearer <token>``.
* The dashboard keeps it only where no script can read it: login also sets it as the HttpOnly cookie
  :data:`SESSION_COOKIE`, with a second cookie, :data:`CSRF_COOKIE`, that scripts can read. Because
  browsers send cookies on their own, every POST, PUT, PATCH and DELETE authenticated by the cookie must
  copy the CSRF cookie into the :data:`CSRF_HEADER` header, which another site's page cannot do. The CSRF
  token is an HMAC of the session token (:func:`csrf_token`), so it cannot be made up, nor carried over
  to another session.

The secret is ``$KEFU_SECRET`` when set, else the project's ``.kefu-secret`` file, created on first
start with 32 random bytes and permissions 0600. Changing it signs every user out.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from kefu.errors import ConfigError
from kefu.store import UserRecord

ENV_SECRET = "KEFU_SECRET"
SECRET_FILE = ".kefu-secret"
TOKEN_TTL_SECONDS = 12 * 3600
SESSION_COOKIE = "kefu_session"
CSRF_COOKIE = "kefu_csrf"
CSRF_HEADER = "X-CSRF-Token"
# set by a successful sign-in, kept a year: a known device, which failed sign-ins for the same username
# from elsewhere cannot lock out (kefu.server.limits.SignInThrottle)
DEVICE_COOKIE = "kefu_device"
DEVICE_TTL_SECONDS = 365 * 24 * 3600
MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class Principal:
    """The signed-in dashboard user a token stands for."""

    user_id: int
    username: str
    role: str
    expires: int
    version: int  # the user's token version when it was issued

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def load_secret(project_dir: str | Path) -> bytes:
    """$KEFU_SECRET, else the project's .kefu-secret file (created, mode 0600, when missing)."""
    value = os.environ.get(ENV_SECRET)
    if value:
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"{ENV_SECRET} is too short: use at least {MIN_SECRET_BYTES} characters")
        return value.encode()
    path = Path(project_dir) / SECRET_FILE
    try:
        # O_EXCL: two workers starting together must not both write (and then disagree on) the secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # another worker may have created the file an instant ago and still be writing
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode()
        time.sleep(0.02)
    raise ConfigError(f"{path}: empty secret file; delete it and restart")


def issue_token(secret: bytes, user: UserRecord, ttl: int = TOKEN_TTL_SECONDS) -> tuple[str, int]:
    """A signed token for ``user`` and the time (Unix seconds) it expires."""
    expires = int(time.time()) + ttl
    claims = {
        "uid": user.id,
        "sub": user.username,
        "role": user.role,
        "exp": expires,
        "v": user.token_version,
        "n": secrets.token_urlsafe(8),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}", expires


def verify_token(secret: bytes, token: str) -> Principal | None:
    """The principal of a validly signed, unexpired token; None for anything else. (Whether its version is
    still the user's is for the caller to check.)"""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not _same(signature, _sign(secret, payload)):
        return None
    try:
        claims = json.loads(_unb64(payload))
        principal = Principal(
            int(claims["uid"]), str(claims["sub"]), str(claims["role"]), int(claims["exp"]), int(claims["v"])
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return principal if principal.expires > time.time() else None


def device_token(secret: bytes, username: str) -> str:
    """The :data:`DEVICE_COOKIE` of a browser that signed in as ``username``: the name and its HMAC."""
    name = _b64(username.encode())
    return f"{name}.{_sign(secret, 'device:' + name)}"


def device_username(secret: bytes, token: str | None) -> str | None:
    """The username a :data:`DEVICE_COOKIE` was set for; None for anything this server did not sign."""
    name, _, signature = (token or "").partition(".")
    if not name or not _same(signature, _sign(secret, "device:" + name)):
        return None
    try:
        return _unb64(name).decode()
    except (ValueError, binascii.Error):
        return None


def csrf_token(secret: bytes, session_token: str) -> str:
    """The CSRF token that goes with ``session_token``."""
    return _sign(secret, "csrf:" + session_token)


def csrf_matches(secret: bytes, session_token: str, sent: str | None) -> bool:
    """Whether ``sent`` is the CSRF token of ``session_token`` (compared in constant time)."""
    return sent is not None and _same(sent, csrf_token(secret, session_token))


def _same(sent: str, expected: str) -> bool:
    # as bytes: compare_digest refuses str with non-ASCII characters, and headers may carry any
    return hmac.compare_digest(sent.encode(), expected.encode())


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
