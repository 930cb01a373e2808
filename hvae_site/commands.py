"""What every management command that reads or writes the service's database has in common."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor


class _ArgumentParser(CommandParser):
    """Bad arguments exit with code 2 and a message, whether the command runs from the shell (argparse's own
    exit) or through ``call_command`` (a CommandError with return code 2, not Django's default 1)."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            super().error(message)
        raise CommandError(f"Error: {message}", returncode=2)


class ArgumentsCommand(BaseCommand):
    """A command whose bad arguments exit with code 2 and a message (see ``_ArgumentParser``); it needs no
    database (e.g. ``plan_validation``)."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _ArgumentParser
        return parser


class DatabaseCommand(ArgumentsCommand):
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
