"""Sources, their fetches, and database connections of a workspace.

Every route calls the sources service of the request's key (``access.services.sources``),
the one the CLI calls, so the API checks what ``spine sources add`` checks: required
config keys, no credential in clear, the outbound guard on every URL and host. Objects
are named by id in paths; another workspace's id is not found. A connection's
``password_ref`` is write-only: responses say only whether one is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from spine.api.auth import WORKSPACE_PATH, AdminAccess, ReadAccess, WriteAccess
from spine.api.pagination import Page, PageParams
from spine.api.problems import problem_responses
from spine.core.errors import InvalidInput
from spine.core.secrets import MASK
from spine.sources.models import Connection, Source
from spine.sources.store import Ref

router = APIRouter(prefix=WORKSPACE_PATH, tags=["sources"])

_TIME = "ISO-8601 time in UTC."
_NAME = "Letters, digits, '_', '.' and '-' (at most 200); unique in the workspace."


class SourceResponse(BaseModel):
    """A registered source (``core_sources``); credentials in its config are masked."""

    id: str
    name: str
    source_type: str = Field(description="file, http, database, s3 or sftp.")
    config_json: dict[str, Any]
    domain: str | None
    enabled: bool
    created_at: datetime = Field(description=_TIME)
    updated_at: datetime = Field(description=_TIME)
    created_by: str | None
    workspace_id: str

    @classmethod
    def of(cls, source: Source) -> SourceResponse:
        """The response for ``source``."""
        return cls.model_validate(source.to_dict())


class SourceCreate(BaseModel):
    """A source to register: what ``spine sources add`` takes."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200, description=_NAME)
    source_type: str = Field(max_length=20, description="file, http, database, s3 or sftp.")
    config_json: dict[str, Any] = Field(
        description="The type's config (`path`, `url`, `connection` + `query` ...); "
        "credentials only as references (`password_ref: env:VAR`)."
    )
    domain: str | None = Field(default=None, max_length=200)


class SourcePatch(BaseModel):
    """What to change in a source; absent fields stay, `domain: null` removes it."""

    model_config = ConfigDict(extra="ignore")

    config_json: dict[str, Any] | None = Field(
        default=None, description="The whole new config (checked as on create)."
    )
    domain: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class FetchRequestBody(BaseModel):
    """How to fetch: placeholder values and whether to fetch even when unchanged."""

    model_config = ConfigDict(extra="ignore")

    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Placeholder values, as `--param key=value`."
    )
    force: bool = Field(default=False, description="Fetch even when unchanged.")


class FetchResponse(BaseModel):
    """One fetch of a source (``core_source_fetches``)."""

    id: str
    source_id: str | None
    source_name: str
    source_type: str
    source_locator: str | None
    status: str = Field(description="SUCCESS, UNCHANGED, NOT_FOUND or FAILED.")
    record_count: int | None
    byte_count: int | None
    content_hash: str | None
    etag: str | None
    last_modified: str | None
    started_at: datetime = Field(description=_TIME)
    completed_at: datetime | None = Field(description=_TIME)
    duration_ms: int | None
    error: str | None
    error_category: str | None
    retry_count: int
    execution_id: str | None
    run_id: str | None
    capture_id: str | None
    metadata_json: dict[str, Any] | None


class ConnectionResponse(BaseModel):
    """A database connection (``core_database_connections``); never its password."""

    id: str
    name: str
    dialect: str
    host: str | None
    port: int | None
    database: str
    username: str | None
    password_ref: str | None = Field(
        description=f"`{MASK}` when a password reference is set (write-only), else null."
    )
    pool_size: int
    max_overflow: int
    pool_timeout: int
    enabled: bool
    last_connected_at: datetime | None = Field(description=_TIME)
    last_error: str | None
    last_error_at: datetime | None = Field(description=_TIME)
    created_at: datetime = Field(description=_TIME)
    updated_at: datetime = Field(description=_TIME)
    created_by: str | None
    workspace_id: str
    allow_samples: bool = Field(
        description="Whether quality checks may keep samples of failed rows read through it."
    )
    status: str = Field(
        description="Spec 004 `connections.status`: unknown, healthy (last test passed), "
        "unhealthy (the database refused or could not be reached), error (spine could not "
        "try: driver, setting, password reference)."
    )
    last_tested_at: datetime | None = Field(description=_TIME)

    @classmethod
    def of(cls, connection: Connection) -> ConnectionResponse:
        """The response for ``connection``, its password reference masked."""
        values = connection.to_dict()
        values["password_ref"] = MASK if connection.password_ref else None
        return cls.model_validate(values)


_PORT = Field(default=None, ge=1, le=65535)
_REF = Field(
    default=None,
    max_length=500,
    description="`env:VAR` or `file:PATH`: the password is resolved at use, never stored.",
)
_PASSWORD = Field(
    default=None, description="Refused: give `password_ref`; spine never stores a password."
)


class ConnectionCreate(BaseModel):
    """A connection to register: what ``spine connections add`` takes."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200, description=_NAME)
    dialect: str = Field(max_length=20, description="sqlite, postgresql, mysql, duckdb or db2.")
    database: str = Field(min_length=1, max_length=500, description="Name, or file for sqlite.")
    host: str | None = Field(default=None, max_length=255)
    port: int | None = _PORT
    username: str | None = Field(default=None, max_length=200)
    password_ref: str | None = _REF
    password: str | None = _PASSWORD
    pool_size: int = Field(default=5, ge=1, le=1000)
    max_overflow: int = Field(default=10, ge=0, le=1000)
    pool_timeout: int = Field(default=30, ge=1, le=3600)
    allow_samples: bool = Field(
        default=True, description="False keeps failed-row samples of checks away (PII)."
    )


class ConnectionPatch(BaseModel):
    """What to change in a connection; absent fields stay (the name cannot change)."""

    model_config = ConfigDict(extra="ignore")

    dialect: str | None = Field(default=None, max_length=20)
    database: str | None = Field(default=None, min_length=1, max_length=500)
    host: str | None = Field(default=None, max_length=255)
    port: int | None = _PORT
    username: str | None = Field(default=None, max_length=200)
    password_ref: str | None = _REF
    password: str | None = _PASSWORD
    pool_size: int | None = Field(default=None, ge=1, le=1000)
    max_overflow: int | None = Field(default=None, ge=0, le=1000)
    pool_timeout: int | None = Field(default=None, ge=1, le=3600)
    enabled: bool | None = None
    allow_samples: bool | None = None


class ConnectionTestResponse(BaseModel):
    """Whether spine could connect and run `SELECT 1`, and the connection's status."""

    ok: bool
    error: str | None = Field(description="Why not (the driver's first line; no password).")
    error_category: str | None
    connection: ConnectionResponse


def _no_password(body: ConnectionCreate | ConnectionPatch) -> None:
    if body.password is not None:
        raise InvalidInput(
            "a connection takes password_ref (env:VAR or file:PATH), not a password: "
            "spine never stores one"
        )


# -- sources --------------------------------------------------------------------------


@router.get(
    "/sources",
    response_model=Page[SourceResponse],
    responses=problem_responses(400, 401, 403, 404, 422, 429, 503),
    description="The workspace's sources by name.",
)
def list_sources(access: ReadAccess, page: PageParams) -> Page[SourceResponse]:
    """List the workspace's sources, by name."""
    after = page.after if isinstance(page.after, str) else None
    found = access.services.sources.list_sources(after=after, limit=page.limit + 1)
    items, cursor = page.page(found, lambda source: source.name)
    return Page[SourceResponse](items=[SourceResponse.of(s) for s in items], next_cursor=cursor)


@router.post(
    "/sources",
    status_code=201,
    response_model=SourceResponse,
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    description="Register a source (as `spine sources add`).",
)
def create_source(access: WriteAccess, body: SourceCreate) -> SourceResponse:
    """Register a source in the workspace."""
    source = access.services.sources.add(
        body.name, body.source_type, body.config_json, domain=body.domain
    )
    return SourceResponse.of(source)


@router.get(
    "/sources/{source_id}",
    response_model=SourceResponse,
    responses=problem_responses(401, 403, 404, 429, 503),
)
def get_source(source_id: str, access: ReadAccess) -> SourceResponse:
    """One source of the workspace."""
    return SourceResponse.of(access.services.sources.get(Ref.id(source_id)))


@router.patch(
    "/sources/{source_id}",
    response_model=SourceResponse,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    description="Change a source's config, domain or enabled flag (the name is fixed).",
)
def update_source(source_id: str, access: WriteAccess, body: SourcePatch) -> SourceResponse:
    """Change a source."""
    given = body.model_fields_set
    source = access.services.sources.update(
        Ref.id(source_id),
        config=body.config_json,
        domain=body.domain,
        enabled=body.enabled,
        clear_domain="domain" in given and body.domain is None,
    )
    return SourceResponse.of(source)


@router.delete(
    "/sources/{source_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 429, 503),
    description="Remove a source; its fetch history stays.",
)
def delete_source(source_id: str, access: WriteAccess) -> Response:
    """Remove a source."""
    access.services.sources.remove(Ref.id(source_id))
    return Response(status_code=204)


@router.post(
    "/sources/{source_id}/fetch",
    response_model=FetchResponse,
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    description="Fetch the source now and return the fetch row: a failed fetch is a row "
    "with status FAILED or NOT_FOUND, not an error. A disabled source gets 409.",
)
def fetch_source(
    source_id: str,
    access: WriteAccess,
    body: Annotated[FetchRequestBody | None, Body()] = None,
) -> FetchResponse:
    """Fetch a source now."""
    request = body or FetchRequestBody()
    service = access.services.sources
    result = service.fetch(Ref.id(source_id), dict(request.params), force=request.force)
    row = service.get_fetch(result.fetch_id)
    return FetchResponse.model_validate(row if row is not None else result.to_dict())


@router.get(
    "/sources/{source_id}/fetches",
    response_model=Page[FetchResponse],
    responses=problem_responses(400, 401, 403, 404, 422, 429, 503),
    description="The source's fetches, newest first.",
)
def list_fetches(source_id: str, access: ReadAccess, page: PageParams) -> Page[FetchResponse]:
    """List a source's fetches, newest first."""
    before = page.after if isinstance(page.after, str) else None
    rows = access.services.sources.fetches(Ref.id(source_id), page.limit + 1, before=before)
    items, cursor = page.page(rows, lambda row: str(row["id"]))
    return Page[FetchResponse](
        items=[FetchResponse.model_validate(r) for r in items], next_cursor=cursor
    )


# -- connections ----------------------------------------------------------------------


@router.get(
    "/connections",
    response_model=Page[ConnectionResponse],
    responses=problem_responses(400, 401, 403, 404, 422, 429, 503),
    description="The workspace's database connections by name (never a password).",
)
def list_connections(access: ReadAccess, page: PageParams) -> Page[ConnectionResponse]:
    """List the workspace's connections, by name."""
    after = page.after if isinstance(page.after, str) else None
    found = access.services.sources.connections.list_connections(after=after, limit=page.limit + 1)
    items, cursor = page.page(found, lambda connection: connection.name)
    return Page[ConnectionResponse](
        items=[ConnectionResponse.of(c) for c in items], next_cursor=cursor
    )


@router.post(
    "/connections",
    status_code=201,
    response_model=ConnectionResponse,
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    description="Register a database connection (as `spine connections add`): a password "
    "only as `password_ref`.",
)
def create_connection(access: AdminAccess, body: ConnectionCreate) -> ConnectionResponse:
    """Register a connection in the workspace."""
    _no_password(body)
    connection = access.services.sources.connections.add(
        body.name,
        dialect=body.dialect.strip().lower(),
        database=body.database,
        host=body.host,
        port=body.port,
        username=body.username,
        password_ref=body.password_ref,
        pool_size=body.pool_size,
        max_overflow=body.max_overflow,
        pool_timeout=body.pool_timeout,
        allow_samples=body.allow_samples,
    )
    return ConnectionResponse.of(connection)


@router.get(
    "/connections/{connection_id}",
    response_model=ConnectionResponse,
    responses=problem_responses(401, 403, 404, 429, 503),
)
def get_connection(connection_id: str, access: ReadAccess) -> ConnectionResponse:
    """One connection of the workspace."""
    return ConnectionResponse.of(access.services.sources.connections.get(Ref.id(connection_id)))


@router.patch(
    "/connections/{connection_id}",
    response_model=ConnectionResponse,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
    description="Change a connection (the name is fixed); `password_ref: null` removes it.",
)
def update_connection(
    connection_id: str, access: AdminAccess, body: ConnectionPatch
) -> ConnectionResponse:
    """Change a connection."""
    _no_password(body)
    changes = {
        key: getattr(body, key)
        for key in body.model_fields_set
        if key != "password"
        and (getattr(body, key) is not None or key in ("host", "port", "username", "password_ref"))
    }
    if isinstance(changes.get("dialect"), str):
        changes["dialect"] = changes["dialect"].strip().lower()
    connection = access.services.sources.connections.update(Ref.id(connection_id), changes)
    return ConnectionResponse.of(connection)


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 429, 503),
    description="Remove a connection. Its quality checks (with their results and "
    "incidents) go with it: refused (409) while it has checks unless `force=true`.",
)
def delete_connection(connection_id: str, access: AdminAccess, force: bool = False) -> Response:
    """Remove a connection."""
    access.services.sources.connections.remove(Ref.id(connection_id), force=force)
    return Response(status_code=204)


@router.post(
    "/connections/{connection_id}/test",
    response_model=ConnectionTestResponse,
    responses=problem_responses(401, 403, 404, 429, 503),
    description="Connect and run `SELECT 1`; records `last_connected_at` or `last_error`, "
    "and `status`/`last_tested_at`. "
    "A failure to connect is an answer (`ok: false`), not an error.",
)
def test_connection(connection_id: str, access: AdminAccess) -> ConnectionTestResponse:
    """Test a connection."""
    connection, error = access.services.sources.connections.check(Ref.id(connection_id))
    return ConnectionTestResponse(
        ok=error is None,
        error=None if error is None else str(error),
        error_category=None if error is None else error.category.value,
        connection=ConnectionResponse.of(connection),
    )
