"""Bearer tokens: who may write to the stream (``POST /tweets``) and label (``POST /labels``).

Labels retrain the model, so whoever can post them can poison it. When
``TWEETSTREAM_API_TOKENS`` (or the file ``TWEETSTREAM_API_TOKENS_FILE``) names reviewers and
their tokens, every write needs ``Authorization: Bearer <token>`` and the reviewer is the
token's name, never what the body says; with ``TWEETSTREAM_API_READS_NEED_TOKEN`` the reads do
too (probes — ``/healthz``, ``/readyz``, ``/metrics`` — and the UI's pages stay open: they
hold no stream data and send the token typed into them). No tokens configured: no
authentication, as before. A token is compared with every configured one in constant time
(:func:`hmac.compare_digest` of SHA-256 digests) and never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from serve.ui import PAGE_PATHS
from tweetstream.errors import ConfigError
from tweetstream.schemas import reviewer_problem
from tweetstream.settings import Settings

#: what the OpenAPI spec shows for a write endpoint (the token itself is checked below)
BEARER = HTTPBearer(auto_error=False, description="A reviewer's token (TWEETSTREAM_API_TOKENS).")
#: reads that stay open even when reads need a token: liveness, readiness, metrics, and the
#: UI's pages and map cells (no stream data: the pages send the token typed into them)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"}) | PAGE_PATHS
#: the shortest token accepted (a guessable token is no authentication)
MIN_TOKEN_CHARS = 16


def _parse_tokens(raw: object, where: str) -> dict[str, SecretStr]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a JSON object of reviewer name -> token")
    tokens: dict[str, SecretStr] = {}
    for name, token in raw.items():
        problem = reviewer_problem(name)
        if problem:
            raise ConfigError(f"{where}: a reviewer name {problem}")
        value = token.get_secret_value() if isinstance(token, SecretStr) else token
        if not isinstance(value, str) or len(value) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{where}: the token of {name} must be a string of at least "
                f"{MIN_TOKEN_CHARS} characters"
            )
        tokens[name] = SecretStr(value)
    return tokens


def load_tokens(settings: Settings) -> dict[str, SecretStr]:
    """Reviewer -> token from ``api_tokens`` and ``api_tokens_file``; :class:`ConfigError`."""
    tokens = _parse_tokens(dict(settings.api_tokens), "TWEETSTREAM_API_TOKENS")
    path: Path | None = settings.api_tokens_file
    if path is not None:
        where = f"TWEETSTREAM_API_TOKENS_FILE ({path})"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"{where} cannot be read: {err.strerror}") from err
        except ValueError as err:
            raise ConfigError(f"{where} is not JSON (line {getattr(err, 'lineno', '?')})") from err
        tokens.update(_parse_tokens(raw, where))
    return tokens


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def match(tokens: Mapping[str, SecretStr], presented: str) -> str | None:
    """The reviewer whose token is ``presented``, or None; compares with every token, always."""
    given = _digest(presented)
    found: str | None = None
    for name, token in tokens.items():
        if hmac.compare_digest(given, _digest(token.get_secret_value())):
            found = name
    return found


class Auth:
    """The API's authentication, built once per app from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.tokens = load_tokens(settings)
        self.reads_need_token = settings.api_reads_need_token and bool(self.tokens)

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def _reviewer(self, credentials: HTTPAuthorizationCredentials | None) -> str:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401, "a bearer token is needed (Authorization: Bearer …)", challenge
            )
        reviewer = match(self.tokens, credentials.credentials)
        if reviewer is None:
            raise HTTPException(401, "the token is not valid", challenge)
        return reviewer

    def writer(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
    ) -> str | None:
        """Dependency of a write endpoint: the token's reviewer (None without tokens); 401."""
        if not self.enabled:
            return None
        return self._reviewer(credentials)

    async def reader(self, request: Request) -> None:
        """App-wide dependency: reads need a token only when the settings say so."""
        if not self.reads_need_token or request.method not in ("GET", "HEAD"):
            return
        if request.url.path in OPEN_PATHS:
            return
        self._reviewer(await BEARER(request))
