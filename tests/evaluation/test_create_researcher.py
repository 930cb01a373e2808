"""python manage.py create_researcher: a staff account in the researchers group; bad input exits 2, saves
nothing; running it again is harmless."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from evaluation import access

PASSWORD = "a-long-enough-researcher-password"


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_researcher", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_migrating_creates_the_researchers_group_with_its_permissions(db: None) -> None:
    group = Group.objects.get(name=access.RESEARCHERS_GROUP)
    assert group.permissions.filter(codename="add_study").exists()


def test_creates_a_researcher_with_the_password_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HVAE_TEST_PASSWORD", PASSWORD)
    out = create("alice", "--email", "alice@lab.example", "--password-env", "HVAE_TEST_PASSWORD")
    assert "Created researcher 'alice'" in out
    user = User.objects.get(username="alice")
    assert user.email == "alice@lab.example"
    assert user.is_staff
    assert not user.is_superuser
    assert user.check_password(PASSWORD)
    assert access.is_researcher(user)
    assert user.has_perm("evaluation.add_study")
    assert user.has_perm("evaluation.change_evaluationrun")
    assert not user.has_perm("auth.change_user")


def test_without_a_password_the_account_has_none_usable(db: None) -> None:
    assert "no usable password" in create("bob", "--email", "bob@lab.example")
    assert not User.objects.get(username="bob").has_usable_password()


def test_running_it_again_is_idempotent_and_makes_an_existing_user_a_researcher(db: None) -> None:
    create("carol", "--email", "carol@lab.example")
    create("carol", "--email", "carol@lab.example")
    assert User.objects.filter(username="carol").count() == 1
    User.objects.create_user("dave", email="dave@lab.example", password=PASSWORD)
    assert "Researcher 'dave'" in create("dave", "--email", "dave@lab.example")
    dave = User.objects.get(username="dave")
    assert access.is_researcher(dave)
    assert dave.check_password(PASSWORD)  # kept: no new password was given


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eve", "--email", "not-an-address"], "invalid e-mail address"),
        (
            ["eve", "--email", "eve@lab.example", "--password-env", "HVAE_TEST_UNSET"],
            "HVAE_TEST_UNSET is not set",
        ),
        (
            ["eve", "--email", "eve@lab.example", "--password-env", "HVAE_TEST_SHORT"],
            "password is not acceptable",
        ),
        (["bad name!", "--email", "eve@lab.example"], "invalid username"),
        (["erin", "--email", "other@lab.example"], "exists with another e-mail address"),
    ],
)
def test_bad_input_exits_2_and_saves_nothing(
    db: None, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.delenv("HVAE_TEST_UNSET", raising=False)
    monkeypatch.setenv("HVAE_TEST_SHORT", "short")
    User.objects.create_user("erin", email="erin@lab.example")
    with pytest.raises(CommandError, match=message) as error:
        create(*args)
    assert error.value.returncode == 2
    assert set(User.objects.values_list("username", flat=True)) == {"erin"}
    assert not User.objects.get(username="erin").groups.exists()
