"""Param templates: ``{{ data_interval_end | previous_friday }}`` rendered for a logical time.

A schedule's (or a backfill's) string params may hold ``{{ variable | filter | ... }}``
expressions, rendered for each fire into the run's params. The language is tiny on
purpose (no Jinja): a variable, then filters, each optionally with arguments (integers or
quoted strings). Every template is compiled when it is saved, so an unknown variable or
filter, or a filter given the wrong arguments or the wrong kind of value, is refused by
``spine schedules add`` and ``spine backfill`` before anything is written.

Variables (aware datetimes on the wall clock of the schedule's zone):

- ``logical_time``: the fire's time;
- ``data_interval_start`` / ``data_interval_end``: the interval the fire covers.

Filters:

- ``date``: the calendar date of a time;
- ``iso``: ISO-8601 text (a time with its UTC offset, a date as ``YYYY-MM-DD``);
- ``previous_friday``: the last Friday strictly before the value's date;
- ``subtract_days(n)`` / ``add_days(n)``: ``n`` calendar days earlier / later;
- ``strftime("%Y%m%d")``: the value formatted (Python's ``strftime`` codes).

A rendered value is text: a date or time that a template ends with is written ISO-8601.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from spine.core.errors import InvalidInput
from spine.orchestration.data_interval import DataInterval

VARIABLES = ("logical_time", "data_interval_start", "data_interval_end")

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_]\w*)|(?P<int>[-+]?\d+)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<punct>[|(),]))"
)

# What a value is while a template is checked: a time, a date or text.
_TIME, _DATE, _TEXT = "time", "date", "text"


@dataclass(frozen=True, slots=True)
class _Filter:
    """A filter: the kinds of value it takes, its argument types, what it gives."""

    takes: frozenset[str]
    args: tuple[type, ...]
    gives: Callable[[str], str]
    apply: Callable[..., Any]


def _previous_friday(value: date | datetime) -> date:
    day = value.date() if isinstance(value, datetime) else value
    # Friday is weekday 4; a Friday itself goes back a whole week.
    return day - timedelta(days=(day.weekday() - 4) % 7 or 7)


def _iso(value: date | datetime | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


_DATES = frozenset({_TIME, _DATE})
FILTERS: dict[str, _Filter] = {
    "date": _Filter(
        _DATES, (), lambda _: _DATE, lambda v: v.date() if isinstance(v, datetime) else v
    ),
    "iso": _Filter(_DATES, (), lambda _: _TEXT, _iso),
    "previous_friday": _Filter(_DATES, (), lambda _: _DATE, _previous_friday),
    "subtract_days": _Filter(_DATES, (int,), lambda kind: kind, lambda v, n: v - timedelta(n)),
    "add_days": _Filter(_DATES, (int,), lambda kind: kind, lambda v, n: v + timedelta(n)),
    "strftime": _Filter(_DATES, (str,), lambda _: _TEXT, lambda v, fmt: v.strftime(fmt)),
}


_ARGUMENTS = {
    (): "no arguments",
    (int,): "one whole number, e.g. (7)",
    (str,): 'one quoted format, e.g. ("%Y%m%d")',
}


@dataclass(frozen=True, slots=True)
class _Expression:
    variable: str
    filters: tuple[tuple[str, tuple[Any, ...]], ...]

    def evaluate(self, values: Mapping[str, datetime]) -> str:
        value: Any = values[self.variable]
        for name, args in self.filters:
            value = FILTERS[name].apply(value, *args)
        return _iso(value)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: literal text and expressions, alternately."""

    source: str
    parts: tuple[str | _Expression, ...]

    @property
    def is_template(self) -> bool:
        """Whether it has any ``{{ }}`` expression (else rendering gives it back)."""
        return any(isinstance(p, _Expression) for p in self.parts)

    def render(self, values: Mapping[str, datetime]) -> str:
        """The text with each expression replaced by its value."""
        return "".join(p if isinstance(p, str) else p.evaluate(values) for p in self.parts)


@functools.lru_cache(maxsize=1024)
def compile_template(source: str, *, what: str = "template") -> Template:
    """Compile ``source``, checking every variable, filter and argument.

    Remembered: a tick renders the same few templates for many fires.

    Raises:
        InvalidInput: Naming ``what`` and the problem, with the names that are known.
    """
    parts: list[str | _Expression] = []
    position = 0
    for match in _EXPRESSION.finditer(source):
        parts.append(source[position : match.start()])
        parts.append(_parse(match.group(1), what))
        position = match.end()
    rest = source[position:]
    if "{{" in rest:
        raise InvalidInput(f"{what}: '{{{{' is not closed by '}}}}' in {source!r}")
    parts.append(rest)
    return Template(source, tuple(p for p in parts if p != ""))


def _parse(text: str, what: str) -> _Expression:
    tokens = _tokens(text, what)
    where = f"{what}: {{{{{text}}}}}"
    if not tokens or tokens[0][0] != "name":
        raise InvalidInput(f"{where} must start with a variable ({', '.join(VARIABLES)})")
    variable = tokens[0][1]
    if variable not in VARIABLES:
        raise InvalidInput(
            f"{where}: unknown variable {variable!r} (known: {', '.join(VARIABLES)})"
        )
    kind = _TIME
    filters: list[tuple[str, tuple[Any, ...]]] = []
    i = 1
    while i < len(tokens):
        if tokens[i] != ("punct", "|") or i + 1 >= len(tokens) or tokens[i + 1][0] != "name":
            raise InvalidInput(f"{where}: expected '| filter' at {tokens[i][1]!r}")
        name = tokens[i + 1][1]
        spec = FILTERS.get(name)
        if spec is None:
            raise InvalidInput(f"{where}: unknown filter {name!r} (known: {', '.join(FILTERS)})")
        i += 2
        args: list[Any] = []
        if i < len(tokens) and tokens[i] == ("punct", "("):
            i += 1
            while i < len(tokens) and tokens[i] != ("punct", ")"):
                token_kind, token = tokens[i]
                if token_kind == "int":
                    args.append(int(token))
                elif token_kind == "str":
                    args.append(token[1:-1])
                elif token != ",":
                    raise InvalidInput(f"{where}: bad argument {token!r} to {name}")
                i += 1
            if i >= len(tokens):
                raise InvalidInput(f"{where}: '(' after {name} is not closed")
            i += 1
        if tuple(type(a) for a in args) != spec.args:
            raise InvalidInput(f"{where}: {name} takes {_ARGUMENTS[spec.args]}")
        if kind not in spec.takes:
            raise InvalidInput(f"{where}: {name} needs a date or time, not {kind}")
        kind = spec.gives(kind)
        filters.append((name, tuple(args)))
    return _Expression(variable, tuple(filters))


def _tokens(text: str, what: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise InvalidInput(f"{what}: cannot read {text[position:].strip()!r} in {{{{{text}}}}}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def compile_params(params: Mapping[str, Any]) -> dict[str, Template]:
    """The templates among ``params``' string values (top level), by key, all checked.

    Raises:
        InvalidInput: If any template is malformed (nothing is saved).
    """
    compiled: dict[str, Template] = {}
    for key, value in params.items():
        if isinstance(value, str) and "{{" in value:
            compiled[key] = compile_template(value, what=f"--param {key}")
    return compiled


def template_values(interval: DataInterval, zone: tzinfo) -> dict[str, datetime]:
    """The variables of ``interval`` on the wall clock of ``zone``."""
    return {
        "logical_time": interval.logical_time.astimezone(zone),
        "data_interval_start": interval.start.astimezone(zone),
        "data_interval_end": interval.end.astimezone(zone),
    }


def render_params(
    params: Mapping[str, Any], interval: DataInterval, zone: tzinfo
) -> dict[str, Any]:
    """``params`` with each template value rendered for ``interval`` (others as they are).

    Raises:
        InvalidInput: If a template is malformed (a row saved before templates were
            checked), or a filter fails on this value (say, a date out of range).
    """
    compiled = compile_params(params)
    if not compiled:
        return dict(params)
    values = template_values(interval, zone)
    rendered = dict(params)
    for key, template in compiled.items():
        try:
            rendered[key] = template.render(values)
        except (ValueError, OverflowError) as error:
            raise InvalidInput(f"--param {key}: {template.source!r} failed: {error}") from None
    return rendered
