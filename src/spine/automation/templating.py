"""Action configs as templates: ``{{ new.status }}`` rendered in Jinja2's sandbox.

A rule's action config is written by people who may not run code on spine's hosts, so
it is rendered in :class:`jinja2.sandbox.SandboxedEnvironment`: no attribute starting
with an underscore, no unsafe callables, bounded output. A template's default config is
merged under the action's own key by key (:func:`merge_config`), then every string in
the result is rendered against the change (:func:`render_config`).

The names a template sees: ``new`` and ``old`` (the rows; an empty mapping where the
operation has none), ``row`` (new, else old), ``entity`` (the table), ``operation``,
``rule`` (``name``, ``id``) and ``change`` (``position``, ``depth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from spine.automation.models import Change, Rule
from spine.core.errors import InvalidInput

#: Longest rendered string kept; longer output is cut (a config is a message, not a dump).
MAX_RENDERED_CHARS = 64_000

_ENVIRONMENT = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def merge_config(default: Mapping[str, Any] | None, own: Mapping[str, Any]) -> dict[str, Any]:
    """The template's ``default`` with the action's ``own`` keys on top, key by key.

    Nested mappings merge the same way; any other value of ``own`` replaces the
    default's whole (a list is not appended to).
    """
    merged: dict[str, Any] = dict(default or {})
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_config(base, value)
        else:
            merged[key] = value
    return merged


def template_names(change: Change, rule: Rule) -> dict[str, Any]:
    """What a config's templates may name, for ``change`` answered by ``rule``."""
    new = dict(change.new or {})
    old = dict(change.old or {})
    return {
        "new": new,
        "old": old,
        "row": new or old,
        "entity": change.table_name,
        "operation": change.operation.value,
        "rule": {"name": rule.name, "id": str(rule.id)},
        "change": {"position": change.position, "depth": change.depth},
    }


def render_config(config: Mapping[str, Any], names: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with every string rendered against ``names`` (nested values too).

    Raises:
        InvalidInput: If a template is malformed, names something the change lacks,
            or does what the sandbox forbids; the message names the config key.
    """
    return {key: _render(value, names, key) for key, value in config.items()}


def check_templates(config: Mapping[str, Any], path: str = "config") -> None:
    """Refuse a config whose strings are not valid templates (when a rule is saved).

    Raises:
        InvalidInput: Naming the key of the first malformed template.
    """
    for key, value in config.items():
        where = f"{path}.{key}"
        if isinstance(value, str):
            try:
                _ENVIRONMENT.parse(value)
            except TemplateError as error:
                raise InvalidInput(f"{where}: bad template: {error.message}") from None
        elif isinstance(value, Mapping):
            check_templates(value, where)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    check_templates(item, f"{where}[{index}]")


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template:
    # Compiling is most of a render's cost (the sandbox compiles to Python each time);
    # a rule's config strings are few and repeat for every change. Templates are
    # immutable and render safely from several threads.
    return _ENVIRONMENT.from_string(text)


def _render(value: Any, names: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, str):
        if "{" not in value:
            return value
        try:
            text = _compiled(value).render(names)
        except TemplateError as error:
            raise InvalidInput(f"{path}: {error.message}") from None
        except Exception as error:  # the sandbox refuses unsafe access with SecurityError
            raise InvalidInput(f"{path}: {type(error).__name__}: {error}") from None
        return text[:MAX_RENDERED_CHARS]
    if isinstance(value, Mapping):
        return {k: _render(v, names, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, names, f"{path}[{i}]") for i, v in enumerate(value)]
    return value
