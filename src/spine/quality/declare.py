"""Checks as code: reading a YAML document of checks into :class:`CheckSpec` s.

``spine checks apply FILE.yaml`` reads the document (:func:`parse_document`), compares it
with the workspace's checks (:func:`spine.quality.declare_plan.make_plan`), prints the
plan, and writes it (:func:`spine.quality.declare_plan.apply_plan`). The document is the
truth for the checks it names: a field left out takes its default (no schedule, no
description, enabled), so that applying the same file twice finds nothing to do. Checks
the document does not name are left alone unless ``--prune`` asks to delete them.

Everything is checked before anything is written: the document's shape here, then
each check's type, config, thresholds, connection and schedule
(:func:`spine.quality.declare_plan.validate_specs`). A write that the database still
refuses (a table it does not have) undoes the writes before it, so that a bad document
leaves the workspace as it was.

The format (docs/quality.md, "Checks as code")::

    defaults:                 # optional; applied to each check that does not say
      connection: warehouse
      table: public.orders
      severity: error
      tags: [orders]
    checks:
      - name: orders_not_empty
        type: row_count
        config: {min: 1}
      - name: orders_customer_nulls
        type: null_percent
        column: customer_id
        config: {warning: {max: 1}, error: {max: 5}}
        cron: "*/30 * * * *"
        timezone: Europe/Zurich
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import json_object
from spine.quality.models import Severity

#: The keys a check of the document may hold, and what each must be.
CHECK_KEYS: Mapping[str, str] = {
    "name": "text",
    "connection": "text",
    "type": "text",
    "table": "text",
    "column": "text",
    "config": "mapping",
    "severity": "warning, error or fatal",
    "tags": "list of text",
    "cron": "text",
    "timezone": "text",
    "description": "text",
    "enabled": "true or false",
}
#: The keys ``defaults:`` may hold.
DEFAULT_KEYS = ("connection", "table", "severity", "tags")
_TOP_KEYS = ("defaults", "checks")
_REQUIRED = ("name", "connection", "type", "table")
_MAX_TEXT = 255  # check_definitions' VARCHAR(255) columns
#: The fields a plan compares, in the order a diff lists them.
FIELDS = (
    "connection",
    "check_type",
    "table",
    "column",
    "config",
    "severity",
    "tags",
    "cron",
    "timezone",
    "description",
    "enabled",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    """One check as the document declares it, defaults applied.

    The attributes are the arguments of ``QualityService.add_check`` (``table`` may be
    ``SCHEMA.TABLE``; ``timezone`` only matters with ``cron``).
    """

    name: str
    connection: str
    check_type: str
    table: str
    column: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    severity: str = Severity.ERROR.value
    tags: tuple[str, ...] = ()
    cron: str | None = None
    timezone: str = "UTC"
    description: str | None = None
    enabled: bool = True

    def values(self) -> dict[str, Any]:
        """The compared fields (:data:`FIELDS`) and their values."""
        return {
            "connection": self.connection,
            "check_type": self.check_type,
            "table": self.table,
            "column": self.column,
            "config": self.config,
            "severity": self.severity,
            "tags": list(self.tags),
            "cron": self.cron,
            "timezone": self.timezone if self.cron else None,
            "description": self.description,
            "enabled": self.enabled,
        }


# -- reading the document ---------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing a key given twice in one mapping.

    PyYAML keeps the last of two equal keys silently; a check declared with two
    ``config:`` blocks must be an error, not half of what was written.
    """


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise InvalidInput(f"line {mark.line + 1}: {key!r} is given twice in the same mapping")
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_document(text: str, source: str = "document") -> list[CheckSpec]:
    """The checks a YAML document declares, defaults applied, in document order.

    Args:
        text: The document.
        source: What to call it in errors (the file's name).

    Raises:
        InvalidInput: One line naming ``source``, the check (by name or position) and
            the field: not YAML, not the format, a required field missing, a value of
            the wrong kind, an unknown key, or a name given twice.
    """
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except InvalidInput as error:
        raise InvalidInput(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise InvalidInput(f"{source}: not valid YAML: {_yaml_error(error)}") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{source}: expected a mapping with a 'checks:' list")
    unknown = sorted(str(k) for k in document if k not in _TOP_KEYS)
    if unknown:
        raise InvalidInput(
            f"{source}: unknown top-level key {unknown[0]!r} (expected defaults, checks)"
        )
    defaults = _defaults(document.get("defaults"), source)
    checks = document.get("checks")
    if not isinstance(checks, list):
        raise InvalidInput(f"{source}: 'checks' must be a list of checks")
    specs: list[CheckSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(checks, start=1):
        spec = _spec(raw, defaults, f"{source}: check #{index}")
        if spec.name in seen:
            raise InvalidInput(f"{source}: check {spec.name!r}: field 'name': declared twice")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def _yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def _defaults(raw: Any, source: str) -> dict[str, Any]:
    if raw is None:
        return {}
    where = f"{source}: defaults"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: must be a mapping")
    for key in raw:
        if key not in DEFAULT_KEYS:
            raise InvalidInput(
                f"{where}: unknown key {str(key)!r} (expected {', '.join(DEFAULT_KEYS)})"
            )
    return {key: _field(key, value, where) for key, value in raw.items()}


def _spec(raw: Any, defaults: Mapping[str, Any], where: str) -> CheckSpec:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: must be a mapping with name, type, ...")
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        where = f"{where.rsplit(': check #', 1)[0]}: check {name!r}"
    for key in raw:
        if key not in CHECK_KEYS:
            raise InvalidInput(
                f"{where}: unknown field {str(key)!r} (expected {', '.join(CHECK_KEYS)})"
            )
    values = {**defaults, **{key: _field(key, value, where) for key, value in raw.items()}}
    for key in _REQUIRED:
        if values.get(key) is None:
            raise InvalidInput(f"{where}: field {key!r}: required")
    if values.get("timezone") is not None and values.get("cron") is None:
        raise InvalidInput(f"{where}: field 'timezone': given without 'cron'")
    return CheckSpec(
        name=values["name"],
        connection=values["connection"],
        check_type=values["type"],
        table=values["table"],
        column=values.get("column"),
        config=values.get("config") or {},
        severity=values.get("severity") or Severity.ERROR.value,
        tags=tuple(values.get("tags") or ()),
        cron=values.get("cron"),
        timezone=values.get("timezone") or "UTC",
        description=values.get("description"),
        enabled=values.get("enabled", True),
    )


def _field(key: str, value: Any, where: str) -> Any:
    """``value`` of field ``key``, checked for its kind; ``None`` means not given."""
    at = f"{where}: field {key!r}"
    if value is None:
        if key in _REQUIRED:
            raise InvalidInput(f"{at}: required")
        return None
    kind = CHECK_KEYS[key]
    if kind == "text":
        return _text(value, at)
    if key == "severity":
        text = value if isinstance(value, str) else None
        if text not in {s.value for s in Severity}:
            raise InvalidInput(f"{at}: must be warning, error or fatal, not {value!r}")
        return text
    if key == "enabled":
        if not isinstance(value, bool):
            raise InvalidInput(f"{at}: must be true or false, not {value!r}")
        return value
    if key == "tags":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise InvalidInput(f"{at}: must be a list of text")
        tags = [_text(item, at) for item in items]
        if len(set(tags)) != len(tags):
            raise InvalidInput(f"{at}: a tag is given twice")
        return tags
    # config
    if not isinstance(value, dict):
        raise InvalidInput(f"{at}: must be a mapping, e.g. {{max: 5}}")
    return json_object(value, at.replace("field 'config'", "config"))


def _text(value: Any, at: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{at}: must be text, not {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise InvalidInput(f"{at}: must not be empty")
    if len(text) > _MAX_TEXT:
        raise InvalidInput(f"{at}: longer than {_MAX_TEXT} characters")
    if "\x00" in text:
        raise InvalidInput(f"{at}: must not contain NUL characters")
    return text
