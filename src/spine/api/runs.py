"""Workflow runs and the registered workflows, under ``/api/v1/workspaces/{workspace_id}/``."""

from __future__ import annotations

from fastapi import APIRouter

from spine.api.auth import WORKSPACE_PATH

router = APIRouter(prefix=WORKSPACE_PATH)
