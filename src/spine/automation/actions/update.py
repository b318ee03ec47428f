"""``update_field``: set a column of the row whose change fired the rule.

Config::

    field: status
    value: "checked by {{ rule.name }}"
    key: [id]                           # the row's primary key columns (default: id)

The row is found by its key's values in the change (the new row, else the old one).
The update runs at the change's depth plus one: if it changes a watched table, the
change it causes carries that depth, and past ``automation_max_depth`` it is recorded,
not acted on (a rule that updates its own table cannot loop for ever).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from spine.automation.actions import common
from spine.automation.models import SPINE_TABLES, ActionContext, ActionType, Operation
from spine.automation.store.rows import update_row
from spine.core.errors import InvalidInput, SpineError
from spine.core.events import Connection


def _key(config: Mapping[str, Any]) -> list[str]:
    names = [str(k) for k in common.items(config, "key", required=False)] or ["id"]
    if any(not n.strip() for n in names):
        raise InvalidInput("config.key: column names may not be empty")
    return names


class UpdateField:
    """Sets one column of the changed row."""

    action_type = ActionType.UPDATE_FIELD

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        """A field to set and a value (``null`` allowed, but the key must be given)."""
        common.text(config, "field")
        if "value" not in config:
            raise InvalidInput("config.value: required (null clears the field)")
        _key(config)

    def perform(self, conn: Connection, ctx: ActionContext) -> Mapping[str, Any]:
        """Update the row; return how many rows changed (exactly one, or it failed)."""
        change = ctx.change
        try:
            if change.operation is Operation.DELETE:
                raise InvalidInput("the row was deleted: there is nothing to update")
            if change.table_name in SPINE_TABLES:
                raise InvalidInput(f"spine's own table {change.table_name} is not updated")
            field = str(common.text(ctx.config, "field"))
            row = change.row()
            key = {}
            for name in _key(ctx.config):
                if row.get(name) is None:
                    raise InvalidInput(f"config.key: the row has no value for {name!r}")
                key[name] = row[name]
            updated = update_row(
                conn,
                table=change.table_name,
                schema=change.schema_name,
                key=key,
                values={field: ctx.config.get("value")},
                depth=change.depth + 1,
            )
            if updated == 0:
                raise InvalidInput(f"no row of {change.table_name} has {key}: it is gone")
        except SpineError as error:
            raise common.failed(error) from None
        return {"table": change.table_name, "field": field, "key": key, "updated": updated}
