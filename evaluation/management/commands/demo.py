"""python manage.py demo: the main job on one machine with no network.

Starts the reference agents' server on loopback, runs (or resumes) the demo study — every reference profile ×
four values × two strategies × 10 trials, plus two arms for the sensitivity analyses: ``ref-faithful`` under
the paper's protocol (``--variant paper``) and the position-biased profile with the options in reversed order —
prints the summary tables, then serves the results on :8000.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandParser

from evaluation import prompts, services
from evaluation.models import ModelEndpoint
from evaluation.reference_llm.agents import PROFILES
from evaluation.reference_llm.server import ServerConfig, start_in_thread
from hvae_site import validators
from hvae_site.commands import DatabaseCommand

DEMO_STUDY = "demo"
DEMO_USER = "demo"


POSITION_PROFILE = "ref-position-biased"


def sensitivity_arms() -> list[dict[str, str]]:
    """The arms the study page's sensitivity section reads, beside the main grid (which is the fixed-order
    ``dialogue`` baseline): ``ref-faithful`` under the paper's protocol (prompt sensitivity), and the
    position-biased profile (``ref-faithful`` where that profile does not exist) with options reversed."""
    arms = []
    if "paper" in prompts.VARIANTS:
        arms.append({"models": "ref-faithful", "strategies": "plain,goal", "variant": "paper"})
    position_model = POSITION_PROFILE if POSITION_PROFILE in PROFILES else "ref-faithful"
    arms.append({"models": position_model, "strategies": "plain", "order": "reversed"})
    return arms


class Command(DatabaseCommand):
    help = "Run the demo study against the reference agents and serve the results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trials", type=validators.arg_int(minimum=1, maximum=1000), default=10)
        parser.add_argument(
            "--reference-port", type=validators.arg_int(minimum=0, maximum=65535), default=8765
        )
        parser.add_argument("--port", type=validators.arg_int(minimum=1, maximum=65535), default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Stop after printing the table.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo calls the reference agents it starts on loopback, and its site may start runs on them.
        settings.HVAE_OUTBOUND_ALLOWED_HOSTS = [*settings.HVAE_OUTBOUND_ALLOWED_HOSTS, "127.0.0.1"]
        server = start_in_thread(ServerConfig(host="127.0.0.1", port=options["reference_port"]))
        try:
            models = [name for name in PROFILES if name != "ref-extractor"]
            password = self.demo_password()
            for arm in [{"models": ",".join(models), "strategies": "plain,goal"}, *sensitivity_arms()]:
                call_command(
                    "run_evaluation",
                    study=DEMO_STUDY,
                    owner=DEMO_USER,
                    endpoint_url=server.base_url,
                    values="all",
                    trials=options["trials"],
                    concurrency=32,
                    extractor_model="ref-extractor",
                    **arm,
                )
            ModelEndpoint.objects.filter(base_url=server.base_url.rstrip("/")).update(
                is_reference=True, name="reference agents (loopback)", shared=True
            )
            if options["no_serve"]:
                return
            self.stdout.write(
                f"\nResults: http://127.0.0.1:{options['port']}/  (sign in as {DEMO_USER!r}, password {password!r})\n"
                f"Admin:   http://127.0.0.1:{options['port']}/admin/   API docs: /api/v1/docs/\n"
                f"Reference agents keep serving at {server.base_url} while the site runs.\n"
            )
            # People take the same slider (one value description per person, balanced; retest open at once).
            call_command("human_svo_link", study=DEMO_STUDY, induce="random", retest_after=0)
            call_command("runserver", f"127.0.0.1:{options['port']}", use_reloader=False, use_threading=True)
        finally:
            server.stop()

    def demo_password(self) -> str:
        """The demo researcher's password, made once and kept in var/ so it stays the same between runs."""
        path = settings.VAR_DIR / "demo-password.txt"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
        password = path.read_text().strip()
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER, defaults={"is_staff": True})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        user.groups.add(services.researchers_group())
        return password
