"""The report's figures, rendered server-side to inline SVG with matplotlib (Agg; no external assets).

Text is drawn as glyph outlines (``svg.fonttype = 'path'``), so no string from a model, an endpoint or a
rater ever reaches the page as markup. Every figure's size is bounded whatever the number of trials: the
SVO ring shows a histogram of angles, not one mark per trial.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from evaluation import svo

matplotlib.rcParams["svg.fonttype"] = "path"
matplotlib.rcParams["svg.hashsalt"] = "hvae-report"  # identical figures for identical numbers

CATEGORY_COLOURS = {
    "altruistic": "#4c9f70",
    "prosocial": "#3b7dd8",
    "individualistic": "#e0a030",
    "competitive": "#d04a4a",
}
SECTORS = (
    ("altruistic", svo.ALTRUISTIC_ABOVE, 90.0),
    ("prosocial", svo.PROSOCIAL_ABOVE, svo.ALTRUISTIC_ABOVE),
    ("individualistic", svo.INDIVIDUALISTIC_ABOVE, svo.PROSOCIAL_ABOVE),
    ("competitive", -45.0, svo.INDIVIDUALISTIC_ABOVE),
)


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_LONG_DECIMAL = re.compile(r"(?<![\d.])(?<!scale\()(-?[1-9]\d*\.\d\d)\d+")
_PATH_BREAK = re.compile(r" ?\n(?=[LMCQZz\"])")
_BETWEEN_TAGS = re.compile(r">\s+<")
_GROUP_ID = re.compile(r'<g id="[^"<>]*"')


def compact_svg(text: str) -> str:
    """Matplotlib's SVG made lighter without changing what it shows: no RDF metadata, no comments (they
    repeat each label's text), coordinates of a point or more to a hundredth of a point (far below a screen
    pixel; scales and small numbers kept whole), path data on one line, no indentation, and no ids on groups
    (matplotlib names them ``figure_1``, ``axes_1``… in every figure and nothing refers to them, so several
    figures on one page would repeat them)."""
    text = _COMMENT.sub("", _METADATA.sub("", text))
    text = _LONG_DECIMAL.sub(r"\1", text)
    text = _PATH_BREAK.sub(" ", text)
    text = _GROUP_ID.sub("<g", text)
    return _BETWEEN_TAGS.sub("><", text)


_SHAREABLE = re.compile(
    r'<path id="(DejaVu[\w-]+)"(?: d="[^"<>]*")?(?: transform="[^"<>]*")?/>'  # a glyph
    r'|<path id="(m[0-9a-f]+)"[^<>]*/>'  # a marker
    r'|<clipPath id="(p[0-9a-f]+)">.*?</clipPath>',  # a clip path
    re.DOTALL,
)
_EMPTY_DEFS = re.compile(r"<defs></defs>")


def shared_glyphs(figures: dict[str, str]) -> tuple[str, dict[str, str]]:
    """What the figures of one page repeat, defined once: one hidden SVG holding each glyph outline, marker
    and clip path once, and the figures without their copies (their ``<use>`` and ``clip-path`` references
    find them by id anywhere in the document). Matplotlib names markers and clip paths by a hash of what
    they are, so one id is one shape. Put the hidden SVG on the page together with the figures."""
    shared: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        shared.setdefault(next(group for group in match.groups() if group), match.group(0))
        return ""

    stripped = {name: _EMPTY_DEFS.sub("", _SHAREABLE.sub(take, svg)) for name, svg in figures.items()}
    if not shared:
        return "", dict(figures)
    sprite = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" class="glyphs" '
        'aria-hidden="true" width="0" height="0" style="position:absolute;width:0;height:0;overflow:hidden">'
        f"<defs>{''.join(shared.values())}</defs></svg>"
    )
    return sprite, stripped


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return compact_svg(text[text.index("<svg") :])


LABEL_SEPARATOR = " · "


def short_labels(labels: Sequence[str]) -> tuple[list[str], str]:
    """Row labels made of parts joined by " · " without the parts every label shares at the same place,
    and those shared parts (to say once, e.g. in the title). Labels of unequal length are kept whole."""
    split = [label.split(LABEL_SEPARATOR) for label in labels]
    if len(split) < 2 or len({len(parts) for parts in split}) != 1:
        return list(labels), ""
    shared = [i for i in range(len(split[0])) if len({parts[i] for parts in split}) == 1]
    if len(shared) == len(split[0]):
        return list(labels), ""
    short = [LABEL_SEPARATOR.join(p for i, p in enumerate(parts) if i not in shared) for parts in split]
    return short, LABEL_SEPARATOR.join(split[0][i] for i in shared)


def value_rationality_heatmap(
    rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[float | None]]
) -> str:
    """Mean value rationality per model and strategy (rows) and induced value (columns)."""
    rows, common = short_labels(rows)
    figure, axes = plt.subplots(figsize=(2.2 + 1.0 * len(columns), 1.0 + 0.3 * max(1, len(rows))))
    grid = [[math.nan if cell is None else cell for cell in row] for row in cells]
    image = axes.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(columns)), labels=list(columns))
    axes.set_yticks(range(len(rows)), labels=list(rows))
    for i, row in enumerate(grid):
        for j, cell in enumerate(row):
            text = "–" if math.isnan(cell) else f"{cell:.2f}"
            colour = "black" if math.isnan(cell) or cell >= 0.6 else "white"
            axes.text(j, i, text, ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes, label="value rationality")
    axes.set_title("Mean value rationality" + (f"\n(every row: {common})" if common else ""), fontsize=10)
    return _svg(figure)


def bland_altman(automated: Sequence[float], human: Sequence[float], summary: dict[str, Any]) -> str:
    """Difference (automated - raters' mean) against the pair's mean, with the bias and the 95% limits of
    agreement (Bland & Altman 1986)."""
    figure, axes = plt.subplots(figsize=(6, 4))
    means = [(a + h) / 2 for a, h in zip(automated, human, strict=True)]
    differences = [a - h for a, h in zip(automated, human, strict=True)]
    axes.scatter(means, differences, s=10, alpha=0.5, linewidths=0, rasterized=len(means) > 2000)
    bias = summary["bias"]["value"]
    if bias is not None:
        low, high = summary["lower_limit"]["value"], summary["upper_limit"]["value"]
        for level, style in ((bias, "-"), (low, "--"), (high, "--")):
            axes.axhline(level, linestyle=style, color="#555", linewidth=1)
        axes.set_title(f"Bland-Altman: bias {bias:.2f}°, limits {low:.2f}° to {high:.2f}° (n = {len(means)})")
    else:
        axes.set_title(f"Bland-Altman: not enough data (n = {len(means)})")
    axes.set_xlabel("mean of automated and raters' mean angle (degrees)")
    axes.set_ylabel("automated - raters' mean (degrees)")
    return _svg(figure)


def confusion_matrix(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    figure, axes = plt.subplots(figsize=(5, 4.2))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels=list(labels), rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels=list(labels))
    axes.set_xlabel("raters' majority")
    axes.set_ylabel("automated category")
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center")
    axes.set_title("Automated vs raters' majority category")
    return _svg(figure)


def svo_ring_of_value(
    value: str,
    edges: Sequence[float],
    counts: Sequence[int],
    cell_means: Sequence[float],
    target_angle: float | None = None,
) -> str:
    """One induced value's trial angles on the SVO ring (a small multiple: one such figure per value, side
    by side): the four category sectors (Murphy et al. 2011), a histogram of the angles (bar length = share
    of the value's largest bin), each cell's mean angle as a triangle and the value's target angle as a
    dashed ray."""
    figure, axes = plt.subplots(figsize=(3.6, 3.4), subplot_kw={"projection": "polar"})
    colour = CATEGORY_COLOURS.get(value, "#777")
    for name, low, high in SECTORS:
        axes.bar(
            math.radians((low + high) / 2),
            1.15,
            width=math.radians(high - low),
            color=CATEGORY_COLOURS[name],
            alpha=0.12,
            edgecolor="none",
        )
        axes.text(
            math.radians((low + high) / 2), 0.62, name, ha="center", va="center", fontsize=6.5, alpha=0.8
        )
    total = sum(counts)
    if total:
        centres = [math.radians((a + b) / 2) for a, b in itertools.pairwise(edges)]
        width = math.radians(edges[1] - edges[0]) if len(edges) > 1 else 0.0
        axes.bar(
            centres, [0.9 * count / max(counts) for count in counts], width=width, color=colour, alpha=0.6
        )
    if target_angle is not None:
        axes.plot([math.radians(target_angle)] * 2, [0, 1.15], linestyle="--", color="#333", linewidth=1)
    for angle in cell_means:
        axes.plot(
            [math.radians(angle)], [1.02], marker="v", color=colour, markeredgecolor="#333", markersize=6
        )
    axes.set_thetamin(-45)  # type: ignore[attr-defined]
    axes.set_thetamax(90)  # type: ignore[attr-defined]
    axes.set_ylim(0, 1.3)
    axes.set_yticks([])
    axes.set_xticks(
        [math.radians(a) for a in (-45, 0, 45, 90)], labels=["-45°", "0°", "45°", "90°"], fontsize=7
    )
    axes.set_title(f"induced {value} (n = {total})", fontsize=9)
    return _svg(figure)


PLAIN_COLOUR, GOAL_COLOUR = "#e0a030", "#3b7dd8"


def goal_vs_plain(rows: Sequence[dict[str, Any]], title: str = "Goal prompting vs plain") -> str:
    """Mean value rationality with plain and with goal prompting, one line per row (labelled by its
    ``label``), with 95% CIs."""
    figure, axes = plt.subplots(figsize=(3.3, 0.9 + 0.3 * max(1, len(rows))))
    for k, row in enumerate(rows):
        plain, goal = row["vr_plain"], row["vr_goal"]
        if plain["value"] is not None and goal["value"] is not None:
            axes.plot([plain["value"], goal["value"]], [k, k], color="#aaa")
        for estimate, colour in ((plain, PLAIN_COLOUR), (goal, GOAL_COLOUR)):
            if estimate["value"] is None:
                continue
            error = None
            if estimate["ci_low"] is not None:
                error = [[estimate["value"] - estimate["ci_low"]], [estimate["ci_high"] - estimate["value"]]]
            axes.errorbar([estimate["value"]], [k], xerr=error, fmt="o", markersize=4, color=colour)
    axes.set_yticks(range(len(rows)), labels=[row["label"] for row in rows], fontsize=7)
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_xlim(-0.02, 1.02)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_xlabel("mean value rationality (95% CI)", fontsize=7)
    axes.set_title(f"{title}: plain (orange) vs goal (blue)", fontsize=8)
    return _svg(figure)


def varying_design_keys(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The design keys whose value differs between rows (what a short row label must name)."""
    keys: list[str] = []
    for row in rows:
        for key in row["design"]:
            if key not in keys and len({str(other["design"].get(key)) for other in rows}) > 1:
                keys.append(key)
    return keys


def _design_part(key: str, value: Any) -> str:
    if key == "temperature":
        return (
            "T default"
            if value is None
            else f"T {value:g}"
            if isinstance(value, int | float)
            else f"T {value}"
        )
    return str(value)


def goal_vs_plain_by_value(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Goal vs plain as small multiples: one small figure per induced value, each row a model (with the
    design settings that vary between the rows, when they do)."""
    varying = varying_design_keys(rows)
    by_value: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        parts = [
            str(row["model"]),
            *(_design_part(key, row["design"][key]) for key in varying if key in row["design"]),
        ]
        by_value.setdefault(str(row["value"]), []).append({**row, "label": " · ".join(parts)})
    return {value: goal_vs_plain(group, f"induced {value}") for value, group in _in_value_order(by_value)}


def _in_value_order(groups: dict[str, Any]) -> list[tuple[str, Any]]:
    known = [value for value in svo.VALUES if value in groups]
    return [(value, groups[value]) for value in known + sorted(set(groups) - set(known))]


SVG = TypeVar("SVG", bound=str)
RING_PREFIX = "ring:"
GOAL_VS_PLAIN_PREFIX = "goal_vs_plain:"
"""Small multiples are named prefix + induced value (``ring:prosocial``), in the values' order."""


def small_multiples(figures: Mapping[str, SVG], prefix: str) -> list[tuple[str, SVG]]:
    """The (value, figure) pairs of one kind of small multiple, in the order they were made."""
    return [(name[len(prefix) :], svg) for name, svg in figures.items() if name.startswith(prefix)]


def report_figures(report: dict[str, Any]) -> dict[str, str]:
    """Every figure of a report, by name; figures without data are left out. The angle distribution and
    goal vs plain are small multiples, one small figure per induced value (``RING_PREFIX``,
    ``GOAL_VS_PLAIN_PREFIX``)."""
    automated, human = report["automated"], report["human"]
    figures: dict[str, str] = {}
    if automated["cells"]:
        heatmap = automated["heatmap"]
        figures["heatmap"] = value_rationality_heatmap(heatmap["rows"], heatmap["columns"], heatmap["cells"])
        means = [
            (cell["mean_angle"], cell["value"])
            for cell in automated["cells"]
            if cell["mean_angle"] is not None
        ]
        histogram = automated["angle_histogram"]
        targets = {cell["value"]: cell.get("target_angle") for cell in automated["cells"]}
        for value, counts in _in_value_order(histogram["counts_by_value"]):
            figures[f"{RING_PREFIX}{value}"] = svo_ring_of_value(
                value,
                histogram["edges"],
                counts,
                [angle for angle, of_value in means if of_value == value],
                targets.get(value),
            )
    for value, svg in goal_vs_plain_by_value(automated["goal_vs_plain"]).items():
        figures[f"{GOAL_VS_PLAIN_PREFIX}{value}"] = svg
    selected = human["gold_screened"] if human["selected"] == "gold_screened" else human["all_raters"]
    if selected["n_judgments"]:
        matrix = selected["pooled"]["vs_majority"]["confusion"]
        figures["confusion"] = confusion_matrix([str(label) for label in matrix["labels"]], matrix["counts"])
        angles = selected["pooled"]["angles"]
        if angles["automated"]:
            figures["bland_altman"] = bland_altman(
                angles["automated"], angles["human_mean"], angles["bland_altman"]
            )
    return figures
