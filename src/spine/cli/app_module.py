"""Import the user's module (``--app`` / ``SPINE_APP``) so that its workflows register."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from spine.core.errors import ConfigurationError


def import_app(module: str | None) -> None:
    """Import the user's module so that its workflows and pipelines register.

    The working directory is importable, as with ``python -m``.

    Raises:
        ConfigurationError: If the module cannot be imported.
    """
    if not module:
        return
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ConfigurationError(f"cannot import app module {module!r}: {error}") from None
    except Exception as error:  # the user's module failed while it ran
        raise ConfigurationError(
            f"app module {module!r} failed on import: {type(error).__name__}: {error}"
        ) from error
