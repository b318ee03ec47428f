"""Tenancy's use cases: keys made and checked, workspaces found, the audit log read.

The CLI and the API call the same methods; the API adds only HTTP.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta

from spine.core.clock import Clock
from spine.core.errors import InvalidInput
from spine.tenancy import keys
from spine.tenancy.audit import entity_uuid
from spine.tenancy.errors import PermissionDenied, Unauthenticated
from spine.tenancy.models import (
    OPERATOR,
    Actor,
    ApiKey,
    ApiScope,
    AuditAction,
    AuditEntry,
    NewApiKey,
    Organization,
    Role,
    User,
    Workspace,
)
from spine.tenancy.store import ApiKeyNotFound, TenancyStore
from spine.tenancy.store.roles import RoleStore

#: ``last_used_at`` is written at most this often per key and process, so that a busy
#: key costs no write per request; the column is at most this stale.
LAST_USED_RESOLUTION = timedelta(seconds=60)
#: A key found by :meth:`TenancyService.authenticate` is not read again for this long
#: (per process): a key check is then a SHA-256 and a dictionary lookup. Revoking in
#: this process takes effect at once; a revocation by another process (the CLI, another
#: API process) within this many seconds. Expiry is judged on every request.
_MAX_CACHED_KEYS = 10_000
#: The longest expiry ``keys create --expires-in-days`` takes (ten years).
MAX_EXPIRY_DAYS = 3650


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> frozenset[ApiScope]:
    """Scopes from ``"read,write"`` or a list of names.

    Raises:
        InvalidInput: If a name is not a scope, or none is given.
    """
    names = text.split(",") if isinstance(text, str) else list(text)
    found: set[ApiScope] = set()
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        try:
            found.add(ApiScope(name))
        except ValueError:
            known = ", ".join(s.value for s in ApiScope)
            raise InvalidInput(f"unknown scope {raw.strip()!r}: expected {known}") from None
    if not found:
        raise InvalidInput("give at least one scope: read, write or admin")
    return frozenset(found)


class TenancyService:
    """Organizations, workspaces, users, API keys and the audit log.

    Args:
        store: Where they are kept.
        clock: The clock expiry and last use are judged by.
        key_cache_seconds: How long a checked key is trusted without reading its row
            again. 0 (the default) reads it on every request, so that a key revoked by
            any process is refused at once; more saves that read, and a revocation made
            elsewhere then takes up to this long to reach this process.
    """

    def __init__(
        self, store: TenancyStore, clock: Clock, *, key_cache_seconds: float = 0.0
    ) -> None:
        self.store = store
        self.clock = clock
        self.key_cache_seconds = key_cache_seconds
        self._used_lock = threading.Lock()
        self._last_written: dict[uuid.UUID, datetime] = {}
        self._cache_lock = threading.Lock()
        # A checked key by its digest, and when its row was read (time.monotonic()).
        self._verified: dict[str, tuple[ApiKey, float]] = {}

    # --------------------------------------------------------------- tenants

    def create_organization(self, name: str) -> Organization:
        """Create an organization (see :meth:`TenancyStore.create_organization`)."""
        return self.store.create_organization(_name(name, "organization"))

    def organizations(self) -> list[Organization]:
        """Every organization."""
        return self.store.organizations()

    def create_workspace(self, name: str, organization: str, actor: Actor) -> Workspace:
        """Create a workspace in ``organization``."""
        return self.store.create_workspace(_name(name, "workspace"), organization, actor)

    def workspaces(self) -> list[Workspace]:
        """Every workspace."""
        return self.store.workspaces()

    def workspace(self, ref: str) -> Workspace:
        """The workspace named by id, ``ORG/NAME`` or an unambiguous ``NAME``."""
        return self.store.workspace(ref)

    def add_user(self, email: str, display_name: str | None = None) -> User:
        """Add a user (spec 003's ``core.users``).

        Raises:
            InvalidInput: If ``email`` does not look like one.
        """
        address = email.strip()
        local, _, domain = address.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in address):
            raise InvalidInput(f"not an email address: {email!r}")
        return self.store.add_user(address, display_name)

    def users(self) -> list[User]:
        """Every user."""
        return self.store.users()

    # ------------------------------------------------------------------ roles

    def add_role(
        self, name: str, description: str | None = None, *, actor: Actor = OPERATOR
    ) -> Role:
        """Add a role to ``actor``'s workspace (alerts are addressed to it by name).

        Raises:
            Conflict: If the workspace has a role of that name.
            InvalidInput: If the name is empty or too long.
        """
        return self._roles.add(actor, name, description)

    def assign_role(self, role: str, email: str, *, actor: Actor = OPERATOR) -> Role:
        """Give the user with ``email`` the role ``role`` of ``actor``'s workspace.

        Raises:
            RoleNotFound: If the workspace has no such role.
            UserNotFound: If no user has that email.
        """
        return self._roles.assign(actor, role, email)

    def roles(self, *, actor: Actor = OPERATOR) -> list[Role]:
        """The roles of ``actor``'s workspace by name, with their members' emails."""
        return self._roles.roles(actor.workspace_id)

    @property
    def _roles(self) -> RoleStore:
        return RoleStore(self.store.database, self.store.clock.now)

    # --------------------------------------------------------------- API keys

    def create_key(
        self,
        actor: Actor,
        *,
        name: str,
        scopes: frozenset[ApiScope],
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> NewApiKey:
        """Make a key for ``actor``'s workspace; the key itself is in the result only.

        ``user``: the email of the user the key acts for (its requests'
        ``Actor.user_id``: ``alerts/mine``, acknowledging alerts).

        Raises:
            PermissionDenied: If ``scopes`` holds one ``actor`` lacks (a key never
                grants what its creator does not hold).
            InvalidInput: If the name is empty or the expiry out of range.
            UserNotFound: If ``user`` is given and no user has that email.
        """
        missing = scopes - actor.scopes
        if missing:
            names = ", ".join(sorted(s.value for s in missing))
            raise PermissionDenied(f"a key cannot grant a scope it lacks: {names}")
        if not scopes:
            raise InvalidInput("give at least one scope: read, write or admin")
        expires_at = None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
                raise InvalidInput(f"expires-in-days must be from 1 to {MAX_EXPIRY_DAYS}")
            expires_at = self.clock.now() + timedelta(days=expires_in_days)
        secret = keys.new_key()
        record = self.store.add_key(
            actor,
            name=_name(name, "key"),
            prefix=keys.key_prefix(secret),
            key_digest=keys.digest(secret),
            scopes=scopes,
            expires_at=expires_at,
            user=user,
        )
        return NewApiKey(key=record, secret=secret)

    def keys(
        self,
        actor: Actor,
        *,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int | None = None,
    ) -> list[ApiKey]:
        """The keys of ``actor``'s workspace, revoked ones too, newest first.

        ``after`` (``(created_at, id)`` of the last key shown) and ``limit`` page it.
        """
        return self.store.keys(actor.workspace_id, after=after, limit=limit)

    def revoke_key(self, actor: Actor, key_id: uuid.UUID | str) -> ApiKey:
        """Revoke a key of ``actor``'s workspace; it gets 401 from then on.

        Raises:
            ApiKeyNotFound: If the workspace has no such key (or ``key_id`` is no id).
        """
        revoked = self.store.revoke_key(actor, _key_id(key_id))
        self._forget(revoked.id)
        return revoked

    def key(self, actor: Actor, key_id: uuid.UUID | str) -> ApiKey:
        """One key of ``actor``'s workspace.

        Raises:
            ApiKeyNotFound: If the workspace has no such key (or ``key_id`` is no id).
        """
        return self.store.key(actor.workspace_id, _key_id(key_id))

    def authenticate(self, token: str) -> ApiKey:
        """The usable key ``token`` is.

        Looked up by prefix, compared by digest in constant time; a key found is kept
        in this process for ``key_cache_seconds``, by its digest. ``last_used_at``
        is written at most once per :data:`LAST_USED_RESOLUTION` per key and process.

        Raises:
            Unauthenticated: If ``token`` is malformed, unknown, expired or revoked.
        """
        if not keys.well_formed(token):
            raise Unauthenticated()
        now = self.clock.now()
        token_digest = keys.digest(token)
        found = self._cached(token_digest)
        if found is None:
            for candidate, stored in self.store.keys_with_prefix(keys.key_prefix(token)):
                # Every candidate is compared, so the time taken does not tell which matched.
                if keys.same_digest(token_digest, stored) and found is None:
                    found = candidate
            if found is not None:
                self._remember(token_digest, found)
        if found is None or not found.usable_at(now):
            raise Unauthenticated()
        self._note_use(found.id, now)
        return found

    def _cached(self, token_digest: str) -> ApiKey | None:
        if self.key_cache_seconds <= 0:
            return None
        with self._cache_lock:
            entry = self._verified.get(token_digest)
        if entry is None or time.monotonic() - entry[1] >= self.key_cache_seconds:
            return None
        return entry[0]

    def _remember(self, token_digest: str, key: ApiKey) -> None:
        if self.key_cache_seconds <= 0:
            return
        with self._cache_lock:
            if len(self._verified) >= _MAX_CACHED_KEYS:
                self._verified.clear()
            self._verified[token_digest] = (key, time.monotonic())

    def _forget(self, key_id: uuid.UUID) -> None:
        with self._cache_lock:
            for token_digest in [d for d, (k, _) in self._verified.items() if k.id == key_id]:
                del self._verified[token_digest]

    def _note_use(self, key_id: uuid.UUID, now: datetime) -> None:
        with self._used_lock:
            last = self._last_written.get(key_id)
            if last is not None and now - last < LAST_USED_RESOLUTION:
                return
            self._last_written[key_id] = now
        self.store.mark_used([key_id], now)

    # -------------------------------------------------------------- audit log

    def audit_entries(
        self,
        actor: Actor,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """The audit entries of ``actor``'s workspace, newest first.

        ``action`` keeps only the creations, updates or deletions.

        ``entity_id`` may be a UUID or a ULID (``core_*`` ids are kept in UUID form).

        Raises:
            InvalidInput: If ``entity_id`` is neither.
        """
        wanted: uuid.UUID | None = None
        if entity_id is not None:
            try:
                wanted = entity_uuid(entity_id.strip())
            except ValueError:
                raise InvalidInput(f"not a UUID or ULID: {entity_id!r}") from None
        return self.store.audit_entries(
            actor.workspace_id,
            entity_type=entity_type,
            entity_id=wanted,
            action=action,
            since=since,
            before_id=before_id,
            limit=limit,
        )


def _key_id(key_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(key_id, uuid.UUID):
        return key_id
    try:
        return uuid.UUID(key_id.strip())
    except ValueError:
        raise ApiKeyNotFound(key_id) from None


def _name(name: str, what: str) -> str:
    text = name.strip()
    if not text:
        raise InvalidInput(f"a {what} needs a name")
    return text
