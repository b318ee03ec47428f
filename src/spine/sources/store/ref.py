"""How the store's callers name a source or a connection: :class:`Ref`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}")


@dataclass(frozen=True, slots=True)
class Ref:
    """A source or connection named by its name (the CLI, steps) or by its id (the API).

    A plain ``str`` given where a ``Ref`` is taken is a name.
    """

    value: str
    by_id: bool = False

    @classmethod
    def of(cls, ref: str | Ref) -> Ref:
        """``ref`` as a :class:`Ref` (a plain string is a name)."""
        return ref if isinstance(ref, Ref) else cls(ref)

    @classmethod
    def id(cls, value: str) -> Ref:
        """The object whose id is ``value``."""
        return cls(value, by_id=True)

    @property
    def well_formed(self) -> bool:
        """Whether it can name anything (an id is a ULID; text holds no NUL)."""
        if self.by_id:
            return bool(_ULID.fullmatch(self.value))
        return len(self.value) <= 200 and not _UNSTORABLE.search(self.value)

    def __str__(self) -> str:
        return self.value
