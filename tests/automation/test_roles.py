"""Roles of a workspace, and API keys made for a user (their requests act as that user)."""

from __future__ import annotations

import pytest

from spine.core.errors import Conflict, InvalidInput, NotFound
from spine.core.storage import Database
from spine.tenancy import Actor, ApiScope
from tests.automation.people_fixtures import make_people


def test_roles_are_added_assigned_listed_and_audited(db: Database) -> None:
    people = make_people(db)
    tenancy = people.tenancy

    again = tenancy.assign_role("oncall", "ADA@example.com")  # twice: no change
    tenancy.assign_role("oncall", "bob@example.com")

    roles = {r.name: r for r in tenancy.roles()}
    assert again.members == ("ada@example.com",)
    assert roles["oncall"].members == ("ada@example.com", "bob@example.com")
    assert roles["desk"].members == ("cy@example.com",)
    entries = tenancy.audit_entries(people.actor, entity_type="role")
    assert sorted(e.action.value for e in entries) == ["create", "create"] + ["update"] * 3
    with pytest.raises(Conflict, match="already exists"):
        tenancy.add_role("oncall")
    with pytest.raises(NotFound, match="unknown role 'nope'"):
        tenancy.assign_role("nope", "ada@example.com")
    with pytest.raises(NotFound, match="unknown user"):
        tenancy.assign_role("oncall", "zed@example.com")
    with pytest.raises(InvalidInput):
        tenancy.add_role("  ")


def test_roles_belong_to_their_workspace(db: Database) -> None:
    people = make_people(db)
    tenancy = people.tenancy
    tenancy.create_organization("acme")
    other = Actor(workspace_id=tenancy.create_workspace("data", "acme", people.actor).id)

    tenancy.add_role("oncall", "theirs", actor=other)

    assert [r.description for r in tenancy.roles(actor=other)] == ["theirs"]
    assert tenancy.roles(actor=other)[0].members == ()
    assert [r.name for r in tenancy.roles()] == ["desk", "oncall"]


def test_a_key_made_for_a_user_acts_as_that_user(db: Database) -> None:
    people = make_people(db)
    tenancy = people.tenancy
    ada = {u.email: u.id for u in tenancy.users()}["ada@example.com"]

    made = tenancy.create_key(
        people.actor, name="ada", scopes=frozenset({ApiScope.READ}), user="ada@example.com"
    )
    plain = tenancy.create_key(people.actor, name="ci", scopes=frozenset({ApiScope.READ}))

    assert made.key.user_id == ada and made.to_dict()["user_id"] == ada
    assert tenancy.authenticate(made.secret).actor().user_id == ada
    assert tenancy.authenticate(plain.secret).actor().user_id is None
    assert "user_id" not in plain.to_dict()
    assert {k.name: k.user_id for k in tenancy.keys(people.actor)} == {"ada": ada, "ci": None}
    with pytest.raises(NotFound, match="unknown user"):
        tenancy.create_key(
            people.actor, name="x", scopes=frozenset({ApiScope.READ}), user="zed@example.com"
        )
    assert len(tenancy.keys(people.actor)) == 2
