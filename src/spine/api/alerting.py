"""Alert channels, alerts, dead letters and breakers of a workspace."""

from __future__ import annotations

from fastapi import APIRouter

from spine.api.auth import WORKSPACE_PATH

router = APIRouter(prefix=WORKSPACE_PATH)
