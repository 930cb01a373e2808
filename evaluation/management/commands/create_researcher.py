"""python manage.py create_researcher USERNAME --email E [--password-env VAR]: a researcher account.

Idempotent: running it again for the same user and e-mail changes nothing but the password (if given). The
password is read from an environment variable, never from the command line, where it would stay in the shell's
history and the process list. Without one the account has no usable password (set it later with
``changepassword`` or give it an API token).
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.core.validators import validate_email
from django.db.models import Field

from evaluation import services
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


def fail(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(DatabaseCommand):
    help = "Create a researcher (or make an existing user one): staff, in the 'researchers' group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-env", default="", help="Environment variable holding the password (default: none)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        users = get_user_model()
        username_field = users._meta.get_field(users.USERNAME_FIELD)
        assert isinstance(username_field, Field)
        try:
            username_field.clean(username, None)
        except ValidationError as exc:
            raise fail(f"invalid username {username!r}: {' '.join(exc.messages)}") from exc
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise fail(f"invalid e-mail address {email!r}") from exc
        password = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"], "")
            if not password:
                raise fail(f"the environment variable {options['password_env']} is not set or empty")
            try:
                validate_password(password, users(username=username, email=email))
            except ValidationError as exc:
                raise fail(f"the password is not acceptable: {' '.join(exc.messages)}") from exc
        try:
            user, created = services.researcher_create(username=username, email=email, password=password)
        except DomainError as exc:
            raise fail(exc.message) from exc
        verb = "Created researcher" if created else "Researcher"
        note = "" if password is not None or not created else " (no usable password yet)"
        self.stdout.write(f"{verb} {user.get_username()!r} <{email}>{note}.")
