"""Spine's REST API (FastAPI): one router per part, errors as RFC 9457 problem details.

Usage::

    from spine.api import create_app
    from spine.bootstrap import build

    app = create_app(build())
"""

from spine.api.app import create_app

__all__ = ["create_app"]
