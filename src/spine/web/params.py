"""Reading a page's query parameters: one clear 400 message for a value a list does not know."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from spine.core.errors import InvalidInput

E = TypeVar("E", bound=Enum)


def optional_choice(kind: type[E], value: str | None, what: str) -> E | None:
    """The member of ``kind`` that ``value`` names (in any case); ``None`` when empty.

    Raises:
        InvalidInput: If ``value`` names no member (shown as a 400 page listing them).
    """
    text = (value or "").strip()
    if not text:
        return None
    for candidate in (text, text.upper(), text.lower()):
        try:
            return kind(candidate)
        except ValueError:
            continue
    choices = ", ".join(str(member.value) for member in kind)
    raise InvalidInput(f"unknown {what} {value!r}: one of {choices}")
