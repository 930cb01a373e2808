"""The report's figures, rendered server-side to inline SVG with matplotlib (Agg; no external assets).

Text is drawn as glyph outlines (``svg.fonttype = 'path'``), so no string from a model, an endpoint or a
rater ever reaches the page as markup. Every figure's size is bounded whatever the number of trials: the
SVO ring shows a histogram of angles, not one mark per trial.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from typing import Any

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


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def value_rationality_heatmap(
    rows: Sequence[str], columns: Sequence[str], cells: Sequence[Sequence[float | None]]
) -> str:
    """Mean value rationality per model and strategy (rows) and induced value (columns)."""
    figure, axes = plt.subplots(figsize=(2.4 + 1.3 * len(columns), 1.0 + 0.45 * max(1, len(rows))))
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
    axes.set_title("Mean value rationality")
    return _svg(figure)


def svo_ring(
    edges: Sequence[float], counts_by_value: dict[str, Sequence[int]], cell_means: Sequence[tuple[float, str]]
) -> str:
    """Trial angles on the SVO ring with the four category sectors (Murphy et al. 2011): per induced value a
    histogram of angles (bar length = share of that value's trials), and each cell's mean angle as a mark."""
    figure, axes = plt.subplots(figsize=(6.5, 6.5), subplot_kw={"projection": "polar"})
    for name, low, high in SECTORS:
        axes.bar(
            math.radians((low + high) / 2),
            1.15,
            width=math.radians(high - low),
            color=CATEGORY_COLOURS[name],
            alpha=0.12,
            edgecolor="none",
        )
        axes.text(math.radians((low + high) / 2), 1.22, name, ha="center", va="center", fontsize=8)
    centres = [math.radians((a + b) / 2) for a, b in itertools.pairwise(edges)]
    width = math.radians(edges[1] - edges[0]) if len(edges) > 1 else 0.0
    for value, counts in counts_by_value.items():
        total = sum(counts)
        if total:
            shares = [0.9 * count / max(counts) for count in counts]
            axes.bar(
                centres,
                shares,
                width=width,
                alpha=0.45,
                color=CATEGORY_COLOURS.get(value, "#777"),
                label=f"induced {value} (n = {total})",
            )
    for angle, value in cell_means:
        axes.plot(
            [math.radians(angle)], [1.02], marker="v", color=CATEGORY_COLOURS.get(value, "#777"), markersize=7
        )
    axes.set_thetamin(-45)  # type: ignore[attr-defined]
    axes.set_thetamax(90)  # type: ignore[attr-defined]
    axes.set_ylim(0, 1.3)
    axes.set_yticks([])
    axes.set_title("Angles on the SVO ring (bars: trials; triangles: cell means)")
    if counts_by_value:
        axes.legend(loc="lower left", bbox_to_anchor=(0.0, -0.3), ncol=2, fontsize=8)
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


def goal_vs_plain(rows: Sequence[dict[str, Any]]) -> str:
    """Mean value rationality with plain and with goal prompting, per model and value, with 95% CIs."""
    figure, axes = plt.subplots(figsize=(6.5, 1.0 + 0.4 * max(1, len(rows))))
    for k, row in enumerate(rows):
        plain, goal = row["vr_plain"], row["vr_goal"]
        if plain["value"] is not None and goal["value"] is not None:
            axes.plot([plain["value"], goal["value"]], [k, k], color="#aaa")
        for estimate, colour, label in ((plain, "#e0a030", "plain"), (goal, "#3b7dd8", "goal")):
            if estimate["value"] is None:
                continue
            error = None
            if estimate["ci_low"] is not None:
                error = [[estimate["value"] - estimate["ci_low"]], [estimate["ci_high"] - estimate["value"]]]
            axes.errorbar(
                [estimate["value"]], [k], xerr=error, fmt="o", color=colour, label=label if k == 0 else None
            )
    axes.set_yticks(range(len(rows)), labels=[f"{row['model']} · {row['value']}" for row in rows])
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("mean value rationality (95% CI)")
    if rows:
        axes.legend(loc="lower right")
    axes.set_title("Goal prompting vs plain")
    return _svg(figure)


def report_figures(report: dict[str, Any]) -> dict[str, str]:
    """Every figure of a report, by name; figures without data are left out."""
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
        figures["ring"] = svo_ring(histogram["edges"], histogram["counts_by_value"], means)
    if automated["goal_vs_plain"]:
        figures["goal_vs_plain"] = goal_vs_plain(automated["goal_vs_plain"])
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
