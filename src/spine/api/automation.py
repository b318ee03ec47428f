"""Watched tables, rules and action templates, under ``.../workspaces/{workspace_id}/automation/``.

Every route calls the automation services of the request's key
(``access.services.automation``), the ones ``spine automation`` calls, so the API checks
what the CLI checks: a rule with a bad operator, a field the table lacks, a malformed
value, an unknown action type or a dependency cycle is refused (422) and nothing is
saved. A rule is sent in the shape of one item of the YAML ``rules:`` list. ``{rule_id}``
is the rule's id or name; ``{entity_id}`` the entity's id or table name; another
workspace's object is not found. Executions and alerts for people are in
:mod:`spine.api.automation_ops`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Response

from spine.api.auth import WORKSPACE_PATH, Access, ReadAccess, WriteAccess
from spine.api.automation_models import (
    EntityResponse,
    RulePatch,
    RuleResponse,
    RuleSpec,
    RuleTestResponse,
    TemplateResponse,
    TestEvent,
    WatchBody,
    rule_spec,
)
from spine.api.pagination import Page, PageParams, PageRequest, invalid_cursor
from spine.api.problems import problem_responses
from spine.automation.errors import EntityNotFound
from spine.automation.models import Entity

router = APIRouter(prefix=f"{WORKSPACE_PATH}/automation", tags=["automation"])

_AUTH = (401, 404, 429, 503)
_CHANGE = (*_AUTH, 403, 409, 422)
_LIST = (400, 403, 422, *_AUTH)

T = TypeVar("T")


def window(page: PageRequest, items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """The items after ``page``'s cursor in ``key`` order, ``limit + 1`` of them.

    For listings the services give whole (a workspace's entities, rules, templates):
    sorted here, so that a cursor (the last key shown) continues where the page ended.
    """
    after = page.after
    if after is not None and not isinstance(after, str):
        raise invalid_cursor()
    ordered = sorted(items, key=key)
    return [i for i in ordered if after is None or key(i) > after][: page.limit + 1]


# --- entities -------------------------------------------------------------------------


@router.get(
    "/entities",
    response_model=Page[EntityResponse],
    description="The workspace's watched tables (spec 003 `entities`), by name; "
    "unwatched ones stay, with `is_active: false`.",
    responses=problem_responses(*_LIST),
)
def list_entities(access: ReadAccess, page: PageParams) -> Page[EntityResponse]:
    """List the watched tables, by name."""
    found = window(page, access.services.automation.entities.entities(), lambda e: e.name)
    items, cursor = page.page(found, lambda entity: entity.name)
    return Page(items=[EntityResponse.of(e) for e in items], next_cursor=cursor)


@router.post(
    "/entities",
    status_code=201,
    response_model=EntityResponse,
    description="Watch a table (as `spine automation watch`): its changes are captured "
    "from now on, in the transaction that makes them. Watching again refreshes the "
    "capture (new columns). 422 when the table does not exist.",
    responses=problem_responses(*_CHANGE),
)
def watch_table(body: WatchBody, access: WriteAccess) -> EntityResponse:
    """Watch a table."""
    entity = access.services.automation.entities.watch(body.table, schema=body.schema_name)
    return EntityResponse.of(entity)


def _entity(access: Access, ref: str) -> Entity:
    """The workspace's entity whose id or table name is ``ref``."""
    service = access.services.automation.entities
    try:
        wanted = uuid.UUID(ref)
    except ValueError:
        return service.entity(ref)
    for entity in service.entities():
        if entity.id == wanted:
            return entity
    raise EntityNotFound(ref)


@router.get(
    "/entities/{entity_id}",
    response_model=EntityResponse,
    description="One watched table, by id or by name.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_entity(entity_id: str, access: ReadAccess) -> EntityResponse:
    """Show a watched table."""
    return EntityResponse.of(_entity(access, entity_id))


@router.delete(
    "/entities/{entity_id}",
    response_model=EntityResponse,
    description="Stop watching a table (as `spine automation unwatch`): the entity stays, "
    "inactive; the capture triggers go when no workspace watches the table.",
    responses=problem_responses(*_CHANGE),
)
def unwatch_table(entity_id: str, access: WriteAccess) -> EntityResponse:
    """Stop watching a table."""
    entity = _entity(access, entity_id)
    return EntityResponse.of(access.services.automation.entities.unwatch(entity.name))


# --- rules ----------------------------------------------------------------------------


@router.get(
    "/rules",
    response_model=Page[RuleResponse],
    # A condition shows `value` or `previous_value`, as it was written.
    response_model_exclude_unset=True,
    description="The workspace's rules with their conditions and actions, by name.",
    responses=problem_responses(*_LIST),
)
def list_rules(access: ReadAccess, page: PageParams) -> Page[RuleResponse]:
    """List the rules, by name."""
    found = window(page, access.services.automation.rules.rules(), lambda r: r.name)
    items, cursor = page.page(found, lambda rule: rule.name)
    return Page(items=[RuleResponse.of(r) for r in items], next_cursor=cursor)


@router.post(
    "/rules",
    status_code=201,
    response_model=RuleResponse,
    # A condition shows `value` or `previous_value`, as it was written.
    response_model_exclude_unset=True,
    description="Save a rule, in the shape of one item of the YAML `rules:` list, checked "
    "as `spine automation apply` checks it: 422 (nothing saved) for a bad operator, a "
    "field the table lacks, a malformed value, a bad template or schedule, an unknown "
    "action type or template, a dependency cycle; 404 when the table is not watched; "
    "409 when the name is taken.",
    responses=problem_responses(*_CHANGE),
)
def create_rule(body: RuleSpec, access: WriteAccess) -> RuleResponse:
    """Create a rule in the workspace."""
    return RuleResponse.of(access.services.automation.rules.create(body.spec()))


@router.get(
    "/rules/{rule_id}",
    response_model=RuleResponse,
    # A condition shows `value` or `previous_value`, as it was written.
    response_model_exclude_unset=True,
    description="One rule, by id or by name.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_rule(rule_id: str, access: ReadAccess) -> RuleResponse:
    """Show a rule."""
    return RuleResponse.of(access.services.automation.rules.rule(rule_id))


@router.put(
    "/rules/{rule_id}",
    response_model=RuleResponse,
    # A condition shows `value` or `previous_value`, as it was written.
    response_model_exclude_unset=True,
    description="Replace a rule with the spec given (absent fields take their defaults), "
    "checked as a new rule is.",
    responses=problem_responses(*_CHANGE),
)
def replace_rule(rule_id: str, body: RuleSpec, access: WriteAccess) -> RuleResponse:
    """Replace a rule."""
    return RuleResponse.of(access.services.automation.rules.update(rule_id, body.spec()))


@router.patch(
    "/rules/{rule_id}",
    response_model=RuleResponse,
    # A condition shows `value` or `previous_value`, as it was written.
    response_model_exclude_unset=True,
    description="Change the fields given (lists are replaced whole); "
    '`{"is_active": false}` disables a rule. Checked as a new rule is.',
    responses=problem_responses(*_CHANGE),
)
def update_rule(rule_id: str, body: RulePatch, access: WriteAccess) -> RuleResponse:
    """Partially update a rule."""
    rules = access.services.automation.rules
    spec = rule_spec(rules.rule(rule_id))
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for name in ("name", "entity", "trigger", "is_active", "conditions", "actions"):
        if name in changes and changes[name] is None:
            changes.pop(name)
    spec.update(changes)
    if spec.get("trigger") != "scheduled":
        # A rule that stops being scheduled leaves its schedule behind unless told.
        for name in ("cron", "timezone", "max_rows"):
            if changes.get(name) is None:
                spec.pop(name, None)
    return RuleResponse.of(rules.update(rule_id, spec))


@router.delete(
    "/rules/{rule_id}",
    status_code=204,
    response_class=Response,
    response_model=None,
    description="Delete a rule with its actions; its executions stay. 409 when another "
    "rule depends on it.",
    responses=problem_responses(*_CHANGE),
)
def delete_rule(rule_id: str, access: WriteAccess) -> Response:
    """Delete a rule."""
    access.services.automation.rules.remove(rule_id)
    return Response(status_code=204)


@router.post(
    "/rules/{rule_id}/test",
    response_model=RuleTestResponse,
    description="Whether an event would match the rule, condition by condition, and which "
    "actions would run with their rendered config (as `spine automation test`). Nothing "
    'is saved or done. The event: `{"operation": "update", "old": {...}, "new": {...}}`.',
    responses=problem_responses(403, 422, *_AUTH),
)
def test_rule(rule_id: str, body: TestEvent, access: ReadAccess) -> RuleTestResponse:
    """Try a rule on an event."""
    event = body.model_dump(exclude_unset=True)
    verdict = access.services.automation.rules.test(rule_id, event)
    return RuleTestResponse.model_validate(verdict.to_dict())


# --- templates ------------------------------------------------------------------------


@router.get(
    "/templates",
    response_model=Page[TemplateResponse],
    description="The workspace's action templates (default configs), by name.",
    responses=problem_responses(*_LIST),
)
def list_templates(access: ReadAccess, page: PageParams) -> Page[TemplateResponse]:
    """List the action templates, by name."""
    found = window(page, access.services.automation.rules.templates(), lambda t: t.name)
    items, cursor = page.page(found, lambda template: template.name)
    return Page(items=[TemplateResponse.of(t) for t in items], next_cursor=cursor)
