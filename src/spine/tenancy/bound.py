"""What every store of a workspace object is: bound to an actor, copied to act as another."""

from __future__ import annotations

import copy
import uuid
from typing import Self

from spine.tenancy.models import OPERATOR, Actor


class ActorBound:
    """A store (or service) that reads and writes as :attr:`actor`, in its workspace.

    A subclass sets ``self.actor`` in its constructor; :meth:`acting_as` is a shallow
    copy, so every other attribute (database, clock, listeners, pools) is shared.
    """

    actor: Actor = OPERATOR

    def acting_as(self, actor: Actor) -> Self:
        """This object acting as ``actor`` (a shallow copy sharing everything else)."""
        other = copy.copy(self)
        other.actor = actor
        return other

    @property
    def workspace_id(self) -> uuid.UUID:
        """The workspace this object reads and writes."""
        return self.actor.workspace_id
