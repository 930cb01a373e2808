"""Who may see and change what: the one layer every read of study data goes through.

A *researcher* is an active user in the ``researchers`` group, or a superuser. A researcher sees the studies they
own or collaborate on (as a viewer or an editor); superusers see every study, including those with no owner.
Writes (start or cancel runs, push or sync annotation batches, edit the study, exclude raters) need the owner,
an editor or a superuser. Everything recorded under a study (runs, trials, batches, raters, judgments) is visible
exactly when its study is. Saved endpoints are their creator's unless an admin shared them.

An invisible study answers 404 (its existence is not disclosed); a visible one the user may only read answers
403 to a write.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.permissions import BasePermission

from evaluation.models import EvaluationRun, ModelEndpoint, Study, StudyMember, Trial

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    AnyUser = AbstractBaseUser | AnonymousUser
else:
    AnyUser = Any

RESEARCHERS_GROUP = "researchers"


class StudyNotFound(Http404):
    """The study does not exist or the user may not see it: the same answer for both."""


class StudyReadOnly(PermissionDenied):
    """The user sees the study but may not change it."""


def is_researcher(user: AnyUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    cached: bool | None = getattr(user, "_hvae_is_researcher", None)
    if cached is None:
        cached = Group.objects.filter(name=RESEARCHERS_GROUP, user=user.pk).exists()
        setattr(user, "_hvae_is_researcher", cached)  # noqa: B010 - remembered for the request
    return cached


def _is_superuser(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def studies_visible_to(user: AnyUser) -> QuerySet[Study]:
    if _is_superuser(user):
        return Study.objects.all()
    if not is_researcher(user):
        return Study.objects.none()
    memberships = StudyMember.objects.filter(user=user.pk).values("study")
    return Study.objects.filter(Q(owner=user.pk) | Q(pk__in=memberships))


def studies_writable_by(user: AnyUser) -> QuerySet[Study]:
    if _is_superuser(user):
        return Study.objects.all()
    if not is_researcher(user):
        return Study.objects.none()
    editing = StudyMember.objects.filter(user=user.pk, role=StudyMember.Role.EDITOR).values("study")
    return Study.objects.filter(Q(owner=user.pk) | Q(pk__in=editing))


def can_write(user: AnyUser, study: Study) -> bool:
    return studies_writable_by(user).filter(pk=study.pk).exists()


def check_write(user: AnyUser, study: Study, *, field: str | None = None) -> None:
    """Raise unless the user may change the study: 403 if they may only read it; if they cannot even see it,
    404, or, for a study named in a request's ``field``, the same 400 as for an id that does not exist."""
    if can_write(user, study):
        return
    if studies_visible_to(user).filter(pk=study.pk).exists():
        raise StudyReadOnly(
            f"You may read study {study.pk} but not change it: ask its owner for editor rights."
        )
    if field is not None:
        # Imported here: hvae_site.api loads DRF's settings, which import this module.
        from hvae_site.api import DomainError

        raise DomainError(f'Invalid pk "{study.pk}" - object does not exist.', field=field)
    raise StudyNotFound("No such study.")


def researcher(user: AnyUser) -> User:
    """The signed-in researcher making a request (views call this after ``IsResearcher`` or the decorator)."""
    if not isinstance(user, User) or not is_researcher(user):
        raise PermissionDenied("Only researchers may do this.")
    return user


def study_for(user: AnyUser, pk_or_name: int | str, *, write: bool = False) -> Study:
    """The study with this id or name if the user may see it (and change it, with ``write``)."""
    visible = studies_visible_to(user)
    study: Study | None
    if isinstance(pk_or_name, int):
        study = visible.filter(pk=pk_or_name).first()
    else:
        study = visible.filter(name=pk_or_name).first()
        if study is None and pk_or_name.isdigit():
            study = visible.filter(pk=int(pk_or_name)).first()
    if study is None:
        raise StudyNotFound("No such study.")
    if write:
        check_write(user, study)
    return study


def runs_visible_to(user: AnyUser) -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.filter(study__in=studies_visible_to(user).values("pk"))


def run_for(user: AnyUser, pk: int, *, write: bool = False) -> EvaluationRun:
    run = runs_visible_to(user).select_related("study", "endpoint").filter(pk=pk).first()
    if run is None:
        raise StudyNotFound("No such run.")
    if write:
        check_write(user, run.study)
    return run


def trials_visible_to(user: AnyUser) -> QuerySet[Trial]:
    return Trial.objects.filter(run__study__in=studies_visible_to(user).values("pk"))


def endpoints_usable_by(user: AnyUser) -> QuerySet[ModelEndpoint]:
    if _is_superuser(user):
        return ModelEndpoint.objects.all()
    if not is_researcher(user):
        return ModelEndpoint.objects.none()
    return ModelEndpoint.objects.filter(Q(owner=user.pk) | Q(shared=True))


# --- Enforcement at the edges: the API's default permission and the pages' decorator -----------------------


class IsResearcher(BasePermission):
    """The API's default permission: signed in and a researcher. Objects are then scoped by the querysets above."""

    message = "Only researchers may use the API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_researcher(request.user)


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def researcher_required(view: View) -> View:
    """Pages for researchers: anonymous visitors are sent to sign in; other signed-in users get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_researcher(request.user):
            raise PermissionDenied("Only researchers may open this page.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]
