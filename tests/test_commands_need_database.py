"""Commands that use the database say clearly when it is not migrated or not reachable: exit 2, no traceback."""

from __future__ import annotations

import pytest

from tests.processes import manage

COMMANDS = [
    ["run_evaluation", "--study", "s", "--endpoint-url", "http://127.0.0.1:9/v1", "--models", "m"],
    ["annotation_push", "--study", "s", "--size", "1"],
    ["annotation_sync", "--study", "s"],
    ["study_report", "--study", "s", "--out", "report.html"],
    ["demo", "--no-serve"],
    ["rescore", "--study", "s"],
    ["preregister", "--study", "s"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unmigrated_database_is_a_clear_error(command, tmp_path) -> None:
    process = manage(*command, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "unapplied migration(s); run `python manage.py migrate` first" in stderr
    assert "Traceback" not in stderr


def test_an_unreachable_database_is_a_clear_error(tmp_path) -> None:
    process = manage(*COMMANDS[0], env={"DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"})
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "the database is not reachable" in stderr
    assert "Traceback" not in stderr
