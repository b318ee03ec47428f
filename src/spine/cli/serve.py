"""``spine serve``: the REST API, served by uvicorn.

FastAPI and uvicorn are imported when the command runs, not when ``spine`` starts, so
``spine --help`` stays fast and works without the ``api`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from spine.cli.context import state
from spine.cli.output import console, fail

if TYPE_CHECKING:
    import uvicorn

    from spine.bootstrap import Services
    from spine.web import LoginToken

_API_MODULES = frozenset(
    {"fastapi", "starlette", "uvicorn", "pydantic", "anyio", "h11", "itsdangerous", "multipart"}
)
_UVICORN_LEVELS = frozenset({"critical", "error", "warning", "info", "debug"})


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the dashboard (/ui) until stopped."""
    cli = state(ctx)
    services = cli.services()
    # The user's workflows register, so that `POST .../runs` and `GET .../workflows` know them.
    cli.load_app()
    server = api_server(services, host=host, port=port, command="serve")
    console.print(
        f"spine API on http://{host}:{port} (OpenAPI: http://{host}:{port}/docs; "
        f"dashboard: http://{host}:{port}/ui/)",
        highlight=False,
        soft_wrap=True,
    )
    server.run()


def api_server(
    services: Services,
    *,
    host: str,
    port: int,
    command: str,
    login_token: LoginToken | None = None,
    graceful_seconds: float | None = None,
) -> uvicorn.Server:
    """A uvicorn server of the API with the dashboard at ``/ui``, over ``services``.

    Shared by ``spine serve`` and ``spine standalone``. Without the ``api`` extra, one
    error line naming it (exit 2).

    Args:
        services: What the API and the dashboard read through; the caller closes them.
        host: Address to listen on.
        port: Port to listen on.
        command: The command's name, for the error line.
        login_token: The dashboard's one-time login token (``spine standalone``); the
            session it starts is for the workspace ``services`` act in.
        graceful_seconds: How long open requests may take to finish once stopping
            (``None``: as long as they take).
    """
    from rich.markup import escape

    try:
        import uvicorn

        from spine.api import create_app
        from spine.web import mount_dashboard
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _API_MODULES:
            raise
        fail(
            escape(f"spine {command} needs the api extra: pip install 'spine-core[api]' ({error})")
        )
    app = create_app(services)
    mount_dashboard(
        app,
        services,
        login_token=login_token,
        token_workspace_id=services.actor.workspace_id,
    )
    level = services.settings.log_level.lower()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=level if level in _UVICORN_LEVELS else None,
        timeout_graceful_shutdown=None if graceful_seconds is None else int(graceful_seconds),
    )
    return _clean_exit_server(config)


def _clean_exit_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server after whose graceful stop on SIGTERM/SIGINT the process exits 0.

    uvicorn re-raises the signal it caught once it has shut down, so the process would die
    of it (exit -15, or 130 after Ctrl-C) although it stopped cleanly. Spine's
    long-running commands (worker, scheduler, delivery worker) exit 0 after a clean stop;
    ``spine serve`` does the same.
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    # Emptied before uvicorn's own exit re-raises what it caught.
                    self._captured_signals.clear()

    return Server(config)
