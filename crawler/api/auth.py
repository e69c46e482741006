"""Who is asking: API token, reviewer accounts (scrypt-hashed), a trusted proxy header, sessions.

    bearer token (TRIAGE_API_TOKEN)        -> identity "api"   (scripts, `triage submit --server`)
    trusted proxy header                   -> identity = the header's value
    session cookie (after /login)          -> identity = the reviewer's name
    none of them configured, loopback only -> identity "local"

Sessions are a signed cookie (HMAC-SHA256 over a JSON payload; stdlib only) carrying the
reviewer's name, an expiry and the CSRF token. Form posts must echo that CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from crawler.errors import SettingsError

SESSION_COOKIE = "triage_session"
SESSION_SECONDS = 12 * 3600
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


# --------------------------------------------------------------------------- passwords


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64), verified by `verify_password`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        algo, n, r, p, salt, digest = encoded.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# --------------------------------------------------------------------------- reviewer accounts


class Reviewers:
    """Reviewer accounts in a small JSON file: {"name": "scrypt$..."}; written with 0600.

    A running service sees accounts added later (`triage reviewer add`): the file is read again
    when its modification time changes.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._accounts: dict[str, str] = {}
        self._mtime: int | None = None
        self.load()

    def _stamp(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns if self.path is not None else None
        except OSError:
            return None

    def refresh(self) -> None:
        if self._stamp() != self._mtime:
            try:
                self.load()
            except SettingsError:
                pass  # a half-edited file: keep the accounts we had

    def load(self) -> None:
        self._mtime = self._stamp()
        if self.path is None or not self.path.exists():
            self._accounts = {}
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError("TRIAGE_REVIEWERS_FILE", f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise SettingsError("TRIAGE_REVIEWERS_FILE", f"{self.path}: expected {{name: hash}}")
        self._accounts = dict(data)

    def __len__(self) -> int:
        return len(self._accounts)

    def names(self) -> list[str]:
        return sorted(self._accounts)

    def check(self, name: str, password: str) -> bool:
        self.refresh()
        encoded = self._accounts.get(name)
        if encoded is None:
            verify_password(password, hash_password("x", salt=b"\0" * 16))  # same cost either way
            return False
        return verify_password(password, encoded)

    def add(self, name: str, password: str) -> None:
        if self.path is None:
            raise SettingsError("TRIAGE_REVIEWERS_FILE", "no reviewers file configured")
        if not valid_name(name):
            raise SettingsError("name", "use 1-64 letters, digits, '.', '_', '-' or '@'")
        if len(password) < 10:
            raise SettingsError("password", "use at least 10 characters")
        self._accounts[name] = hash_password(password)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._accounts, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 64 and all(c.isalnum() or c in "._-@" for c in name)


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class Session:
    user: str | None
    csrf: str
    expires: float


class SessionSigner:
    """Signs and checks session cookies: base64url(json) + "." + base64url(hmac-sha256)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"triage-session\0" + secret).digest()

    def new(self, user: str | None) -> Session:
        return Session(user, secrets.token_urlsafe(24), time.time() + SESSION_SECONDS)

    def dumps(self, session: Session) -> str:
        payload = json.dumps(
            {"u": session.user, "c": session.csrf, "e": int(session.expires)}, separators=(",", ":")
        ).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        sig = base64.urlsafe_b64encode(hmac.digest(self._key, body, "sha256")).rstrip(b"=")
        return (body + b"." + sig).decode()

    def loads(self, cookie: str | None) -> Session | None:
        if not cookie or "." not in cookie or len(cookie) > 4096:
            return None
        body, _, sig = cookie.encode("ascii", "replace").partition(b".")
        want = base64.urlsafe_b64encode(hmac.digest(self._key, body, "sha256")).rstrip(b"=")
        if not hmac.compare_digest(want, sig):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            user, csrf, expires = data["u"], data["c"], float(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time() or not isinstance(csrf, str):
            return None
        return Session(user if isinstance(user, str) else None, csrf, expires)


# --------------------------------------------------------------------------- access policy


@dataclass(frozen=True)
class AccessPolicy:
    """What the running service accepts as proof of identity."""

    api_token: str | None
    reviewers: Reviewers
    trusted_user_header: str | None
    signer: SessionSigner
    secure_cookies: bool = False

    @property
    def open(self) -> bool:
        """No authentication configured at all (allowed on loopback only)."""
        return not (self.api_token or len(self.reviewers) or self.trusted_user_header)

    def token_ok(self, authorization: str | None) -> bool:
        if not self.api_token or not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.api_token.encode()
        )
