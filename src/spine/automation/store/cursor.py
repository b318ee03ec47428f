"""Moving the dispatcher's cursor only from where this dispatcher left it.

:meth:`ChangeLog.advance` never moves a cursor back; the dispatcher needs more: a
``replay`` that rewinds the cursor while a pass is under way must not be undone by the
pass finishing, and two dispatchers must not skip each other's place. So the dispatcher
moves the cursor from the position it read (a compare-and-set); when the cursor was
moved meanwhile, the pass stops and the next one reads from the new position.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_cursors as cursors_t

__all__ = ["move_cursor"]


def move_cursor(
    database: Database, name: str, *, expected: int, position: int, at: datetime
) -> bool:
    """Set cursor ``name`` to ``position`` if it is still at ``expected``; return whether it was.

    A cursor that does not exist yet counts as being at 0 (it is made).
    """

    def work(conn: sa.Connection) -> bool:
        moved = conn.execute(
            cursors_t.update()
            .where(cursors_t.c.name == name, cursors_t.c.position == expected)
            .values(position=position, updated_at=at)
        ).rowcount
        if moved:
            return True
        if expected != 0:
            return False
        exists = conn.execute(
            sa.select(cursors_t.c.name).where(cursors_t.c.name == name)
        ).scalar_one_or_none()
        if exists is not None:
            return False
        if conn.dialect.name == "postgresql":
            # Two dispatchers may both find no cursor yet: the second one's insert does
            # nothing, and it has not moved the cursor.
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            inserted = conn.execute(
                pg_insert(cursors_t)
                .values(name=name, position=position, updated_at=at)
                .on_conflict_do_nothing()
            ).rowcount
            return bool(inserted)
        conn.execute(cursors_t.insert().values(name=name, position=position, updated_at=at))
        return True

    # Idempotent: after a lost COMMIT the retry finds the cursor at ``position`` and
    # returns False, which only ends the pass early.
    return database.run_write(work, idempotent=True)
