"""The runner's pinned write connection (``Database.pinned``) and failures to connect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.errors import DatabaseUnavailable
from spine.core.storage import Database
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.conftest import postgres_url


@contextmanager
def refusing_connections(db: Database) -> Iterator[None]:
    """PostgreSQL refuses new connections to ``db``, and its open ones are closed."""
    url = postgres_url()
    assert url is not None
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = db.url.database
    with admin.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        admin.dispose()


def test_a_database_that_cannot_be_reached_when_a_run_starts_is_retried_and_reported(
    db: Database, runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("needs a server that can refuse connections")
    Workflow("wf", [Step.lambda_("s", lambda ctx: None)], registry=workflows)
    run = runner.submit("wf")
    claim = runner.claim(run_id=run.run_id)
    assert claim is not None

    # As before pinning: the first read is retried, then reported as unavailable (not a
    # raw driver error from checking out the pinned connection).
    with refusing_connections(db), pytest.raises(DatabaseUnavailable):
        runner.execute(claim)

    finished = runner.execute(claim)
    assert finished is not None and finished.status.value == "COMPLETED"
