"""A source's config: its type, the keys it needs, credentials kept out, its audit view.

A config names credentials only by reference (``<key>_ref: env:VAR`` or ``file:PATH``):
a credential in clear is refused. An audit entry shows references and credentials
masked, each also as a field of its own that the store records only as changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import json_object
from spine.core.secrets import check_secret_ref, is_secret_key, is_secret_ref, redact
from spine.sources.connections import check_name
from spine.sources.models import Source, SourceType

SECRET_MARK = "[secret]"

REQUIRED_KEYS: dict[SourceType, tuple[str, ...]] = {
    SourceType.FILE: ("path",),
    SourceType.HTTP: ("url",),
    SourceType.DATABASE: ("connection", "query"),
    SourceType.S3: ("bucket", "key"),
    SourceType.SFTP: ("host", "path"),
}


def source_type(value: str) -> SourceType:
    """Parse a source type.

    Raises:
        InvalidInput: If it is not file, http, database, s3 or sftp.
    """
    try:
        return SourceType(value.strip().lower())
    except ValueError:
        names = ", ".join(t.value for t in SourceType)
        raise InvalidInput(f"unknown source type {value!r}: expected one of {names}") from None


def check_config(kind: SourceType, config: Mapping[str, Any]) -> None:
    """Refuse a config that lacks a required key or holds a credential in clear.

    Raises:
        InvalidInput: Naming the key.
    """
    missing = [k for k in REQUIRED_KEYS[kind] if not config.get(k)]
    if missing:
        raise InvalidInput(f"{kind.value} source config needs {', '.join(map(repr, missing))}")
    json_object(config, "config")
    _check_secrets(config, "")
    if kind is SourceType.DATABASE:
        check_name(str(config["connection"]), "connection")


def audited_config(config: Any) -> Any:
    """``config`` for an audit entry: credentials and their references masked."""
    if isinstance(config, Mapping):
        return {
            str(key): (
                SECRET_MARK
                if value is not None and (str(key).endswith("_ref") or is_secret_key(str(key)))
                else audited_config(value)
            )
            for key, value in config.items()
        }
    if isinstance(config, list | tuple):
        return [audited_config(item) for item in config]
    return redact(config)


def audited_source(source: Source) -> dict[str, Any]:
    """The fields of a source an audit entry compares.

    Credentials and their references are masked in ``config_json``, and each is also a
    field of its own, ``config_json.<path>``, which the store records only as changed
    (so that a changed reference shows, without its value).
    """
    return {
        **source.audited(),
        "config_json": audited_config(source.config),
        **{f"config_json.{path}": value for path, value in _secret_values(source.config, "")},
    }


def _secret_values(config: Any, where: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(config, Mapping):
        for key, value in config.items():
            path = f"{where}.{key}" if where else str(key)
            if value is not None and (str(key).endswith("_ref") or is_secret_key(str(key))):
                found.append((path, value))
            else:
                found.extend(_secret_values(value, path))
    return found


def _check_secrets(config: Any, where: str) -> None:
    if isinstance(config, Mapping):
        for key, value in config.items():
            path = f"{where}.{key}" if where else str(key)
            if str(key).endswith("_ref") and value is not None:
                check_secret_ref(str(value))
            elif is_secret_key(str(key)) and isinstance(value, str) and not is_secret_ref(value):
                raise InvalidInput(
                    f"config key {path!r} looks like a credential: give a reference "
                    f"instead ({key}_ref: env:VAR or file:PATH); secrets are never stored"
                )
            else:
                _check_secrets(value, path)
