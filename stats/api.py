"""REST API of the stats app: a study's report as JSON, and a stateless agreement calculator."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation import access
from hvae_site.api import PostScopedRateThrottle
from stats import agreement, reports, validation
from stats.views import include_flagged, json_default

MAX_RATINGS = 100_000


class StudyReportApi(APIView):
    """The full study report (automated results, consistency, human validation, methods) as JSON, the same
    numbers as the study page and its CSV tables."""

    @extend_schema(
        parameters=[
            OpenApiParameter("include_flagged", bool, description="Keep raters flagged on gold items.")
        ],
        responses={200: dict},
    )
    def get(self, request: Request, pk: int) -> Response:
        study = access.study_for(request.user, pk)
        report = reports.cached_report(study, include_flagged=include_flagged(request))
        return Response(json.loads(json.dumps(report, default=json_default)))


def _finite(value: float | None, field: str) -> None:
    if value is not None and not math.isfinite(value):
        raise serializers.ValidationError({field: ["Must be a finite number."]})


class RatingSerializer(serializers.Serializer[dict[str, Any]]):
    unit = serializers.CharField(max_length=200, help_text="What was rated (a transcript, an item...).")
    rater = serializers.CharField(max_length=200)
    # "label" shadows Field.label in the stubs; it is the natural name of a rated category here.
    label = serializers.CharField(max_length=200, required=False, help_text="A category.")  # type: ignore[assignment]
    score = serializers.FloatField(required=False, help_text="A numeric rating (e.g. an angle in degrees).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "label" not in attrs and "score" not in attrs:
            raise serializers.ValidationError("A rating needs a label, a score, or both.")
        _finite(attrs.get("score"), "score")
        return attrs


class ReferenceSerializer(serializers.Serializer[dict[str, Any]]):
    unit = serializers.CharField(max_length=200)
    label = serializers.CharField(max_length=200, required=False)  # type: ignore[assignment]
    score = serializers.FloatField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "label" not in attrs and "score" not in attrs:
            raise serializers.ValidationError("A reference needs a label, a score, or both.")
        _finite(attrs.get("score"), "score")
        return attrs


class AgreementCalculatorApi(APIView):
    """Agreement statistics on posted ratings, each with n and a 95% CI; nothing is stored.

    Among raters: Fleiss' kappa and Krippendorff's alpha (nominal) of labels; Krippendorff's alpha
    (interval) and the intraclass correlations of scores. Given a reference (e.g. an automated metric):
    Cohen's kappa vs the raters' majority and mean kappa vs each rater (linear-weighted too when ``labels``
    gives the order), and the ICC of the reference as one more rater and vs the raters' mean, with the
    Bland-Altman bias and limits of agreement. These are the statistics of the study report.
    """

    throttle_classes = [PostScopedRateThrottle]
    throttle_scope = "stats-calculator"

    @extend_schema_serializer(component_name="AgreementCalculatorInput")
    class InputSerializer(serializers.Serializer[dict[str, Any]]):
        ratings = RatingSerializer(many=True, allow_empty=False)
        reference = ReferenceSerializer(many=True, required=False)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            allow_empty=False,
            help_text="The categories from lowest to highest; enables the linear-weighted kappas.",
        )
        n_boot = serializers.IntegerField(min_value=100, max_value=10_000, default=1000)
        seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, default=0)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            ratings = attrs["ratings"]
            if len(ratings) > MAX_RATINGS:
                raise serializers.ValidationError(
                    {"ratings": [f"At most {MAX_RATINGS} ratings per request."]}
                )
            seen: set[tuple[str, str]] = set()
            for rating in ratings:
                key = (rating["unit"], rating["rater"])
                if key in seen:
                    raise serializers.ValidationError(
                        {"ratings": [f"Rater {key[1]!r} rated unit {key[0]!r} more than once."]}
                    )
                seen.add(key)
            units = [reference["unit"] for reference in attrs.get("reference", [])]
            if len(units) != len(set(units)):
                raise serializers.ValidationError({"reference": ["Each unit may have one reference only."]})
            if "reference" in attrs and any(r["rater"] == validation.AUTOMATED_RATER for r in ratings):
                raise serializers.ValidationError(
                    {"ratings": [f"{validation.AUTOMATED_RATER!r} is reserved for the reference."]}
                )
            labels = attrs.get("labels")
            if labels is not None:
                if len(labels) != len(set(labels)):
                    raise serializers.ValidationError({"labels": ["Labels must not repeat."]})
                used = {r["label"] for r in ratings if "label" in r}
                used |= {r["label"] for r in attrs.get("reference", []) if "label" in r}
                unknown = sorted(used - set(labels))
                if unknown:
                    raise serializers.ValidationError(
                        {"labels": [f"Labels missing from the order: {unknown}."]}
                    )
            return attrs

    @extend_schema(request=InputSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(agreement_of_ratings(**serializer.validated_data))


def agreement_of_ratings(
    *,
    ratings: list[dict[str, Any]],
    reference: list[dict[str, Any]] | None = None,
    labels: list[str] | None = None,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """The calculator's statistics: the study report's human-validation statistics on posted ratings."""
    rows = pd.DataFrame(
        {
            "trial_id": [r["unit"] for r in ratings],
            "rater": [r["rater"] for r in ratings],
            "category": [r.get("label") for r in ratings],
            "angle": [r.get("score") for r in ratings],
        }
    ).assign(is_gold=False, gold_category=None, flagged=False, excluded=False, audit=[{}] * len(ratings))
    references = reference or []
    automated = pd.DataFrame(
        {
            "trial_id": [r["unit"] for r in references],
            "category": [r.get("label") for r in references],
            "angle": [r.get("score") for r in references],
        },
        columns=list(validation.AUTOMATED_COLUMNS),
    )
    observed = sorted({r["label"] for r in [*ratings, *references] if "label" in r})
    result = validation.human_validation(
        automated,
        rows,
        pd.DataFrame(columns=list(validation.RESPONSE_COLUMNS)),
        include_flagged=True,
        seed=seed,
        n_boot=n_boot,
        labels=labels or observed or ["-"],
        ordered=labels is not None,
    )
    inter_rater = ("fleiss_kappa", "alpha_categories", "alpha_angles", "icc_among_raters")
    versus_reference = [
        key
        for key in (
            "kappa_vs_majority",
            "weighted_kappa_vs_majority",
            "accuracy_vs_majority",
            "mean_kappa_vs_raters",
            "mean_weighted_kappa_vs_raters",
            "icc_automated_as_rater",
            "icc_automated_vs_human_mean",
        )
        if key in result
    ]
    bland_altman = {k: result["bland_altman"][k] for k in ("bias", "lower_limit", "upper_limit")}
    output: dict[str, Any] = {
        "n_ratings": result["n_judgments"],
        "n_raters": result["n_raters"],
        "n_units": result["n_transcripts"],
        "crossed_design": result["crossed_design"],
        "among_raters": {key: result[key] for key in inter_rater},
    }
    if references:
        output["versus_reference"] = {
            **{key.replace("automated", "reference"): result[key] for key in versus_reference},
            "bland_altman": bland_altman,
            "confusion_matrix": result["confusion_matrix"],
        }
    if labels is not None and any("label" in r for r in ratings):
        output["among_raters"]["alpha_ordinal"] = agreement.krippendorff_alpha(
            _raters_by_units(rows), level="ordinal", labels=labels, seed=seed, n_boot=n_boot
        ).to_dict()
    return output


def _raters_by_units(rows: pd.DataFrame) -> list[list[Any]]:
    labelled = rows.dropna(subset=["category"])
    wide = labelled.pivot(index="rater", columns="trial_id", values="category").astype(object)
    return wide.where(wide.notna(), None).to_numpy().tolist()  # type: ignore[no-any-return]
