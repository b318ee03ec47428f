"""The example's automation rules: ``automation.yaml``, set up on first use.

A failed run of ``finra.weekly_ingest`` alerts the role ``finra-oncall`` and e-mails it.
For that, the run's workspace watches spine's own ``core_workflow_runs`` (the runs
part records each finished run's change in the transaction that finishes it), has the
role, and holds the rules and templates of ``automation.yaml``. The first step of every
run makes sure of the three before anything can fail, so that even the first run's
failure is caught. Like the checks of ``quality.yaml``, it only creates what is missing
and leaves alone what a user changed: a changed rule is kept as it is (to stop it,
disable it; a removed one comes back on the next run).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from spine.core.errors import Conflict
from spine.orchestration.context import AutomationSetup, StepContext
from spine.orchestration.errors import StepServiceMissing

#: The rules and templates, as code (``spine automation apply`` reads the same file).
AUTOMATION_FILE = Path(__file__).with_name("automation.yaml")
#: Who is told when a run fails: assign people with ``spine roles assign``.
ROLE = "finra-oncall"
#: The table the rules watch: spine's own runs.
WATCHED = "core_workflow_runs"


def declared() -> dict[str, Any]:
    """The document ``automation.yaml`` holds (``rules:`` and ``templates:``)."""
    # YAML is imported when a step needs it, not by every command that loads the example.
    import yaml

    document: dict[str, Any] = yaml.safe_load(AUTOMATION_FILE.read_text(encoding="utf-8"))
    return document


def missing(document: Mapping[str, Any], rules: set[str], templates: set[str]) -> dict[str, Any]:
    """The part of ``document`` whose rules and templates the workspace does not have."""
    return {
        "templates": [t for t in document.get("templates") or [] if t["name"] not in templates],
        "rules": [r for r in document.get("rules") or [] if r["name"] not in rules],
    }


def ensure_automation(services: AutomationSetup) -> list[str]:
    """Watch the runs, add the role and create the missing rules and templates.

    Args:
        services: The run's workspace's services (``spine.bootstrap.Services``).

    Returns:
        The names of the rules and templates created now.
    """
    automation = services.automation
    watched = {e.name for e in automation.entities.entities() if e.is_active}
    if WATCHED not in watched:
        automation.entities.watch(WATCHED)
    with suppress(Conflict):  # it exists (made by an earlier run, or by hand)
        services.tenancy.add_role(ROLE, actor=services.actor)
    rules = automation.rules
    todo = missing(declared(), {r.name for r in rules.rules()}, {t.name for t in rules.templates()})
    if not todo["rules"] and not todo["templates"]:
        return []
    try:
        rules.apply(todo, source=AUTOMATION_FILE.name)
    except Conflict:  # another run created them meanwhile (its writes stand; ours undone)
        return []
    return [item["name"] for item in (*todo["templates"], *todo["rules"])]


def set_up_automation(ctx: StepContext) -> None:
    """Set up the example's rules in the run's workspace (see the module's docstring)."""
    services = ctx.services.automation
    if services is None:
        raise StepServiceMissing("automation", ctx.step_name, ctx.workflow_name)
    created = ensure_automation(services)
    if created:
        ctx.log.info(
            "watching %s; created %s from %s (spine automation rules list)",
            WATCHED,
            ", ".join(created),
            AUTOMATION_FILE.name,
        )
