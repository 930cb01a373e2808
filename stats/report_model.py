"""The study report as frozen dataclasses, and its forms at the edge: JSON (``to_json``) and the OpenAPI
component of each dataclass (``schema_serializer``).

Attribute names are the report's JSON keys, so a template reads ``report.automated.cells`` from the typed report
as it did from the dict. Keys that are data rather than names (a statistic such as ``"ICC(1,1)"``, an option
order, a value) stay in Mappings. Pure module: no database access.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from rest_framework import serializers

from evaluation.summary import Design
from stats.agreement.estimate import Estimate
from stats.consistency import Consistency
from stats.human_validation import HumanValidation
from stats.humans import HumansSection
from stats.preregistration import Deviation
from stats.sensitivity import ChoiceDistribution, Difference, EtaSquared, IndependenceTest, PositionPick

HumanSection = HumanValidation
"""The human-validation section (``stats.human_validation``)."""
ConsistencySection = Consistency
"""The consistency section (``stats.consistency``)."""


# ---------------------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True)
class StudyInfo:
    id: int
    name: str
    description: str


@dataclass(frozen=True)
class Settings:
    include_flagged: bool
    seed: int
    n_boot: int


@dataclass(frozen=True)
class Definitions:
    versions_present: tuple[str, ...]
    current_default: str
    note: str


@dataclass(frozen=True)
class CellResult:
    """One cell (model, value, strategy and design): counts, failures and the per-cell summary's estimates
    (``evaluation.summary``: Student t intervals of means, Wilson intervals of shares)."""

    model: str
    value: str
    strategy: str
    design: Design
    n_trials: int
    n_scored: int
    n_failed: int
    angle: Estimate
    mean_angle: float | None
    sd_angle: float | None
    target_angle: float | None
    mean_angular_deviation: float | None
    categories: Mapping[str, int]
    value_rationality: Estimate
    value_rationality_itt: Estimate
    hit_rate: Estimate
    transitive_rate: Estimate
    extraction: Mapping[str, int]
    failures: Mapping[str, int]
    reference_agent: bool


@dataclass(frozen=True)
class GoalVsPlain:
    """Value rationality of the goal and the plain strategy of one model, value and design, and goal - plain."""

    model: str
    value: str
    design: Design
    vr_plain: Estimate
    vr_goal: Estimate
    difference: Estimate


@dataclass(frozen=True)
class Heatmap:
    """Mean value rationality: one row per model and strategy (and design when several), one column per value."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class AngleHistogram:
    """Scored trials' angles (clipped to [-45, 90]) counted in bins between ``edges``, per induced value."""

    edges: tuple[float, ...]
    counts_by_value: Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class Automated:
    cells: tuple[CellResult, ...]
    cell_keys: tuple[str, ...]
    goal_vs_plain: tuple[GoalVsPlain, ...]
    heatmap: Heatmap
    angle_histogram: AngleHistogram
    n_trials: int
    n_scored: int


@dataclass(frozen=True)
class OrderDifferences:
    """Reversed minus fixed option order."""

    angle: Difference
    value_rationality: Difference


@dataclass(frozen=True)
class PositionBiasGroup:
    """One (model, value, strategy) and design apart from the option order (``design`` omits ``order``)."""

    model: str
    value: str
    strategy: str
    design: Mapping[str, Any]
    orders: tuple[str, ...]
    n_trials: Mapping[str, int]
    distribution: Mapping[str, ChoiceDistribution]
    order_dependence: IndependenceTest
    position_pick_first: PositionPick
    position_pick_last: PositionPick
    reversed_minus_fixed: OrderDifferences


@dataclass(frozen=True)
class PositionBiasByModel:
    model: str
    n_groups: int
    position_pick_first: PositionPick
    position_pick_last: PositionPick


@dataclass(frozen=True)
class PositionBias:
    groups: tuple[PositionBiasGroup, ...]
    by_model: tuple[PositionBiasByModel, ...]
    about: str


@dataclass(frozen=True)
class VariantComparison:
    """Second minus first prompt variant, each at the temperature it ran at (``design`` omits the variant)."""

    model: str
    value: str
    strategy: str
    design: Mapping[str, Any]
    first: str
    second: str
    first_temperature: float | None
    second_temperature: float | None
    angle: Difference
    value_rationality: Difference


@dataclass(frozen=True)
class VarianceExplained:
    model: str
    strategy: str
    design: Mapping[str, Any]
    variants: tuple[str, ...]
    values: tuple[str, ...]
    eta_squared_variant: EtaSquared
    eta_squared_value: EtaSquared


@dataclass(frozen=True)
class PromptVariants:
    comparisons: tuple[VariantComparison, ...]
    family_size: int
    variance_explained: tuple[VarianceExplained, ...]
    about: str


@dataclass(frozen=True)
class Sensitivity:
    position_bias: PositionBias
    prompt_variants: PromptVariants


@dataclass(frozen=True)
class DefinitionRules:
    category_bounds: Mapping[str, str]
    target_angles: Mapping[str, float]


@dataclass(frozen=True)
class Methods:
    """Definitions, items and category rules, and the methods record of the study's runs and batches."""

    definitions_version: str
    definitions_versions_of_runs: tuple[str, ...]
    definitions_note: str
    report_version: str
    items: str
    category_bounds: Mapping[str, str]
    target_angles: Mapping[str, float]
    by_definitions: Mapping[str, DefinitionRules]
    value_definitions: Mapping[str, str]
    runs: tuple[Mapping[str, Any], ...]
    prompt_templates: tuple[Mapping[str, Any], ...]
    missing_prompt_templates: tuple[str, ...]
    batches: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Preregistration:
    """Whether the study has a registered plan and every difference of the current plan from it."""

    registered: bool
    sha256: str | None
    registered_at: str | None
    followed: bool | None
    deviations: tuple[Deviation, ...]


@dataclass(frozen=True)
class Report:
    """A study's full report. ``human`` and ``consistency`` are their modules' own types; ``humans``: people
    who took the slider next to the models (``stats.humans``)."""

    study: StudyInfo
    settings: Settings
    definitions: Definitions
    automated: Automated
    consistency: ConsistencySection
    sensitivity: Sensitivity
    human: HumanSection
    methods: Methods
    humans: HumansSection
    preregistration: Preregistration


# ---------------------------------------------------------------------------------------------------------
# JSON at the edge


def json_name(field: dataclasses.Field[Any]) -> str:
    """A field's key in JSON: its name, or ``metadata["json_name"]`` for keys that are no identifier
    (``field(metadata={"json_name": "ICC(A,1)"})``)."""
    return str(field.metadata.get("json_name", field.name))


def to_json(obj: Any) -> Any:
    """The JSON-ready form of a report value: dataclasses as objects of their fields (``json_name``), mappings
    with string keys, tuples and lists as lists, numpy scalars and arrays as Python numbers and lists, enums as
    their values, and NaN, infinities and missing values as None."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, enum.Enum):
        return to_json(obj.value)
    if isinstance(obj, np.generic):
        return to_json(obj.item())
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {json_name(field): to_json(getattr(obj, field.name)) for field in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(key): to_json(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json(item) for item in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    raise TypeError(f"the report holds a {type(obj).__name__}, which has no JSON form")


# ---------------------------------------------------------------------------------------------------------
# OpenAPI: one serializer class (and so one schema component) per dataclass, from its type hints


def _is_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(arguments) < len(typing.get_args(hint)):
            return (arguments[0] if len(arguments) == 1 else typing.Union[tuple(arguments)]), True  # noqa: UP007
    return hint, False


def _field(hint: Any, *, many: bool = False) -> serializers.Field[Any, Any, Any, Any]:
    hint, optional = _is_optional(hint)
    options: dict[str, Any] = {"allow_null": True} if optional else {}
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return schema_serializer(hint)(many=many, **options)
    if hint is bool:
        return serializers.BooleanField(**options)
    if hint is int:
        return serializers.IntegerField(**options)
    if hint is float:
        return serializers.FloatField(**options)
    if hint is str:
        return serializers.CharField(**options)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return serializers.ChoiceField(choices=[member.value for member in hint], **options)
    if origin in (tuple, list, Sequence) and arguments:
        item = arguments[0]
        inner, _ = _is_optional(item)
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            return _field(item, many=True)
        return serializers.ListField(child=_field(item), **options)
    if origin in (dict, Mapping) and len(arguments) == 2:
        return serializers.DictField(child=_field(arguments[1]), **options)
    return serializers.JSONField(**options)


@cache
def schema_serializer(cls: type[Any]) -> type[serializers.Serializer[Any]]:
    """A read-only serializer describing the JSON form of dataclass ``cls`` (its component is named after it);
    used for the OpenAPI schema only, the JSON itself comes from ``to_json``."""
    hints = typing.get_type_hints(cls)
    fields = {field.name: _field(hints[field.name]) for field in dataclasses.fields(cls)}
    for field in dataclasses.fields(cls):
        if json_name(field) != field.name:
            fields[field.name].source = field.name
    renamed = {json_name(field): fields[field.name] for field in dataclasses.fields(cls)}
    serializer = type(f"{cls.__name__}Serializer", (serializers.Serializer,), {"__module__": __name__})
    doc = cls.__doc__ or ""
    serializer.__doc__ = "" if doc.startswith(f"{cls.__name__}(") else doc  # not dataclass's own signature
    # Declared after class creation: a JSON key such as "ICC(A,1)" cannot be a class attribute name.
    serializer._declared_fields = renamed  # type: ignore[attr-defined]
    return serializer
