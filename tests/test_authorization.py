"""The authorization matrix: every URL pattern of the site, walked from the resolver, requested as each kind of
user, with the outcome each must get. A new URL pattern without a rule here fails the test, so every page and
API path is classified when it is added.

Outcomes: ``login`` (401, or a redirect to the sign-in page), ``forbidden`` (403), ``hidden`` (404, or the
admin's "does not exist" redirect), ``invalid:<fields>`` (400 naming the fields: the request got past the access
checks), ``redirect`` (any other redirect), ``ok`` (2xx); lists and admin pages that should show the fixture
study's object are ``listed`` or ``empty``; admin change pages a user may only read are ``view``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from annotation import participant_services
from annotation import services as annotation_services
from annotation.models import (
    AnnotationBatch,
    AnnotationTask,
    GoldLabel,
    HumanJudgment,
    Participant,
    Rater,
    SvoLink,
    SvoResponseSet,
)
from annotation.views import SESSION_RATER
from evaluation import services
from evaluation.models import EvaluationRun, LLMCall, ModelEndpoint, PromptTemplate, Study, StudyMember, Trial
from tests.annotation.factories import make_design_study

IDENTITIES = ("anonymous", "rater", "plain", "outsider", "viewer", "editor", "owner", "staff", "superuser")

# Patterns anyone may open, each with the reason it needs no researcher.
PUBLIC = {
    "health": "liveness probe for load balancers; reveals only that the database answers",
    "labelstudio-webhook": "Label Studio's webhook, authenticated by its shared secret",
    "rater-join": "rater consent page, opened by a signed invite token",
    "rater-instructions": "rater instructions, behind a signed invite token",
    "rater-start": "rater account creation, behind a signed invite token and the consent in the session",
    "rater-progress": "a rater's own progress, found from their session only",
    "rater-label-studio": "signs a rater in to Label Studio, for the rater found from their own session only (POST)",
    "svo-join": "participant consent page, opened by a signed participant-link token",
    "svo-instructions": "a participant's instructions, behind a signed link token and their own session",
    "svo-items": "a participant's own slider page (POST submits it), behind a signed link token and their session",
    "svo-done": "a participant's own completion code and retest, found from their session only",
    "svo-retest": "a participant's retest, behind their own signed retest token and their session or platform id",
    "svo-retest-items": "a participant's retest sliders, behind their own signed retest token and session",
    "admin:login": "the sign-in page itself",
    "admin:logout": "ends the caller's own session (POST only)",
}


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(name, route) of every URL pattern, unnamed ones named by their route."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            yield namespace + (pattern.name or route), route


# --- Expected outcomes ---------------------------------------------------------------------------------------


def outcomes(**by_identity: str) -> dict[str, str]:
    assert set(by_identity) == set(IDENTITIES), set(IDENTITIES) ^ set(by_identity)
    return by_identity


def api(**researchers: str) -> dict[str, str]:
    """An API path: refused before any object is looked at for everyone who is not a researcher."""
    return outcomes(anonymous="login", rater="forbidden", plain="forbidden", **researchers)


def page(**researchers: str) -> dict[str, str]:
    """A researcher page: anonymous visitors are sent to sign in, other non-researchers refused."""
    return outcomes(anonymous="login", rater="forbidden", plain="forbidden", **researchers)


def admin(**staff: str) -> dict[str, str]:
    """An admin page: whoever is not staff (the outsider researcher included) is sent to sign in."""
    return outcomes(anonymous="login", rater="login", plain="login", outsider="login", **staff)


EVERY_RESEARCHER = dict.fromkeys(("outsider", "viewer", "editor", "owner", "staff", "superuser"), "ok")
MEMBERS = {
    "outsider": "hidden",
    "viewer": "ok",
    "editor": "ok",
    "owner": "ok",
    "staff": "hidden",
    "superuser": "ok",
}
LISTED_TO_MEMBERS = {
    "outsider": "empty",
    "viewer": "listed",
    "editor": "listed",
    "owner": "listed",
    "staff": "empty",
    "superuser": "listed",
}
ADMIN_STAFF = ("viewer", "editor", "owner", "staff", "superuser")


@dataclass
class Check:
    method: str
    expected: dict[str, str]
    args: Callable[[World], dict[str, Any]] = lambda world: {}
    data: Callable[[World, str], Any] = lambda world, identity: None
    listed: Callable[[World], Any] | None = None  # the id (API) or text (HTML) of the fixture object


@dataclass
class World:
    study: Study
    run: EvaluationRun
    trial: Trial
    call: LLMCall
    endpoint: ModelEndpoint
    template: PromptTemplate
    batch: AnnotationBatch
    task: AnnotationTask
    rater: Rater
    judgment: HumanJudgment
    link: SvoLink
    participant: Participant
    response_set: SvoResponseSet
    gold: GoldLabel
    users: dict[str, User] = field(default_factory=dict)


def admin_model_checks(
    app: str,
    model: str,
    obj: Callable[[World], Any],
    *,
    changelist: dict[str, str],
    add: dict[str, str],
    change: dict[str, str],
    history: dict[str, str],
    delete: dict[str, str],
) -> dict[str, list[Check]]:
    prefix = f"admin:{app}_{model}"
    object_id = lambda world: {"object_id": str(obj(world).pk)}  # noqa: E731
    change_url = lambda world: f"/admin/{app}/{model}/{obj(world).pk}/change/"  # noqa: E731
    return {
        f"{prefix}_changelist": [Check("GET", admin(**changelist), listed=change_url)],
        f"{prefix}_add": [Check("GET", admin(**add))],
        f"{prefix}_change": [Check("GET", admin(**change), object_id)],
        f"{prefix}_history": [Check("GET", admin(**history), object_id)],
        f"{prefix}_delete": [Check("GET", admin(**delete), object_id)],
        f"admin:admin/{app}/{model}/<path:object_id>/": [
            Check("GET", admin(**dict.fromkeys(ADMIN_STAFF, "redirect")), object_id)
        ],
    }


def staff_outcomes(viewer: str, editor: str, owner: str, staff: str, superuser: str) -> dict[str, str]:
    return {"viewer": viewer, "editor": editor, "owner": owner, "staff": staff, "superuser": superuser}


ALL_STAFF_OK = staff_outcomes("ok", "ok", "ok", "ok", "ok")
ONLY_SUPERUSER = staff_outcomes("forbidden", "forbidden", "forbidden", "forbidden", "ok")
NOBODY = staff_outcomes("forbidden", "forbidden", "forbidden", "forbidden", "forbidden")
MEMBERS_LISTED = staff_outcomes("listed", "listed", "listed", "empty", "listed")
MEMBERS_READ = staff_outcomes("view", "view", "view", "hidden", "view")
MEMBERS_HISTORY = staff_outcomes("ok", "ok", "ok", "hidden", "ok")


def auth_admin(app: str, model: str, obj: Callable[[World], Any]) -> dict[str, list[Check]]:
    """Users, groups and tokens: superusers only."""
    return admin_model_checks(
        app,
        model,
        obj,
        changelist=staff_outcomes("forbidden", "forbidden", "forbidden", "forbidden", "listed"),
        add=ONLY_SUPERUSER,
        change=ONLY_SUPERUSER,
        history=ONLY_SUPERUSER,
        delete=ONLY_SUPERUSER,
    )


def record_admin(app: str, model: str, obj: Callable[[World], Any]) -> dict[str, list[Check]]:
    """What the pipeline recorded: read by the study's members, never added, changed or deleted."""
    return admin_model_checks(
        app,
        model,
        obj,
        changelist=MEMBERS_LISTED,
        add=NOBODY,
        change=MEMBERS_READ,
        history=MEMBERS_HISTORY,
        delete=NOBODY,
    )


def batch_payload(world: World, identity: str) -> dict[str, Any]:
    return {"study": world.study.pk, "size": 6, "overlap": 2, "seed": 1, "gold": 2}


def run_payload(world: World, identity: str) -> dict[str, Any]:
    return {
        "study": world.study.pk,
        "endpoint": world.endpoint.pk,
        "model": "ref-faithful",
        "value": "prosocial",
        "n_trials": 1,
    }


def link_payload(world: World, identity: str) -> dict[str, Any]:
    return {"study": world.study.pk, "induce": "random", "retest_after_hours": 24, "quota": 40}


pk_of = {
    "study": lambda world: {"pk": world.study.pk},
    "run": lambda world: {"pk": world.run.pk},
    "trial": lambda world: {"pk": world.trial.pk},
}

RULES: dict[str, list[Check]] = {
    # Researcher pages and downloads
    "study-list-page": [Check("GET", page(**LISTED_TO_MEMBERS), listed=lambda world: world.study.name)],
    "study-page": [Check("GET", page(**MEMBERS), pk_of["study"])],
    "study-report-json": [Check("GET", page(**MEMBERS), pk_of["study"])],
    "study-report-table": [
        Check("GET", page(**MEMBERS), lambda world: {"pk": world.study.pk, "table": "automated"})
    ],
    "study-raw-data": [
        Check("GET", page(**MEMBERS), lambda world: {"pk": world.study.pk, "table": "trials", "fmt": "csv"}),
        Check(
            "GET", page(**MEMBERS), lambda world: {"pk": world.study.pk, "table": "judgments", "fmt": "json"}
        ),
    ],
    "svo-responses-export": [
        Check("GET", page(**MEMBERS), lambda world: {"pk": world.study.pk, "fmt": "csv"}),
        Check("GET", page(**MEMBERS), lambda world: {"pk": world.study.pk, "fmt": "json"}),
    ],
    "run-page": [Check("GET", page(**MEMBERS), pk_of["run"])],
    "run-progress": [Check("GET", page(**MEMBERS), pk_of["run"])],
    "run-cancel-page": [
        Check(
            "POST",
            page(
                outsider="hidden",
                viewer="forbidden",
                editor="redirect",
                owner="redirect",
                staff="hidden",
                superuser="redirect",
            ),
            pk_of["run"],
        )
    ],
    "trial-page": [Check("GET", page(**MEMBERS), pk_of["trial"])],
    # The API
    "schema": [Check("GET", api(**EVERY_RESEARCHER))],
    "api-docs": [Check("GET", api(**EVERY_RESEARCHER))],
    "api-redoc": [Check("GET", api(**EVERY_RESEARCHER))],
    "svo-score": [
        Check("POST", api(**EVERY_RESEARCHER), data=lambda world, identity: {"primary": [1, 9, 1, 1, 9, 9]})
    ],
    "stats-agreement": [
        Check(
            "POST",
            api(**EVERY_RESEARCHER),
            data=lambda world, identity: {
                "ratings": [
                    {"unit": "a", "rater": "r1", "label": "x"},
                    {"unit": "a", "rater": "r2", "label": "x"},
                ],
                "n_boot": 100,
            },
        )
    ],
    "study-list": [
        Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.study.pk),
        Check(
            "POST", api(**EVERY_RESEARCHER), data=lambda world, identity: {"name": f"{identity}'s new study"}
        ),
    ],
    "study-detail": [Check("GET", api(**MEMBERS), pk_of["study"])],
    "study-report": [Check("GET", api(**MEMBERS), pk_of["study"])],
    "endpoint-list": [
        Check(
            "GET",
            api(
                outsider="empty",
                viewer="empty",
                editor="empty",
                owner="listed",
                staff="empty",
                superuser="listed",
            ),
            listed=lambda world: world.endpoint.pk,
        )
    ],
    "run-list": [
        Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.run.pk),
        Check(
            "POST",
            api(
                outsider="invalid:study",
                viewer="forbidden",
                editor="invalid:endpoint",  # the owner's endpoint is not the editor's to use
                owner="invalid:endpoint",  # nothing listens there
                staff="invalid:study",
                superuser="invalid:endpoint",
            ),
            data=run_payload,
        ),
    ],
    "run-detail": [Check("GET", api(**MEMBERS), pk_of["run"])],
    "run-cancel": [
        Check(
            "POST",
            api(
                outsider="hidden", viewer="forbidden", editor="ok", owner="ok", staff="hidden", superuser="ok"
            ),
            pk_of["run"],
        )
    ],
    "trial-list": [Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.trial.pk)],
    "trial-detail": [Check("GET", api(**MEMBERS), pk_of["trial"])],
    "batch-list": [
        Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.batch.pk),
        Check(
            "POST",
            api(
                outsider="invalid:study",
                viewer="forbidden",
                editor="invalid:detail",  # allowed; Label Studio is not configured in the tests
                owner="invalid:detail",
                staff="invalid:study",
                superuser="invalid:detail",
            ),
            data=batch_payload,
        ),
    ],
    "rater-list": [Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.rater.pk)],
    "judgment-list": [Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.judgment.pk)],
    "svo-link-list": [
        Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.link.pk),
        Check(
            "POST",
            api(
                outsider="invalid:study",
                viewer="forbidden",
                editor="ok",
                owner="ok",
                staff="invalid:study",
                superuser="ok",
            ),
            data=link_payload,
        ),
    ],
    "participant-list": [Check("GET", api(**LISTED_TO_MEMBERS), listed=lambda world: world.participant.pk)],
    "participant-detail": [Check("GET", api(**MEMBERS), lambda world: {"pk": world.participant.pk})],
    # The admin site
    "admin:index": [Check("GET", admin(**ALL_STAFF_OK))],
    "admin:password_change": [Check("GET", admin(**ALL_STAFF_OK))],
    "admin:password_change_done": [Check("GET", admin(**ALL_STAFF_OK))],
    "admin:jsi18n": [Check("GET", admin(**ALL_STAFF_OK))],
    # No model of ours declares autocomplete fields: every autocomplete request is refused.
    "admin:autocomplete": [Check("GET", admin(**NOBODY))],
    "admin:view_on_site": [
        Check(
            "GET",
            admin(**dict.fromkeys(ADMIN_STAFF, "hidden")),  # studies have no public URL
            lambda world: {
                "content_type_id": str(ContentType.objects.get_for_model(Study).pk),
                "object_id": str(world.study.pk),
            },
        )
    ],
    "admin:app_list": [Check("GET", admin(**ALL_STAFF_OK), lambda world: {"app_label": "evaluation"})],
    "admin:admin/(?P<url>.*)$": [
        Check("GET", admin(**dict.fromkeys(ADMIN_STAFF, "hidden")), lambda world: {"url": "no-such-page/"})
    ],
    "admin:auth_user_password_change": [
        Check("GET", admin(**ONLY_SUPERUSER), lambda world: {"id": str(world.users["owner"].pk)})
    ],
    **auth_admin("auth", "group", lambda world: Group.objects.get(name="researchers")),
    **auth_admin("auth", "user", lambda world: world.users["owner"]),
    **auth_admin("authtoken", "tokenproxy", lambda world: world.users["owner"]),
    **admin_model_checks(
        "evaluation",
        "study",
        lambda world: world.study,
        changelist=MEMBERS_LISTED,
        add=ALL_STAFF_OK,
        change=staff_outcomes("view", "ok", "ok", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=staff_outcomes("forbidden", "forbidden", "ok", "hidden", "ok"),
    ),
    **admin_model_checks(
        "evaluation",
        "modelendpoint",
        lambda world: world.endpoint,
        changelist=staff_outcomes("empty", "empty", "listed", "empty", "listed"),
        add=ALL_STAFF_OK,
        change=staff_outcomes("hidden", "hidden", "ok", "hidden", "ok"),
        history=staff_outcomes("hidden", "hidden", "ok", "hidden", "ok"),
        delete=staff_outcomes("hidden", "hidden", "ok", "hidden", "ok"),
    ),
    **admin_model_checks(
        "evaluation",
        "prompttemplate",
        lambda world: world.template,
        changelist=staff_outcomes("listed", "listed", "listed", "listed", "listed"),
        add=NOBODY,
        change=staff_outcomes("view", "view", "view", "view", "view"),
        history=ALL_STAFF_OK,
        delete=NOBODY,
    ),
    **record_admin("evaluation", "evaluationrun", lambda world: world.run),
    **record_admin("evaluation", "trial", lambda world: world.trial),
    **record_admin("evaluation", "llmcall", lambda world: world.call),
    **admin_model_checks(
        "annotation",
        "annotationbatch",
        lambda world: world.batch,
        changelist=MEMBERS_LISTED,
        add=ONLY_SUPERUSER,
        change=staff_outcomes("view", "ok", "ok", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=ONLY_SUPERUSER,
    ),
    **admin_model_checks(
        "annotation",
        "annotationtask",
        lambda world: world.task,
        changelist=MEMBERS_LISTED,
        add=ONLY_SUPERUSER,
        change=staff_outcomes("view", "view", "view", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=ONLY_SUPERUSER,
    ),
    **admin_model_checks(
        "annotation",
        "rater",
        lambda world: world.rater,
        changelist=MEMBERS_LISTED,
        add=ONLY_SUPERUSER,
        change=staff_outcomes("view", "ok", "ok", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=NOBODY,  # raters are excluded, never deleted
    ),
    **admin_model_checks(
        "annotation",
        "humanjudgment",
        lambda world: world.judgment,
        changelist=MEMBERS_LISTED,
        add=NOBODY,
        change=staff_outcomes("view", "view", "view", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=NOBODY,
    ),
    **admin_model_checks(
        "annotation",
        "svolink",
        lambda world: world.link,
        changelist=MEMBERS_LISTED,
        add=ALL_STAFF_OK,  # the form offers only studies the user may change
        change=MEMBERS_READ,  # a link's design never changes once people may have used it
        history=MEMBERS_HISTORY,
        delete=NOBODY,  # its participants' answers hang off it
    ),
    **admin_model_checks(
        "annotation",
        "goldlabel",
        lambda world: world.gold,
        changelist=MEMBERS_LISTED,
        add=ALL_STAFF_OK,  # the form offers only trials of studies the user may change; saving checks again
        change=staff_outcomes("view", "ok", "ok", "hidden", "ok"),
        history=MEMBERS_HISTORY,
        delete=staff_outcomes("forbidden", "ok", "ok", "hidden", "ok"),
    ),
    **record_admin("annotation", "participant", lambda world: world.participant),
    **record_admin("annotation", "svoresponseset", lambda world: world.response_set),
}


# --- The fixture study and its users -------------------------------------------------------------------------


def researcher(username: str, *, staff: bool) -> User:
    user, _ = services.researcher_create(username=username, email=f"{username}@lab.invalid", password=None)
    assert isinstance(user, User)
    if not staff:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def world(db: None) -> World:
    owner = researcher("owner", staff=True)
    users = {
        "rater": User.objects.create_user("rater"),
        "plain": User.objects.create_user("plain"),
        "outsider": researcher("outsider", staff=False),
        "viewer": researcher("viewer", staff=True),
        "editor": researcher("editor", staff=True),
        "owner": owner,
        "staff": researcher("staff", staff=True),
        "superuser": User.objects.create_superuser("superuser", "root@lab.invalid", "a-long-test-password"),
    }
    Token.objects.create(user=owner)
    study = make_design_study("matrix study")
    study.owner = owner
    study.save(update_fields=["owner"])
    StudyMember.objects.create(study=study, user=users["viewer"], role=StudyMember.Role.VIEWER)
    StudyMember.objects.create(study=study, user=users["editor"], role=StudyMember.Role.EDITOR)
    endpoint = ModelEndpoint.objects.create(
        name="owner's endpoint", base_url="http://127.0.0.1:9/v1", owner=owner
    )
    run = EvaluationRun.objects.create(
        study=study, endpoint=endpoint, model="ref-faithful", value="prosocial", n_trials=1
    )
    trial = Trial.objects.filter(run__study=study).order_by("pk").first()
    assert trial is not None
    call = LLMCall.objects.create(run=trial.run, trial=trial, purpose="decision", request_messages=[])
    services.prompt_templates_ensure()
    batch, _ = annotation_services.annotation_batch_get_or_create(
        study=study, size=6, overlap=2, seed=1, gold=2
    )
    task = batch.tasks.order_by("pk").first()
    assert task is not None
    rater = Rater.objects.create(batch=batch, participant_id="p1", email="p1@raters.invalid")
    judgment = HumanJudgment.objects.create(
        label_studio_annotation_id=1, task=task, trial=task.trial, rater=rater, category="prosocial"
    )
    link = participant_services.svo_link_create(study=study, induce="random", retest_after_hours=24)
    participant, _ = participant_services.participant_join(link=link, participant_id="pp1")
    response_set = participant_services.svo_responses_submit(
        participant=participant,
        wave=1,
        submission=participant_services.Submission({1: 1, 2: 9, 3: 9, 4: 1, 5: 5, 6: 9}),
    )
    return World(
        study=study,
        run=run,
        trial=trial,
        call=call,
        endpoint=endpoint,
        template=PromptTemplate.objects.order_by("pk").first(),  # type: ignore[arg-type]
        batch=batch,
        task=task,
        rater=rater,
        judgment=judgment,
        link=link,
        participant=participant,
        response_set=response_set,
        gold=GoldLabel.objects.filter(trial__run__study=study).order_by("pk").first(),  # type: ignore[arg-type]
        users=users,
    )


def client_for(identity: str, world: World) -> Client:
    client = Client()
    if identity != "anonymous":
        client.force_login(world.users[identity])
    if identity == "rater":
        session = client.session
        session[SESSION_RATER] = world.rater.pk
        session.save()
    return client


def fill(route: str, args: dict[str, Any]) -> str:
    """The path of a route (``<int:pk>`` converters or regex groups) with the given arguments."""

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        assert name in args, f"no value for {name!r} in {route}"
        return str(args[name])

    path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", value, route)
    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, path)
    return "/" + path.replace("^", "").rstrip("$")


def outcome(response: Any, check: Check, world: World) -> str:
    status = response.status_code
    assert status < 500, f"server error {status}"
    location = response.get("Location", "")
    if status == 401 or (status == 302 and "/admin/login/" in location):
        return "login"
    if status == 403:
        return "forbidden"
    if status == 404 or (status == 302 and location == "/admin/"):
        return "hidden"
    if status == 400:
        body = response.json()
        return "invalid:" + ",".join(sorted(body)) if isinstance(body, dict) else "invalid"
    if 300 <= status < 400:
        return "redirect"
    assert 200 <= status < 300, status
    if check.listed is not None:
        wanted = check.listed(world)
        if isinstance(wanted, int):
            return "listed" if any(row["id"] == wanted for row in response.json()["results"]) else "empty"
        return "listed" if str(wanted) in response.content.decode() else "empty"
    if (
        response.get("Content-Type", "").startswith("text/html")
        and "/change/" in response.request["PATH_INFO"]
    ):
        return "ok" if 'name="_save"' in response.content.decode() else "view"
    return "ok"


def test_every_url_pattern_has_a_rule() -> None:
    names = [name for name, _ in walk(get_resolver().url_patterns)]
    unclassified = sorted(set(names) - set(RULES) - set(PUBLIC))
    assert not unclassified, f"URL patterns with no authorization rule: {unclassified}"
    assert not set(RULES) & set(PUBLIC)
    assert not set(RULES) - set(names), f"rules for patterns that no longer exist: {set(RULES) - set(names)}"


def test_authorization_matrix(world: World, settings: Any) -> None:
    settings.LABEL_STUDIO_URL = ""
    clients = {identity: client_for(identity, world) for identity in IDENTITIES}
    patterns = [(name, route) for name, route in walk(get_resolver().url_patterns) if name not in PUBLIC]
    mismatches = []
    requests = 0
    for name, route in patterns:
        for check in RULES[name]:
            path = fill(route, check.args(world))
            for identity in IDENTITIES:
                EvaluationRun.objects.filter(pk=world.run.pk).update(status=EvaluationRun.Status.RUNNING)
                client = clients[identity]
                if check.method == "GET":
                    response = client.get(path)
                else:
                    response = client.post(
                        path, check.data(world, identity) or {}, content_type="application/json"
                    )
                requests += 1
                got = outcome(response, check, world)
                if got != check.expected[identity]:
                    mismatches.append(
                        f"{check.method} {path} as {identity}: {got}, expected {check.expected[identity]}"
                    )
    assert not mismatches, "\n".join(mismatches)
    assert len(patterns) >= 100
    assert requests == sum(len(RULES[name]) for name, _ in patterns) * len(IDENTITIES)
