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
    from rich.markup import escape

    try:
        import uvicorn

        from spine.api import create_app
        from spine.web import mount_dashboard
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _API_MODULES:
            raise
        fail(escape(f"spine serve needs the api extra: pip install 'spine-core[api]' ({error})"))
    cli = state(ctx)
    services = cli.services()
    # The user's workflows register, so that `POST .../runs` and `GET .../workflows` know them.
    cli.load_app()
    app = create_app(services)
    mount_dashboard(app, services)
    level = services.settings.log_level.lower()
    console.print(
        f"spine API on http://{host}:{port} (OpenAPI: http://{host}:{port}/docs; "
        f"dashboard: http://{host}:{port}/ui/)",
        highlight=False,
        soft_wrap=True,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level=level if level in _UVICORN_LEVELS else None
    )
    _clean_exit_server(config).run()


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
