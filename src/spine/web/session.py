"""The dashboard's login: a signed cookie naming one workspace, and who logged in.

The cookie holds no secret: the key's id (never the key), the workspace, and the CSRF
token of the session, signed with itsdangerous so that a browser can read it but not
change it. A session of an API key is checked against the key's row on every request:
a revoked or expired key ends it at once, and a key's scopes are the session's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from spine.config import Settings

#: The cookie's name.
COOKIE = "spine_session"
_SALT = "spine.web.session"


@dataclass(frozen=True, slots=True)
class WebSession:
    """Who is logged in to the dashboard, for one workspace.

    Attributes:
        workspace_id: The workspace every page shows and changes.
        key_id: The API key logged in with; ``None`` for the one-time token of
            ``spine standalone``, which acts as the operator (every scope).
        csrf: The token every form and htmx request of this session carries.
    """

    workspace_id: uuid.UUID
    key_id: uuid.UUID | None
    csrf: str

    @classmethod
    def start(cls, workspace_id: uuid.UUID, key_id: uuid.UUID | None) -> WebSession:
        """A new session, with a fresh CSRF token."""
        return cls(workspace_id=workspace_id, key_id=key_id, csrf=secrets.token_urlsafe(24))

    def csrf_matches(self, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionCodec:
    """Signs sessions into cookie values and reads them back.

    Args:
        secret: The signing key.
        max_age_seconds: How long a cookie is accepted after it was signed.
    """

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCodec:
        """The codec of a deployment: ``web_secret``, else derived from the secret key.

        Without either, a random secret: sessions last as long as this process.
        """
        secret = settings.web_secret
        if secret is None:
            fernet_key = settings.effective_secret_key()
            if fernet_key is not None:
                # Derived, so the Fernet key itself never signs anything a browser holds.
                secret = hmac.new(fernet_key.encode(), _SALT.encode(), hashlib.sha256).hexdigest()
        return cls(secret or secrets.token_urlsafe(32), settings.web_session_seconds)

    def dumps(self, session: WebSession) -> str:
        """The cookie value of ``session``."""
        return self._serializer.dumps(
            {
                "w": str(session.workspace_id),
                "k": None if session.key_id is None else str(session.key_id),
                "c": session.csrf,
            }
        )

    def loads(self, value: str | None) -> WebSession | None:
        """The session a cookie value holds; ``None`` if absent, forged, stale or malformed."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age_seconds)
            return WebSession(
                workspace_id=uuid.UUID(data["w"]),
                key_id=None if data["k"] is None else uuid.UUID(data["k"]),
                csrf=str(data["c"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None


class LoginToken:
    """The one-time login token ``spine standalone`` prints in its URL.

    Used once: the first login with it starts a session, and then it is spent.
    """

    def __init__(self, token: str | None = None) -> None:
        self._token = token

    @classmethod
    def fresh(cls) -> LoginToken:
        """A new random token."""
        return cls(secrets.token_urlsafe(24))

    @property
    def value(self) -> str | None:
        """The token, or ``None`` once spent (or when there never was one)."""
        return self._token

    def redeem(self, offered: str) -> bool:
        """Whether ``offered`` is the token; if it is, the token is spent."""
        token = self._token
        if token is None or not hmac.compare_digest(offered.encode(), token.encode()):
            return False
        self._token = None
        return True
