"""Spec 003: automation rules on monitored tables, executions, notifications, alerts.

On PostgreSQL these tables live in schema ``workflow`` and users in ``core.users`` as the
specification says; on SQLite they are plain tables (a schema translate map drops the
schema names). ``core.users``, which spec 003 references without defining, is designed
here. Timestamps are TIMESTAMPTZ throughout (spec 003 mixes in TIMESTAMP without zone).

Added by spine (``intermediate_0008``, docs/decisions.md): a ``workspace_id`` on the
objects people make (entities, rules, templates, executions, deliveries, alerts), names
unique per workspace, roles (``core.roles``, ``core.user_roles``) for alert recipients,
the change log the capture triggers write (``automation_changes``) and the dispatcher's
durable position (``automation_cursors``).
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema._base import (
    CORE_SCHEMA,
    WORKFLOW_SCHEMA,
    Tier,
    counter,
    flag,
    json_col,
    one_of,
    table,
    ts,
    uuid_pk,
    workspace_ref,
)
from spine.core.storage.types import keyed_text

SPEC = "003"
W = WORKFLOW_SCHEMA
USERS_FK = f"{CORE_SCHEMA}.users.id"


def _fk(target: str, ondelete: str | None = None) -> sa.ForeignKey:
    # Only the cascades spec 003 gives (alert recipients and acknowledgments); every
    # other reference is NO ACTION, so deleting a rule with history fails loudly.
    return sa.ForeignKey(f"{W}.{target}", ondelete=ondelete)


def _deactivated_by() -> sa.Column[object]:
    return sa.Column("deactivated_by", sa.Uuid, sa.ForeignKey(USERS_FK))


users = table(
    "users",
    uuid_pk(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("display_name", sa.String(200)),
    flag("is_active", True),
    ts("created_date", nullable=False),
    ts("updated_date", nullable=False),
    sa.UniqueConstraint("email", name="uq_users_email"),
    schema=CORE_SCHEMA,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

trigger_types = table(
    "trigger_types",
    uuid_pk(),
    sa.Column("name", keyed_text(255), nullable=False),
    sa.Column("description", sa.Text),
    flag("is_active", True),
    _deactivated_by(),
    sa.UniqueConstraint("name", name="uq_trigger_types_name"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

entity_types = table(
    "entity_types",
    uuid_pk(),
    sa.Column("name", keyed_text(255), nullable=False),
    sa.Column("description", sa.Text),
    flag("is_active", True),
    _deactivated_by(),
    sa.UniqueConstraint("name", name="uq_entity_types_name"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

entities = table(
    "entities",
    uuid_pk(),
    sa.Column("name", keyed_text(255), nullable=False),
    sa.Column("entity_type_id", sa.Uuid, _fk("entity_types.id"), nullable=False),
    sa.Column("schema_name", sa.Text, server_default="public"),
    flag("is_active", True, nullable=True),
    ts("created_date", nullable=False),
    _deactivated_by(),
    workspace_ref(),
    # Spec 003 makes a name unique; spine makes it unique per workspace.
    sa.UniqueConstraint("workspace_id", "name", name="uq_entities_workspace_name"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

automation_rules = table(
    "automation_rules",
    uuid_pk(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("entity_id", sa.Uuid, _fk("entities.id"), nullable=False),
    sa.Column("entity_type_id", sa.Uuid, _fk("entity_types.id"), nullable=False),
    sa.Column("trigger_type_id", sa.Uuid, _fk("trigger_types.id"), nullable=False),
    json_col("trigger_conditions"),
    flag("is_active", True),
    ts("created_date", nullable=False),
    ts("updated_date", nullable=False),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey(USERS_FK), nullable=False),
    sa.Column("updated_by", sa.Uuid, sa.ForeignKey(USERS_FK), nullable=False),
    _deactivated_by(),
    workspace_ref(),
    # A scheduled rule's next fire (its cron and timezone are in trigger_conditions).
    ts("next_fire_at"),
    sa.UniqueConstraint("workspace_id", "name", name="uq_automation_rules_workspace_name"),
    sa.Index("idx_automation_rules_entity", "entity_id"),
    sa.Index("idx_automation_rules_trigger", "trigger_type_id"),
    sa.Index("idx_automation_rules_active", "is_active"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

action_templates = table(
    "action_templates",
    uuid_pk(),
    sa.Column("name", keyed_text(255), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("action_type", sa.Text, nullable=False),
    json_col("default_config", nullable=False),
    ts("created_date", nullable=False),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey(USERS_FK), nullable=False),
    flag("is_active", True, nullable=True),
    _deactivated_by(),
    workspace_ref(),
    sa.UniqueConstraint("workspace_id", "name", name="uq_action_templates_workspace_name"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

rule_actions = table(
    "rule_actions",
    uuid_pk(),
    sa.Column("automation_rules_id", sa.Uuid, _fk("automation_rules.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    json_col("action_config", nullable=False),
    sa.Column("execution_order", sa.Integer, nullable=False),
    flag("is_active", True, nullable=True),
    sa.Column("template_id", sa.Uuid, _fk("action_templates.id")),
    _deactivated_by(),
    sa.CheckConstraint("execution_order >= 1", name="execution_order"),
    # spec 003 names this index's column `automation_rule_id`; the column is
    # `automation_rules_id` (docs/decisions.md).
    sa.Index("idx_rule_actions_rule", "automation_rules_id"),
    sa.Index("idx_rule_actions_order", "execution_order"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

rule_dependencies = table(
    "rule_dependencies",
    uuid_pk(),
    sa.Column("parent_rule_id", sa.Uuid, _fk("automation_rules.id"), nullable=False),
    sa.Column("child_rule_id", sa.Uuid, _fk("automation_rules.id"), nullable=False),
    sa.CheckConstraint("parent_rule_id <> child_rule_id", name="not_self"),
    sa.UniqueConstraint("parent_rule_id", "child_rule_id", name="uq_rule_dependencies_pair"),
    sa.Index("idx_rule_dependencies_child", "child_rule_id"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

automation_executions = table(
    "automation_executions",
    uuid_pk(),
    sa.Column("automation_rules_id", sa.Uuid, _fk("automation_rules.id"), nullable=False),
    sa.Column("entity_type", sa.String(50), nullable=False),
    json_col("trigger_data"),
    json_col("actions_executed"),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("execution_time_ms", sa.Integer),
    ts("executed_at", nullable=False),
    workspace_ref(),
    # The change (``automation_changes.position``) the execution answers: one execution
    # per rule and change, which a replay updates rather than repeats.
    sa.Column("change_position", sa.BigInteger),
    counter("depth", 0),
    one_of("status", ("success", "failed", "partial"), "status"),
    sa.UniqueConstraint(
        "automation_rules_id", "change_position", name="uq_automation_executions_rule_change"
    ),
    # spec 003 indexes `rule_id`; the column is `automation_rules_id`.
    sa.Index("idx_automation_executions_rule", "automation_rules_id"),
    sa.Index("idx_automation_executions_status", "status"),
    sa.Index("idx_automation_executions_date", "executed_at"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

NOTIFICATION_STATUSES = ("pending", "sent", "delivered", "failed", "bounced", "retrying")

notification_deliveries = table(
    "notification_deliveries",
    uuid_pk(),
    sa.Column("notification_id", sa.Uuid, nullable=False),
    sa.Column("automation_execution_id", sa.Uuid, _fk("automation_executions.id")),
    sa.Column("rule_id", sa.Uuid, _fk("automation_rules.id")),
    sa.Column("action_id", sa.Uuid, _fk("rule_actions.id")),
    # spec 003 types this UUID but describes it as "User ID or email": text holds both.
    sa.Column("recipient_id", sa.String(320), nullable=False),
    sa.Column("channel", sa.String(50), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    counter("attempts", 1, nullable=True),
    ts("sent_at"),
    ts("delivered_at"),
    ts("failed_at"),
    sa.Column("error_message", sa.Text),
    json_col("provider_response"),
    ts("created_date", nullable=False),
    ts("updated_date", nullable=False),
    workspace_ref(),
    # What to send (subject, body, address) and when to try next (pending, retrying).
    json_col("payload"),
    ts("next_attempt_at"),
    one_of("status", NOTIFICATION_STATUSES, "status"),
    sa.Index("idx_notification_deliveries_status", "status"),
    sa.Index("idx_notification_deliveries_execution", "automation_execution_id"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

allocation_results = table(
    "allocation_results",
    uuid_pk(),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    json_col("allocation_data", nullable=False),
    ts("created_date", nullable=False),
    sa.Index("idx_allocation_idempotency", "idempotency_key", unique=True),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

ALERT_SEVERITIES = ("low", "medium", "high", "critical")
ALERT_STATUSES = ("active", "acknowledged", "dismissed", "resolved")

alerts = table(
    "alerts",
    uuid_pk(),
    sa.Column("alert_type", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False, server_default="medium"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    json_col("context", server_default=sa.text("'{}'")),
    sa.Column("source_entity_name", sa.Text),
    sa.Column("source_entity_id", sa.Uuid),
    sa.Column("source_rule_id", sa.Uuid, _fk("automation_rules.id")),
    sa.Column("status", keyed_text(50), nullable=False, server_default="active"),
    ts("expires_date"),
    ts("created_date", nullable=False),
    ts("updated_date", nullable=False),
    workspace_ref(),
    sa.Column("automation_execution_id", sa.Uuid, _fk("automation_executions.id")),
    # An approval alert (alert_type ``approval``) records its decision here.
    sa.Column("decision", sa.String(20)),
    sa.Column("decided_by", sa.Uuid, sa.ForeignKey(USERS_FK)),
    ts("decided_at"),
    one_of("severity", ALERT_SEVERITIES, "severity"),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),
    one_of("status", ALERT_STATUSES, "status"),
    sa.Index("idx_alerts_status", "status"),
    sa.Index("idx_alerts_created", "created_date"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

alert_recipients = table(
    "alert_recipients",
    uuid_pk(),
    sa.Column("alert_id", sa.Uuid, _fk("alerts.id", "CASCADE"), nullable=False),
    sa.Column("recipient_type", keyed_text(50), nullable=False),
    sa.Column("recipient_id", sa.Uuid, nullable=False),
    ts("created_date", nullable=False),
    one_of("recipient_type", ("user", "role"), "recipient_type"),
    sa.Index("idx_alert_recipients_alert", "alert_id"),
    sa.Index("idx_alert_recipients_recipient", "recipient_type", "recipient_id"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

alert_acknowledgments = table(
    "alert_acknowledgments",
    uuid_pk(),
    sa.Column("alert_id", sa.Uuid, _fk("alerts.id", "CASCADE"), nullable=False),
    sa.Column("acknowledged_by", sa.Uuid, sa.ForeignKey(USERS_FK), nullable=False),
    ts("acknowledged_date", nullable=False),
    sa.Column("notes", sa.Text),
    sa.Index("idx_alert_acknowledgments_alert", "alert_id"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

roles = table(
    "roles",
    uuid_pk(),
    workspace_ref(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
    ts("created_date", nullable=False),
    sa.UniqueConstraint("workspace_id", "name", name="uq_roles_workspace_name"),
    schema=CORE_SCHEMA,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

user_roles = table(
    "user_roles",
    uuid_pk(),
    sa.Column(
        "role_id",
        sa.Uuid,
        sa.ForeignKey(f"{CORE_SCHEMA}.roles.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey(USERS_FK, ondelete="CASCADE"), nullable=False),
    ts("created_date", nullable=False),
    sa.UniqueConstraint("role_id", "user_id", name="uq_user_roles_pair"),
    sa.Index("idx_user_roles_user", "user_id"),
    schema=CORE_SCHEMA,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

CHANGE_OPERATIONS = ("insert", "update", "delete", "scheduled")

# The change log: one row per change of a watched table, written by the capture trigger
# (or by spine's own parts, for their tables) in the transaction of the change. ``id``
# orders writes; ``position`` is given by the dispatcher in the order rows become
# visible, which on PostgreSQL is not ``id`` order (sequence values are taken before
# commit), and is the durable position the dispatcher and ``replay`` read from.
automation_changes = table(
    "automation_changes",
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.Identity(always=False),
        primary_key=True,
    ),
    sa.Column("position", sa.BigInteger),
    sa.Column("table_name", sa.Text, nullable=False),
    sa.Column("schema_name", sa.Text),
    sa.Column("operation", sa.String(16), nullable=False),
    json_col("old_row"),
    json_col("new_row"),
    # How many automation actions led to this change (a cascade's depth).
    counter("depth", 0),
    # A scheduled rule's selected row is addressed to that rule alone.
    sa.Column("rule_id", sa.Uuid),
    # Spine's own parts name the workspace of the change; a trigger cannot (NULL: every
    # workspace that watches the table).
    sa.Column("workspace_id", sa.Uuid),
    ts("created_at"),
    one_of("operation", CHANGE_OPERATIONS, "operation"),
    sa.Index("idx_automation_changes_position", "position", unique=True),
    sa.Index(
        "idx_automation_changes_unsequenced",
        "id",
        sqlite_where=sa.text("position IS NULL"),
        postgresql_where=sa.text("position IS NULL"),
    ),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

# Durable positions in the change log, by reader (``dispatcher``).
automation_cursors = table(
    "automation_cursors",
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, server_default="0"),
    ts("updated_at"),
    schema=W,
    tier=Tier.INTERMEDIATE,
    spec=SPEC,
)

STANDARD_TRIGGER_TYPES = {
    "on_create": "Entity creation",
    "on_update": "Entity update",
    "on_delete": "Entity deletion",
    "scheduled": "Time-based trigger",
}
STANDARD_ENTITY_TYPES = {"table": "Database table", "view": "Database view"}
