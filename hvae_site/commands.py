"""What every management command that reads or writes the service's database has in common."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor


class DatabaseCommand(BaseCommand):
    """A command that needs the database: an unreachable or unmigrated one is a clear error (exit code 2),
    found before the command does anything, never a traceback halfway through."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise CommandError(f"the database is not reachable: {exc}".strip(), returncode=2) from exc
        if pending:
            raise CommandError(
                f"the database has {len(pending)} unapplied migration(s); run `python manage.py migrate` first",
                returncode=2,
            )
        return super().execute(*args, **options)  # type: ignore[no-any-return]
