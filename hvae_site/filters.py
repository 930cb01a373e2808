"""The API's filter backend: a filter naming a related object (``?study=3``) offers only the objects the user
may see, so an id of someone else's study answers like an id that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter  # type: ignore[import-untyped]
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]


def _scopes() -> dict[type[Model], Callable[[Any], QuerySet[Any]]]:
    # Imported when a request is filtered: DRF loads this module while its own settings are being read.
    from annotation import participant_selectors
    from annotation import selectors as annotation_selectors
    from annotation.models import AnnotationBatch, AnnotationTask, Participant, Rater, SvoLink, SvoResponseSet
    from evaluation import access
    from evaluation.models import EvaluationRun, ModelEndpoint, Study, Trial

    return {
        Study: access.studies_visible_to,
        EvaluationRun: access.runs_visible_to,
        Trial: access.trials_visible_to,
        ModelEndpoint: access.endpoints_usable_by,
        AnnotationBatch: annotation_selectors.batches_visible_to,
        AnnotationTask: annotation_selectors.tasks_visible_to,
        Rater: annotation_selectors.raters_visible_to,
        SvoLink: participant_selectors.svo_links_visible_to,
        Participant: participant_selectors.participants_visible_to,
        SvoResponseSet: participant_selectors.response_sets_visible_to,
    }


class ScopedFilterBackend(DjangoFilterBackend):  # type: ignore[misc]
    def get_filterset(self, request: Any, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        scopes = _scopes()
        for declared in filterset.filters.values():
            if isinstance(declared, ModelChoiceFilter | ModelMultipleChoiceFilter):
                model = declared.queryset.model
                if model not in scopes:
                    raise LookupError(f"no access scope for filters on {model.__name__}")
                declared.queryset = scopes[model](request.user)
        return filterset
