"""Advanced tier: a channel's circuit breaker is keyed by the channel's id.

Breakers were named ``alert-channel:<channel name>``; names are unique per workspace
only, so two workspaces' channels named ``ops`` would have shared one. They become
``alert-channel:<channel id>``. A breaker whose channel is gone is left as it is.

Downgrading names them by channel name again; a breaker whose name is then taken (a
second workspace's channel of that name) is dropped (a closed one is made again by the
next channel change; its state is lost).

Revision ID: advanced_0002
Branch: advanced
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "advanced_0002"
down_revision: str | None = "advanced_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "intermediate_0006"

_PREFIX = "alert-channel:"
# The default workspace (frozen copy of spine.core.workspaces.DEFAULT_WORKSPACE_ID).
_DEFAULT_WORKSPACE = uuid.UUID("93c8957a-5c7c-5067-826a-9d88ed98eb5c")

_breakers = sa.table(
    "circuit_breakers", sa.column("breaker_id", sa.String()), sa.column("name", sa.String())
)
_channels = sa.table(
    "core_alert_channels",
    sa.column("id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("workspace_id", sa.Uuid()),
)


def _default_first() -> sa.ColumnElement[int]:
    return sa.case(
        (_channels.c.workspace_id == sa.literal(_DEFAULT_WORKSPACE, sa.Uuid()), 0), else_=1
    )


def upgrade() -> None:
    # Before this revision every channel's breaker is named by its channel's name, and
    # every existing channel is of the default workspace (intermediate_0006).
    by_name = (
        sa.select(sa.literal(_PREFIX) + _channels.c.id)
        .where(sa.literal(_PREFIX) + _channels.c.name == _breakers.c.name)
        .order_by(_default_first(), _channels.c.id)
        .limit(1)
        .scalar_subquery()
    )
    op.execute(
        sa.update(_breakers)
        .where(
            _breakers.c.name.startswith(_PREFIX),
            sa.exists().where(sa.literal(_PREFIX) + _channels.c.name == _breakers.c.name),
        )
        .values(name=by_name)
    )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_breakers.c.breaker_id, _channels.c.name)
        .join(_channels, sa.literal(_PREFIX) + _channels.c.id == _breakers.c.name)
        .order_by(_default_first(), _channels.c.id)
    ).all()
    taken = set(bind.execute(sa.select(_breakers.c.name)).scalars())
    for breaker_id, channel_name in rows:
        old = _PREFIX + channel_name
        if old in taken:
            op.execute(sa.delete(_breakers).where(_breakers.c.breaker_id == breaker_id))
            continue
        taken.add(old)
        op.execute(
            sa.update(_breakers).where(_breakers.c.breaker_id == breaker_id).values(name=old)
        )
