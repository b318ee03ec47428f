"""Former module-level access to the sources service, kept to name its replacement.

``spine.sources.fetch`` and ``spine.sources.service`` built a service from settings read
deep below the wiring, on engines cached per process. A step fetches through its
context (``ctx.fetch(name, params)``); other code uses the service that
``spine.bootstrap.build(settings).sources`` returns.
"""

from __future__ import annotations

from typing import Any, NoReturn

from spine.core.errors import ConfigurationError

_MOVED = (
    "spine.sources.{name}() is gone: inside a workflow step call ctx.fetch(name, params); "
    "elsewhere use spine.bootstrap.build(settings).sources"
)


def service(*args: Any, **kwargs: Any) -> NoReturn:
    """Removed: use ``spine.bootstrap.build(settings).sources``.

    Raises:
        ConfigurationError: Always, naming the replacement.
    """
    raise ConfigurationError(_MOVED.format(name="service"))


def fetch(*args: Any, **kwargs: Any) -> NoReturn:
    """Removed: use ``ctx.fetch(name, params)`` in a step, or the built service.

    Raises:
        ConfigurationError: Always, naming the replacement.
    """
    raise ConfigurationError(_MOVED.format(name="fetch"))
