"""The study report: automated results, consistency, human validation and methods, as a typed ``Report``
(``stats.report_model``); its JSON (``to_json``) and CSV tables (``report_tables``) are made from it at the edge.

Every figure carries its n and 95% CI (an ``Estimate``); too little data reads "not enough data (n = ...)".
The report and its figures are cached per study under a key that changes with any new trial result, judgment,
rater flag or run, so the study page is served from the cached computation.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from django.core.cache import cache

from evaluation import prompts, summary, svo
from evaluation.models import Study
from stats import (
    comparison,
    consistency,
    human_selectors,
    human_validation,
    plots,
    sensitivity,
    validation_section,
)
from stats import report_model as model
from stats import selectors as stats_selectors
from stats.agreement.estimate import Estimate
from stats.preregistration_report import preregistration_section
from stats.report_model import to_json

REPORT_VERSION = "hvae-report/3"
CACHE_FORMAT = "typed/1"
"""Changes whenever the cached Python objects change shape (the report's JSON keeps REPORT_VERSION)."""
CACHE_SECONDS = 24 * 3600
DEFAULT_SEED = 0
DEFAULT_N_BOOT = 1000
SCORED = "scored"
FAILED = "failed"
CELL = ["model", "value", "strategy"]
DESIGN_COLUMNS = [
    "prompt_variant",
    "option_order",
    "option_labels",
    "temperature",
    "item_set",
    "definitions_version",
]
"""The trial-frame columns of a cell's design, in the order of ``summary.DESIGN_KEYS``."""
ANGLE_BIN_DEGREES = 2.5
EXTRACTION_METHODS = ("parser", "llm", "unparseable")


def _number(value: Any) -> float | None:
    """A plain float, or None for missing and non-finite values (JSON has no NaN)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python numbers, NaN and missing as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _scored(trials: pd.DataFrame) -> pd.DataFrame:
    scored = trials[trials["status"] == SCORED].copy()
    for column in ("angle", "value_rationality", "angular_deviation", "target_angle"):
        scored[column] = pd.to_numeric(scored[column], errors="coerce").astype(np.float64)
    scored["category"] = scored["category"].astype(object).where(scored["category"] != "", None)
    return scored


# ---------------------------------------------------------------------------------------------------------
# automated results


def _temperature(value: Any) -> float | None:
    return (
        None
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
        else float(value)
    )


def cell_keys(trials: pd.DataFrame) -> list[summary.CellKey]:
    """Each trial's cell: (model, value, strategy) and its run's design (one key object per run)."""
    keys: dict[int, summary.CellKey] = {}
    columns = [trials[c].tolist() for c in ("run_id", *CELL, *DESIGN_COLUMNS)]
    result = []
    for run_id, model_name, value, strategy, variant, order, labels, t, items, definitions in zip(
        *columns, strict=True
    ):
        key = keys.get(run_id)
        if key is None:
            design = summary.Design(variant, order, labels, _temperature(t), items, definitions)
            key = keys[run_id] = summary.CellKey(model_name, value, strategy, design)
        result.append(key)
    return result


def _estimate(interval: summary.Interval) -> Estimate:
    return Estimate(
        interval.value, interval.ci_low, interval.ci_high, interval.n, interval.method, interval.note
    )


def cell_result(cell: summary.CellSummary, *, reference_agent: bool) -> model.CellResult:
    """A cell of the report from the per-cell summary; a known value's target angle when the trials gave none."""
    target = cell.target_angle
    if target is None and cell.value in svo.VALUES and cell.design.definitions in svo.KNOWN_DEFINITIONS:
        target = svo.target_angle(cell.value, definitions=cell.design.definitions)
    return model.CellResult(
        model=cell.model,
        value=cell.value,
        strategy=cell.strategy,
        design=cell.design,
        n_trials=cell.n_trials,
        n_scored=cell.n_scored,
        n_failed=cell.n_failed,
        angle=_estimate(cell.angle),
        mean_angle=cell.mean_angle,
        sd_angle=cell.sd_angle,
        target_angle=target,
        mean_angular_deviation=cell.mean_angular_deviation,
        categories=dict(cell.categories),
        value_rationality=_estimate(cell.value_rationality),
        value_rationality_itt=_estimate(cell.value_rationality_itt),
        hit_rate=_estimate(cell.hit_rate),
        transitive_rate=_estimate(cell.transitive_rate),
        extraction=dict(cell.extraction),
        failures=dict(cell.failures),
        reference_agent=reference_agent,
    )


def automated_section(trials: pd.DataFrame, extraction: pd.DataFrame) -> model.Automated:
    """Per cell (model, value, strategy and design): counts, failures, angle, categories, value rationality
    (scored and intention-to-treat), hit and transitivity rates; goal vs plain within a design; the
    value-rationality heatmap and the angle distribution on the SVO ring."""
    keys = cell_keys(trials)
    run_cells = dict(zip(trials["run_id"].tolist(), keys, strict=True))
    methods: dict[summary.CellKey, dict[str, int]] = {}
    reasked: dict[summary.CellKey, int] = {}
    for run_id, method, n, n_reasked in extraction.itertuples(index=False):
        if run_id not in run_cells:
            continue
        key = run_cells[run_id]
        counts = methods.setdefault(key, {})
        counts[method] = counts.get(method, 0) + int(n)
        reasked[key] = reasked.get(key, 0) + int(n_reasked)
    rows = [
        summary.TrialRow(
            key,
            status,
            _number(angle),
            category or "",
            _number(rationality),
            None if hit is None or hit is pd.NA else bool(hit),
            None if transitive is None or transitive is pd.NA else bool(transitive),
            _number(deviation),
            _number(target),
        )
        for key, status, angle, category, rationality, hit, transitive, deviation, target in zip(
            keys,
            trials["status"],
            trials["angle"],
            trials["category"],
            trials["value_rationality"],
            trials["category_hit"],
            trials["transitive"],
            trials["angular_deviation"],
            trials["target_angle"],
            strict=True,
        )
    ]
    items = {key: summary.ItemCounts(methods[key], reasked.get(key, 0)) for key in methods}
    reference = {key for key, flag in zip(keys, trials["reference_agent"], strict=True) if bool(flag)}
    cells = [
        cell_result(
            cell,
            reference_agent=summary.CellKey(cell.model, cell.value, cell.strategy, cell.design) in reference,
        )
        for cell in summary.summarise(rows, items)
    ]
    scored = _scored(trials)
    scored_keys = [k for k, status in zip(keys, trials["status"], strict=True) if status == SCORED]
    by_pair: dict[tuple[str, str, summary.Design], dict[str, list[float]]] = {}
    for key, rationality in zip(scored_keys, scored["value_rationality"], strict=True):
        by_pair.setdefault((key.model, key.value, key.design), {}).setdefault(key.strategy, []).append(
            float(rationality)
        )
    goal_vs_plain = []
    for model_name, value, design in sorted(by_pair, key=lambda k: (k[0], k[1], k[2].sort_key())):
        by_strategy = by_pair[(model_name, value, design)]
        if "goal" in by_strategy and "plain" in by_strategy:
            difference = comparison.mean_difference(by_strategy["plain"], by_strategy["goal"])
            goal_vs_plain.append(
                model.GoalVsPlain(
                    model=model_name,
                    value=value,
                    design=design,
                    vr_plain=comparison.mean_estimate(by_strategy["plain"]),
                    vr_goal=comparison.mean_estimate(by_strategy["goal"]),
                    difference=difference,
                )
            )
    several_designs = len({c.design.label() for c in cells}) > 1

    def row_label(cell: model.CellResult) -> str:
        label = f"{cell.model} · {cell.strategy}"
        return f"{label} · {cell.design.label()}" if several_designs else label

    row_labels = tuple(sorted({row_label(c) for c in cells}))
    values = tuple(v for v in svo.VALUES if any(c.value == v for c in cells))
    vr = {(row_label(c), c.value): c.value_rationality.value for c in cells}
    heatmap = model.Heatmap(
        rows=row_labels,
        columns=values,
        cells=tuple(tuple(vr.get((row, value)) for value in values) for row in row_labels),
    )
    edges = np.arange(-45.0, 90.0 + ANGLE_BIN_DEGREES, ANGLE_BIN_DEGREES)
    histogram = {
        str(value): tuple(int(n) for n in np.histogram(group["angle"].dropna().clip(-45, 90), bins=edges)[0])
        for value, group in scored.groupby("value", sort=True)
    }
    return model.Automated(
        cells=tuple(cells),
        cell_keys=tuple(summary.CELL_KEYS),
        goal_vs_plain=tuple(goal_vs_plain),
        heatmap=heatmap,
        angle_histogram=model.AngleHistogram(
            edges=tuple(float(edge) for edge in edges), counts_by_value=histogram
        ),
        n_trials=len(trials),
        n_scored=len(scored),
    )


# ---------------------------------------------------------------------------------------------------------
# consistency


def consistency_section(trials: pd.DataFrame, *, seed: int, n_boot: int) -> consistency.Consistency:
    """Repeated-trial consistency within each cell of one design; test-retest of identical designs."""
    scored = _scored(trials)
    keys = cell_keys(scored)
    designs = {key.design.label(): key.design.to_dict() for key in set(keys)}
    frame = scored[[*consistency.TRIAL_COLUMNS, "run_id"]].assign(design=[key.design.label() for key in keys])
    return consistency.consistency_section(frame, designs, seed=seed, n_boot=n_boot)


# ---------------------------------------------------------------------------------------------------------
# sensitivity: position bias and prompt variants

ANY = "*"
"""Stands for the design factor a sensitivity comparison varies (order, or variant)."""


def _without(design: summary.Design, factor: str) -> dict[str, Any]:
    return {key: value for key, value in design.to_dict().items() if key != factor}


def _trial_table(trials: pd.DataFrame) -> list[tuple[summary.CellKey, int, str, float | None, float | None]]:
    return [
        (key, int(trial_id), status, _number(angle), _number(rationality))
        for key, trial_id, status, angle, rationality in zip(
            cell_keys(trials),
            trials["trial_id"],
            trials["status"],
            trials["angle"],
            trials["value_rationality"],
            strict=True,
        )
    ]


def position_bias_section(trials: pd.DataFrame, choices: pd.DataFrame) -> model.PositionBias:
    """For each (model, value, strategy) and design apart from the option order that was run with a reversed
    or random order: choices by displayed position and by option per order, the chi-square test of order
    dependence with Cramér's V, the position-pick probability for the first and the last displayed position,
    and the reversed-minus-fixed difference of mean angle and value rationality; per model, the
    position-pick probabilities over all its groups (items and groups as strata)."""
    table = _trial_table(trials)
    key_of_trial = {trial_id: key for key, trial_id, *_ in table}
    groups: dict[
        tuple[str, str, str, summary.Design], dict[str, list[tuple[str, float | None, float | None]]]
    ] = {}
    for key, _trial_id, status, angle, rationality in table:
        group = (key.model, key.value, key.strategy, key.design.replace(order=ANY))
        groups.setdefault(group, {}).setdefault(key.design.order, []).append((status, angle, rationality))
    wanted = {group for group, orders in groups.items() if set(orders) - {"fixed"}}
    choice_rows: dict[tuple[str, str, str, summary.Design], dict[str, list[sensitivity.Choice]]] = {}
    for trial_id, item, order, option in zip(
        choices["trial_id"], choices["item"], choices["presented_order"], choices["option"], strict=True
    ):
        found = key_of_trial.get(int(trial_id))
        if found is None:
            continue
        group = (found.model, found.value, found.strategy, found.design.replace(order=ANY))
        if group not in wanted:
            continue
        choice = sensitivity.Choice(int(item), tuple(int(o) for o in order), int(option))
        choice_rows.setdefault(group, {}).setdefault(found.design.order, []).append(choice)
    rows = []
    pooled: dict[str, list[sensitivity.Choice]] = {}
    for group in sorted(wanted, key=lambda g: (g[0], g[1], g[2], g[3].sort_key())):
        model_name, value, strategy, design = group
        by_order = choice_rows.get(group, {})
        label = design.label()
        everything = [c for order in sorted(by_order) for c in by_order[order]]
        pooled.setdefault(model_name, []).extend(
            sensitivity.Choice((label, value, strategy, c.stratum), c.presented_order, c.option)
            for c in everything
        )
        outcomes = groups[group]
        fixed = outcomes.get("fixed", [])
        reverse = outcomes.get("reversed", [])

        def angles(trials: list[tuple[str, float | None, float | None]]) -> list[float | None]:
            return [angle for status, angle, _ in trials if status == SCORED]

        def rationalities(trials: list[tuple[str, float | None, float | None]]) -> list[float | None]:
            return [vr for status, _, vr in trials if status == SCORED]

        rows.append(
            model.PositionBiasGroup(
                model=model_name,
                value=value,
                strategy=strategy,
                design=_without(design, "order"),
                orders=tuple(sorted(outcomes)),
                n_trials={order: len(outcomes[order]) for order in sorted(outcomes)},
                distribution={
                    order: sensitivity.choice_distribution(by_order[order]) for order in sorted(by_order)
                },
                order_dependence=sensitivity.order_dependence(
                    {order: [c.option for c in by_order[order]] for order in sorted(by_order)}
                ),
                position_pick_first=sensitivity.position_pick_probability(everything, position=1),
                position_pick_last=sensitivity.position_pick_probability(
                    everything, position=sensitivity.N_OPTIONS
                ),
                reversed_minus_fixed=model.OrderDifferences(
                    angle=sensitivity.welch_difference(angles(fixed), angles(reverse)),
                    value_rationality=sensitivity.welch_difference(
                        rationalities(fixed), rationalities(reverse)
                    ),
                ),
            )
        )
    by_model = tuple(
        model.PositionBiasByModel(
            model=model_name,
            n_groups=sum(1 for g in wanted if g[0] == model_name),
            position_pick_first=sensitivity.position_pick_probability(pooled[model_name], position=1),
            position_pick_last=sensitivity.position_pick_probability(
                pooled[model_name], position=sensitivity.N_OPTIONS
            ),
        )
        for model_name in sorted(pooled)
    )
    return model.PositionBias(
        groups=tuple(rows),
        by_model=by_model,
        about="Runs with option order reversed or random, next to the fixed-order runs of the same model, "
        "value, strategy and otherwise identical design. position_pick_first: the estimated probability that a "
        "choice is the option displayed first regardless of content (last: displayed last). "
        + sensitivity.PICK_METHOD,
    )


Arm = tuple[str, float | None]
"""A prompt variant with the temperature it ran at (the paper's protocol sends none)."""


def _arm_sort(arm: Arm) -> tuple[str, float]:
    return (arm[0], -1.0 if arm[1] is None else arm[1])


def _arm_label(arm: Arm) -> str:
    return f"{arm[0]} (T {'default' if arm[1] is None else f'{arm[1]:g}'})"


def prompt_variants_section(trials: pd.DataFrame) -> model.PromptVariants:
    """For each (model, value, strategy) and design apart from the prompt variant run under several variants:
    every pairwise difference of mean angle and value rationality (Welch CIs; p Holm-adjusted and CIs
    Bonferroni-adjusted over all comparisons of the study, one family per measure); per model, strategy and
    design apart from the variant: the share of angle variance explained by the variant and by the value.

    A variant is compared at the temperature it ran at, since a variant's protocol may fix it (``paper``
    sends none): the arms compared are (variant, temperature) pairs of an otherwise identical design, each
    comparison names both temperatures, and two arms of the same variant are never compared or pooled.
    """
    table = [row for row in _trial_table(trials) if row[2] == SCORED]
    groups: dict[
        tuple[str, str, str, summary.Design], dict[Arm, list[tuple[float | None, float | None]]]
    ] = {}
    for key, _trial_id, _status, angle, rationality in table:
        group = (key.model, key.value, key.strategy, key.design.replace(variant=ANY, temperature=None))
        arm = (key.design.variant, key.design.temperature)
        groups.setdefault(group, {}).setdefault(arm, []).append((angle, rationality))
    pairs: list[tuple[tuple[str, str, str, summary.Design], Arm, Arm]] = []
    for group in sorted(groups, key=lambda g: (g[0], g[1], g[2], g[3].sort_key())):
        arms = sorted(groups[group], key=_arm_sort)
        for i, first in enumerate(arms):
            pairs.extend((group, first, second) for second in arms[i + 1 :] if second[0] != first[0])
    families = {}
    for index, measure in enumerate(("angle", "value_rationality")):
        families[measure] = sensitivity.holm_family(
            [
                (
                    [row[index] for row in groups[group][first]],
                    [row[index] for row in groups[group][second]],
                )
                for group, first, second in pairs
            ]
        )
    comparisons = tuple(
        model.VariantComparison(
            model=group[0],
            value=group[1],
            strategy=group[2],
            design=_without(group[3], "variant") | {"temperature": ANY},
            first=first[0],
            second=second[0],
            first_temperature=first[1],
            second_temperature=second[1],
            angle=families["angle"][k],
            value_rationality=families["value_rationality"][k],
        )
        for k, (group, first, second) in enumerate(pairs)
    )
    compared = {(group[0], group[2], group[3]) for group, _, _ in pairs}
    pooled: dict[tuple[str, str, summary.Design], list[tuple[str, str, float | None]]] = {}
    for key, _trial_id, _status, angle, _rationality in table:
        design = key.design.replace(variant=ANY, temperature=None)
        if (key.model, key.strategy, design) in compared:
            label = _arm_label((key.design.variant, key.design.temperature))
            pooled.setdefault((key.model, key.strategy, design), []).append((label, key.value, angle))
    variance = []
    for model_name, strategy, design in sorted(pooled, key=lambda g: (g[0], g[1], g[2].sort_key())):
        rows = pooled[(model_name, strategy, design)]
        angles = [angle for _, _, angle in rows]
        variance.append(
            model.VarianceExplained(
                model=model_name,
                strategy=strategy,
                design=_without(design, "variant") | {"temperature": ANY},
                variants=tuple(sorted({arm for arm, _, _ in rows})),
                values=tuple(v for v in svo.VALUES if any(value == v for _, value, _ in rows)),
                eta_squared_variant=sensitivity.eta_squared(angles, [arm for arm, _, _ in rows]),
                eta_squared_value=sensitivity.eta_squared(angles, [v for _, v, _ in rows]),
            )
        )
    return model.PromptVariants(
        comparisons=comparisons,
        family_size=len(pairs),
        variance_explained=tuple(variance),
        about="Differences are second minus first variant, each at the temperature it ran at (both are "
        "named; every other design factor is identical). "
        + sensitivity.WELCH_METHOD
        + "; p-values Holm (1979)-adjusted and intervals Bonferroni-adjusted over the study's comparisons, one "
        "family per measure. Eta squared: one-way SS_between / SS_total of the angle (Cohen 1973), by variant "
        "(with its temperature) and by induced value, over the same trials.",
    )


def sensitivity_section(trials: pd.DataFrame, choices: pd.DataFrame) -> model.Sensitivity:
    """Position bias and prompt sensitivity (see ``stats.sensitivity``)."""
    return model.Sensitivity(
        position_bias=position_bias_section(trials, choices),
        prompt_variants=prompt_variants_section(trials),
    )


# ---------------------------------------------------------------------------------------------------------
# human validation


def human_section(
    study: Study, trials: pd.DataFrame, *, include_flagged: bool, seed: int, n_boot: int
) -> human_validation.HumanValidation:
    """Human validation per arm, per induced value and pooled, with and without the gold screen."""
    return validation_section.human_section(
        study, _scored(trials), include_flagged=include_flagged, seed=seed, n_boot=n_boot
    )


# ---------------------------------------------------------------------------------------------------------
# methods and the whole report


def _bounds(definitions: str) -> dict[str, str]:
    return {str(category): rule for category, rule in svo.category_rules(definitions=definitions).items()}


def methods_section(study: Study) -> model.Methods:
    record = stats_selectors.methods_record(study=study)
    versions = sorted({run["definitions_version"] for run in record["runs"]})
    return model.Methods(
        definitions_version=svo.DEFINITIONS_VERSION,
        definitions_versions_of_runs=tuple(versions),
        definitions_note="each cell's design.definitions names the definitions that produced its numbers; "
        "definitions_version is the service's current default",
        report_version=REPORT_VERSION,
        items="primary items 1-6 give the angle and category; secondary items 7-15, when administered, "
        "the inequality-aversion index (Murphy, Ackermann & Handgraaf 2011)",
        category_bounds=_bounds(svo.DEFINITIONS_VERSION),
        target_angles={value: svo.target_angle(value) for value in svo.VALUES},
        by_definitions={
            version: model.DefinitionRules(
                category_bounds=_bounds(version),
                target_angles={value: svo.target_angle(value, definitions=version) for value in svo.VALUES},
            )
            for version in versions
            if version in svo.KNOWN_DEFINITIONS
        },
        value_definitions=dict(prompts.VALUE_DEFINITIONS),
        runs=tuple(record["runs"]),
        prompt_templates=tuple(record["prompt_templates"]),
        missing_prompt_templates=tuple(record["missing_prompt_templates"]),
        batches=tuple(record["batches"]),
    )


def build_report(
    study: Study, *, include_flagged: bool = False, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> model.Report:
    """The full report of a study, computed now (see ``cached_report`` for the cached one)."""
    trials = stats_selectors.trials_frame(study=study)
    extraction = stats_selectors.extraction_counts(study=study)
    present = sorted({str(version) for version in trials["definitions_version"].unique()})
    return model.Report(
        study=model.StudyInfo(id=study.pk, name=study.name, description=study.description),
        settings=model.Settings(include_flagged=include_flagged, seed=seed, n_boot=n_boot),
        definitions=model.Definitions(
            versions_present=tuple(present),
            current_default=svo.DEFINITIONS_VERSION,
            note="every cell, comparison and trial record names the definitions that produced it "
            "(design.definitions); runs scored under different definitions are never averaged together",
        ),
        automated=automated_section(trials, extraction),
        consistency=consistency_section(trials, seed=seed, n_boot=n_boot),
        sensitivity=sensitivity_section(trials, stats_selectors.choices_frame(study=study)),
        human=human_section(study, trials, include_flagged=include_flagged, seed=seed, n_boot=n_boot),
        methods=methods_section(study),
        humans=human_selectors.humans_section(study, trials, include_flagged=include_flagged),
        preregistration=preregistration_section(study),
    )


def _cache_key(study: Study, include_flagged: bool, seed: int, n_boot: int) -> str:
    state = f"{REPORT_VERSION}|{CACHE_FORMAT}|{seed}|{n_boot}|{stats_selectors.report_state(study=study)}"
    state += human_selectors.humans_state(study=study)
    digest = hashlib.sha256(state.encode()).hexdigest()[:24]
    return f"hvae:report:{study.pk}:{int(include_flagged)}:{digest}"


def cached_report_and_figures(
    study: Study, *, include_flagged: bool = False, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> tuple[model.Report, dict[str, str]]:
    """The report and its SVG figures from the cache while nothing in the study changed; else computed.
    The figures are drawn from the report's JSON form."""
    key = _cache_key(study, include_flagged, seed, n_boot)
    cached = cache.get(key)
    if cached is None:
        report = build_report(study, include_flagged=include_flagged, seed=seed, n_boot=n_boot)
        cached = (report, plots.report_figures(to_json(report)))
        cache.set(key, cached, CACHE_SECONDS)
    return cached  # type: ignore[no-any-return]


def cached_report(study: Study, *, include_flagged: bool = False) -> model.Report:
    return cached_report_and_figures(study, include_flagged=include_flagged)[0]


# ---------------------------------------------------------------------------------------------------------
# one line per trial, for re-analysis


def trials_jsonl(study: Study) -> Iterator[str]:
    """The study's trials as JSON Lines: one self-contained record per trial (design, provenance,
    definitions, conversation, choices with presented order, extraction methods, re-asks and scores)."""
    for record in stats_selectors.trial_records(study=study):
        yield json.dumps(record, default=str, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------------
# tables for CSV


def _flat(prefix: str, estimate: Any) -> dict[str, Any]:
    """An estimate (any object with value, ci_low, ci_high, n and note) as five prefixed columns."""
    return {
        prefix: estimate.value,
        f"{prefix}_ci_low": estimate.ci_low,
        f"{prefix}_ci_high": estimate.ci_high,
        f"{prefix}_n": estimate.n,
        f"{prefix}_note": estimate.note,
    }


CONSISTENCY_TABLES = ("consistency_cells", "consistency")
"""The tables ``consistency_tables`` makes."""
HUMAN_TABLES = ("agreement", "confusion_matrix", "gold_accuracy")
"""The tables ``human_tables`` makes."""
TABLE_NAMES = (
    "automated",
    "goal_vs_plain",
    *CONSISTENCY_TABLES,
    *HUMAN_TABLES,
    "runs",
    "position_bias",
    "prompt_variants",
)
"""The report's tables, each downloadable as CSV (``report_tables`` builds them)."""


def human_tables(section: model.HumanSection) -> dict[str, pd.DataFrame]:
    """The human-validation tables (``HUMAN_TABLES``): every statistic per arm, value and exclusion variant;
    per arm, the confusion matrix of the selected rater selection pooled over values, and each rater's gold
    accuracy (an ``arm`` column names the arm: arms are never pooled)."""
    confusions, gold_accuracy = [], []
    for arm in (section, *section.other_arms):
        selected = arm.gold_screened if section.selected == "gold_screened" else arm.all_raters
        matrix = selected.pooled.vs_majority.confusion
        labels = [str(label) for label in matrix.labels]
        frame = pd.DataFrame(matrix.counts, index=labels, columns=labels).rename_axis("automated \\ majority")
        confusions.append(frame.reset_index().assign(arm=arm.arm).set_index("arm").reset_index())
        gold_accuracy += [
            {
                "arm": arm.arm,
                "rater": g.rater,
                "flagged": g.flagged,
                "excluded": g.excluded,
                **to_json(g.accuracy),
            }
            for g in arm.gold_accuracy
        ]
    return {
        "agreement": pd.DataFrame(human_validation.human_rows(section)),
        "confusion_matrix": pd.concat(confusions, ignore_index=True),
        "gold_accuracy": pd.DataFrame(gold_accuracy),
    }


def consistency_tables(section: model.ConsistencySection) -> dict[str, pd.DataFrame]:
    """The consistency tables (``CONSISTENCY_TABLES``): the repeated-trial spread per cell of one design,
    and every consistency statistic as a row."""
    cells = [
        {
            "model": cell.model,
            "value": cell.value,
            "strategy": cell.strategy,
            **cell.design,
            "n": cell.n,
            "mean_angle": cell.mean_angle,
            "sd_angle": cell.sd_angle.value,
            "modal_category": cell.modal_category,
            "modal_share": cell.modal_share.value,
            "category_agreement": cell.category_agreement.value,
            "vr_mean": cell.vr_mean,
            "vr_sd": cell.vr_sd,
        }
        for cell in section.cells
    ]
    return {
        "consistency_cells": pd.DataFrame(cells),
        "consistency": pd.DataFrame(consistency.consistency_rows(section)),
    }


def _automated_rows(automated: model.Automated) -> list[dict[str, Any]]:
    rows = []
    for cell in automated.cells:
        row: dict[str, Any] = {"model": cell.model, "value": cell.value, "strategy": cell.strategy}
        row.update(cell.design.to_dict())
        row.update(
            reference_agent=cell.reference_agent,
            n_trials=cell.n_trials,
            n_scored=cell.n_scored,
            n_failed=cell.n_failed,
        )
        row.update(cell.failures)
        row.update(
            sd_angle=cell.sd_angle,
            target_angle=cell.target_angle,
            mean_angular_deviation=cell.mean_angular_deviation,
        )
        row.update({f"n_{category}": count for category, count in cell.categories.items()})
        for name in ("angle", "value_rationality", "value_rationality_itt", "hit_rate", "transitive_rate"):
            row.update(_flat(name, getattr(cell, name)))
        row.update({f"extraction_{method}": n for method, n in cell.extraction.items()})
        rows.append(row)
    return rows


def _goal_vs_plain_rows(automated: model.Automated) -> list[dict[str, Any]]:
    return [
        {
            "model": row.model,
            "value": row.value,
            **row.design.to_dict(),
            **_flat("vr_plain", row.vr_plain),
            **_flat("vr_goal", row.vr_goal),
            **_flat("difference", row.difference),
        }
        for row in automated.goal_vs_plain
    ]


def _position_rows(section: model.PositionBias) -> list[dict[str, Any]]:
    rows = []
    for group in section.groups:
        row: dict[str, Any] = {"model": group.model, "value": group.value, "strategy": group.strategy}
        row.update(group.design)
        row["orders"] = " ".join(group.orders)
        test = group.order_dependence
        row.update(
            {
                f"order_dependence_{k}": getattr(test, k)
                for k in ("statistic", "df", "p_value", "cramers_v", "n")
            }
        )
        for name in ("position_pick_first", "position_pick_last"):
            pick = getattr(group, name)
            row.update(_flat(name, pick))
            row[f"{name}_p_value"] = pick.p_value
        differences = group.reversed_minus_fixed
        for name in ("angle", "value_rationality"):
            row.update(_flat(f"reversed_minus_fixed_{name}", getattr(differences, name)))
        rows.append(row)
    return rows


def _variant_rows(section: model.PromptVariants) -> list[dict[str, Any]]:
    rows = []
    for comparison_row in section.comparisons:
        row: dict[str, Any] = {key: getattr(comparison_row, key) for key in (*CELL, "first", "second")}
        row.update(comparison_row.design)
        for name in ("angle", "value_rationality"):
            difference = getattr(comparison_row, name)
            row.update(_flat(f"{name}_difference", difference))
            for key in ("p_value", "p_holm", "ci_low_adjusted", "ci_high_adjusted"):
                row[f"{name}_{key}"] = getattr(difference, key)
        rows.append(row)
    return rows


def report_tables(report: model.Report) -> dict[str, pd.DataFrame]:
    """Every table of the report as a DataFrame, for CSV download (the same numbers as the page and JSON)."""
    tables = {
        "automated": pd.DataFrame(_automated_rows(report.automated)),
        "goal_vs_plain": pd.DataFrame(_goal_vs_plain_rows(report.automated)),
        **consistency_tables(report.consistency),
        **human_tables(report.human),
        "runs": pd.DataFrame(list(report.methods.runs)),
        "position_bias": pd.DataFrame(_position_rows(report.sensitivity.position_bias)),
        "prompt_variants": pd.DataFrame(_variant_rows(report.sensitivity.prompt_variants)),
    }
    return {name: tables[name] for name in TABLE_NAMES}
