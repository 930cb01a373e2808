"""REST API of the evaluation app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator
from rest_framework.views import APIView

from evaluation import access, jobs, launch, prompts, rescoring, selectors, services, svo
from evaluation.models import EvaluationRun, ItemResponse, ModelEndpoint, Study, Trial
from hvae_site import validators
from hvae_site.api import DomainError, PostScopedRateThrottle


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": 9},
            {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        ]
    }
)
class ChoiceField(serializers.Field):  # type: ignore[type-arg]
    """An option number 1..9, or a [self, other] allocation pair."""

    default_error_messages = {"invalid": "A choice is an option number 1..9 or a [self, other] pair."}

    def to_internal_value(self, data: Any) -> svo.Choice:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return data
        if (
            isinstance(data, list | tuple)
            and len(data) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in data)
        ):
            return (data[0], data[1])
        self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


def _validated_choices(items: tuple[svo.Item, ...], choices: list[svo.Choice]) -> list[int]:
    if len(choices) != len(items):
        raise serializers.ValidationError(f"Expected {len(items)} choices, one per item, got {len(choices)}.")
    options = []
    for item, choice in zip(items, choices, strict=True):
        try:
            options.append(item.option_of(choice))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
    return options


class SvoScoreApi(APIView):
    """Score SVO Slider choices: angle, category, transitivity, inequality aversion and, given the induced
    value, target angle, angular deviation, value rationality and category hit (DESIGN.md section 1)."""

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        primary = serializers.ListField(child=ChoiceField(), help_text="Six choices for primary items 1-6.")
        secondary = serializers.ListField(
            child=ChoiceField(), required=False, help_text="Nine choices for secondary items 7-15."
        )
        value = serializers.ChoiceField(choices=list(svo.VALUES), required=False)
        definitions = serializers.ChoiceField(
            choices=list(svo.KNOWN_DEFINITIONS),
            default=svo.DEFINITIONS_VERSION,
            help_text="Named scoring definitions (DESIGN.md section 1); the current ones by default.",
        )

        def validate_primary(self, choices: list[svo.Choice]) -> list[int]:
            return _validated_choices(svo.PRIMARY_ITEMS, choices)

        def validate_secondary(self, choices: list[svo.Choice]) -> list[int]:
            return _validated_choices(svo.SECONDARY_ITEMS, choices)

    class OutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        definitions_version = serializers.CharField()
        angle = serializers.FloatField()
        category = serializers.CharField()
        mean_self = serializers.FloatField()
        mean_other = serializers.FloatField()
        transitive = serializers.BooleanField()
        inequality_aversion = serializers.FloatField(allow_null=True, required=False)
        secondary_distances = serializers.DictField(child=serializers.FloatField(), required=False)
        value = serializers.CharField(required=False)
        target_angle = serializers.FloatField(required=False)
        angular_deviation = serializers.FloatField(required=False)
        value_rationality = serializers.FloatField(required=False)
        category_hit = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        definitions = data["definitions"]
        primary = svo.score_primary(data["primary"], definitions=definitions)
        result: dict[str, Any] = {
            "definitions_version": definitions,
            "angle": primary.angle,
            "category": primary.category,
            "mean_self": primary.mean_self,
            "mean_other": primary.mean_other,
            "transitive": primary.transitive,
        }
        if "secondary" in data:
            secondary = svo.score_secondary(data["secondary"], definitions=definitions)
            result["inequality_aversion"] = secondary.inequality_aversion
            result["secondary_distances"] = secondary.distances
        if "value" in data:
            choices = data["primary"] + data.get("secondary", [])
            scored = svo.score_value(data["value"], choices, definitions=definitions)
            result |= {
                "value": scored.value,
                "target_angle": scored.target_angle,
                "angular_deviation": scored.angular_deviation,
                "value_rationality": scored.value_rationality,
                "category_hit": scored.category_hit,
            }
        return Response(self.OutputSerializer(result).data)


# --- Studies, endpoints, runs, trials -------------------------------------------------------------------


class StudyOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Study
        fields = ["id", "name", "description", "consent_version", "completion_url", "created_at"]


class StudyListApi(generics.ListAPIView):  # type: ignore[type-arg]
    """List the studies you own or collaborate on, or create one (POST; you become its owner)."""

    serializer_class = StudyOutput
    filterset_fields = ["name"]

    def get_queryset(self) -> QuerySet[Study]:
        return access.studies_visible_to(self.request.user)

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: StudyOutput})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"].strip()
        if Study.objects.filter(name=name).exclude(pk__in=access.studies_visible_to(request.user)).exists():
            raise DomainError("Another researcher's study has this name; choose another.", field="name")
        study = services.study_get_or_create(
            **serializer.validated_data, owner=access.researcher(request.user)
        )
        return Response(StudyOutput(study).data, status=status.HTTP_201_CREATED)


class StudyDetailApi(generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = StudyOutput

    def get_queryset(self) -> QuerySet[Study]:
        return access.studies_visible_to(self.request.user)


ENDPOINT_SETTINGS = [
    "name",
    "base_url",
    "api_key_env",
    "max_concurrency",
    "requests_per_minute",
    "timeout_seconds",
]


class EndpointOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ModelEndpoint
        fields = ["id", *ENDPOINT_SETTINGS, "max_attempts", "is_reference"]


class EndpointListApi(generics.ListAPIView):  # type: ignore[type-arg]
    """List the endpoints you saved and those shared with everyone, or save one (POST). Keys are never sent or
    stored: name the variable that holds it."""

    serializer_class = EndpointOutput

    def get_queryset(self) -> QuerySet[ModelEndpoint]:
        return access.endpoints_usable_by(self.request.user)

    class InputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
        name = validators.TextField(
            max_length=validators.NAME_LENGTH,
            validators=[UniqueValidator(queryset=ModelEndpoint.objects.all())],
        )
        base_url = validators.HttpUrlField()
        api_key_env = validators.EnvNameField(
            required=False,
            default="",
            help_text="Environment variable holding the key: OPENAI_API_KEY, HVAE_LLM_KEY_..., or as allowed "
            "by HVAE_LLM_KEY_ENVS (blank: none).",
        )
        max_concurrency = validators.CountField(maximum=256, default=8)
        requests_per_minute = validators.CountField(
            maximum=1_000_000, required=False, allow_null=True, default=None
        )
        timeout_seconds = validators.SecondsField(maximum=3600.0, default=60.0)

        class Meta:
            model = ModelEndpoint
            fields = ENDPOINT_SETTINGS

    @extend_schema(request=InputSerializer, responses={201: EndpointOutput})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(
            **serializer.validated_data, owner=access.researcher(request.user)
        )
        return Response(EndpointOutput(endpoint).data, status=status.HTTP_201_CREATED)


class RunOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    progress = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "study",
            "endpoint",
            "model",
            "value",
            "strategy",
            "prompt_variant",
            "item_set",
            "option_labels",
            "option_order",
            "temperature",
            "top_p",
            "max_tokens",
            "seed",
            "n_trials",
            "extractor_model",
            "extractor_endpoint",
            "on_unreadable",
            "prompt_versions",
            "definitions_version",
            "provenance",
            "status",
            "error",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "created_at",
            "started_at",
            "finished_at",
            "progress",
        ]
        # Output only: as a form (the browsable API) it would list every study and endpoint as choices.
        read_only_fields = fields

    def get_progress(self, run: EvaluationRun) -> dict[str, int]:
        return selectors.run_progress(run=run)


class RunListApi(generics.ListAPIView):  # type: ignore[type-arg]
    """List runs (filter by study, model, value, strategy, status), or create and start one (POST)."""

    serializer_class = RunOutput
    filterset_fields = ["study", "endpoint", "model", "value", "strategy", "status"]
    throttle_classes = [PostScopedRateThrottle]
    throttle_scope = "run-create"

    def get_queryset(self) -> QuerySet[EvaluationRun]:
        return access.runs_visible_to(self.request.user)

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
        endpoint = serializers.PrimaryKeyRelatedField(queryset=ModelEndpoint.objects.all())
        model = serializers.CharField(max_length=200)
        value = serializers.ChoiceField(choices=list(svo.VALUES))
        strategy = serializers.ChoiceField(choices=EvaluationRun.Strategy.values, default="plain")
        n_trials = validators.CountField(
            maximum=validators.INT32_MAX,
            help_text="At most HVAE_MAX_TRIALS_PER_RUN; without a job broker at most HVAE_MAX_INPROCESS_TRIALS.",
        )
        prompt_variant = serializers.ChoiceField(choices=list(prompts.VARIANTS), default="dialogue")
        item_set = serializers.ChoiceField(choices=EvaluationRun.ItemSet.values, default="primary")
        option_labels = serializers.ChoiceField(choices=EvaluationRun.OptionLabels.values, default="letters")
        option_order = serializers.ChoiceField(choices=EvaluationRun.OptionOrder.values, default="fixed")
        temperature = serializers.FloatField(
            min_value=0.0,
            max_value=2.0,
            required=False,
            allow_null=True,
            help_text="Omitted: 1.0, or none sent for the paper variant. null: send none (provider default).",
        )
        top_p = serializers.FloatField(
            min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None
        )
        max_tokens = serializers.IntegerField(min_value=1, max_value=100_000, default=400)
        seed = validators.SeedField()
        extractor_model = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        extractor_endpoint = serializers.PrimaryKeyRelatedField(
            queryset=ModelEndpoint.objects.all(),
            required=False,
            allow_null=True,
            default=None,
            help_text="Endpoint serving extractor_model, if not the evaluated endpoint.",
        )
        on_unreadable = serializers.ChoiceField(
            choices=EvaluationRun.OnUnreadable.values,
            default=EvaluationRun.OnUnreadable.REASK,
            help_text="When no option can be read from an answer: reask (then the extractor), extract, or fail.",
        )

        def validate_n_trials(self, n_trials: int) -> int:
            per_run = int(settings.HVAE_MAX_TRIALS_PER_RUN)
            if n_trials > per_run:
                raise serializers.ValidationError(f"At most {per_run} trials per run.")
            in_process = int(settings.HVAE_MAX_INPROCESS_TRIALS)
            if not jobs.broker_configured() and n_trials > in_process:
                raise serializers.ValidationError(
                    f"With no job broker the web server runs at most {in_process} trials per run itself. Run "
                    "larger ones with `python manage.py run_evaluation`, or configure CELERY_BROKER_URL and "
                    "start Celery workers."
                )
            return n_trials

    @extend_schema(request=InputSerializer, responses={201: RunOutput})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        study, endpoint = data.pop("study"), data.pop("endpoint")
        extractor_endpoint = data.pop("extractor_endpoint")
        access.check_write(request.user, study, field="study")
        usable = access.endpoints_usable_by(request.user)
        for where, chosen in (("endpoint", endpoint), ("extractor_endpoint", extractor_endpoint)):
            if chosen is not None and not usable.filter(pk=chosen.pk).exists():
                raise DomainError(f'Invalid pk "{chosen.pk}" - object does not exist.', field=where)
        started = launch.evaluation_runs_start(
            study=study,
            endpoint=endpoint,
            designs=[services.RunDesign(**data)],
            extractor_endpoint=extractor_endpoint,
            reuse_existing=False,
        )
        return Response(RunOutput(started.runs[0]).data, status=status.HTTP_201_CREATED)


class RunDetailApi(generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = RunOutput

    def get_queryset(self) -> QuerySet[EvaluationRun]:
        return access.runs_visible_to(self.request.user)


class RunCancelApi(APIView):
    @extend_schema(request=None, responses=RunOutput)
    def post(self, request: Request, pk: int) -> Response:
        run = access.run_for(request.user, pk, write=True)
        return Response(RunOutput(services.evaluation_run_cancel(run=run)).data)


class ItemResponseOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ItemResponse
        fields = [
            "item",
            "presented_order",
            "raw_text",
            "extracted_option",
            "extraction_method",
            "extraction_detail",
            "reasked",
            "payoff_self",
            "payoff_other",
        ]


class TrialOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Trial
        fields = [
            "id",
            "run",
            "index",
            "seed",
            "status",
            "attempts",
            "failure_reason",
            *rescoring.SCORE_FIELDS,
            "finished_at",
        ]


class TrialDetailOutput(TrialOutput):
    responses = ItemResponseOutput(many=True, read_only=True)

    class Meta(TrialOutput.Meta):
        fields = [*TrialOutput.Meta.fields, "transcript", "responses"]


class TrialListApi(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = TrialOutput
    filterset_fields = ["run", "run__study", "status", "category"]

    def get_queryset(self) -> QuerySet[Trial]:
        return access.trials_visible_to(self.request.user)


class TrialDetailApi(generics.RetrieveAPIView):  # type: ignore[type-arg]
    """A trial with its full transcript and every item response."""

    serializer_class = TrialDetailOutput

    def get_queryset(self) -> QuerySet[Trial]:
        return access.trials_visible_to(self.request.user).prefetch_related("responses")
