"""The organization and workspace that every database has, both named ``default``.

``spine db upgrade`` seeds them with these ids (uuid5 of the seed namespace, the same in
every database), so that a laptop user never meets tenancy: every command acts in the
default workspace unless told otherwise.
"""

from __future__ import annotations

import uuid

DEFAULT_NAME = "default"
DEFAULT_ORGANIZATION_ID = uuid.UUID("419cec01-7327-5368-baa0-e6e623796161")
DEFAULT_WORKSPACE_ID = uuid.UUID("93c8957a-5c7c-5067-826a-9d88ed98eb5c")
