"""python manage.py plan_validation: how many transcripts a human validation needs for a CI half-width."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from hvae_site import validators
from hvae_site.commands import ArgumentsCommand
from stats import planning

MAX_CATEGORIES = 20
MAX_RATERS = 100
MAX_SIMULATIONS = 100_000


def _prevalence(raw: str) -> tuple[float, ...]:
    """Comma-separated category shares, each a finite number."""
    parts = list(raw.split(","))
    if len(parts) > MAX_CATEGORIES:
        raise argparse.ArgumentTypeError(f"at most {MAX_CATEGORIES} categories")
    parse = validators.arg_float(minimum=0.0, maximum=1.0)
    return tuple(float(parse(part)) for part in parts)


class Command(ArgumentsCommand):
    help = (
        "Print the number of transcripts (rated targets) a human validation needs so that the CI of an "
        "agreement statistic has the given half-width, and a table around it. ICC: Bonett (2002); kappa with "
        "two raters: Fleiss, Cohen & Everitt (1969); otherwise a seeded simulation. Needs no database. Exit "
        "code 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--statistic", required=True, choices=planning.STATISTICS, help="kappa, ac1, icc or alpha."
        )
        parser.add_argument(
            "--expected",
            required=True,
            type=validators.arg_float(minimum=-1.0, maximum=1.0),
            help="The value the statistic is expected to take, strictly between -1 and 1.",
        )
        parser.add_argument(
            "--half-width",
            required=True,
            type=validators.arg_float(minimum=0.0, maximum=1.0),
            help="The CI half-width wanted (e.g. 0.1 for +/- 0.1).",
        )
        parser.add_argument(
            "--raters",
            required=True,
            type=validators.arg_int(minimum=2, maximum=MAX_RATERS),
            help="Raters per transcript.",
        )
        parser.add_argument(
            "--categories",
            type=validators.arg_int(minimum=2, maximum=MAX_CATEGORIES),
            default=None,
            help="Number of categories (default 4, or as many as --prevalence gives).",
        )
        parser.add_argument(
            "--prevalence",
            type=_prevalence,
            default=None,
            help="Comma-separated category shares summing to 1 (default: equal shares).",
        )
        parser.add_argument(
            "--confidence",
            type=validators.arg_float(minimum=0.5, maximum=0.999),
            default=planning.DEFAULT_CONFIDENCE,
            help="Confidence level of the interval (default 0.95).",
        )
        parser.add_argument(
            "--seed",
            type=validators.arg_int(),
            default=planning.DEFAULT_SEED,
            help="Simulation seed (default 0).",
        )
        parser.add_argument(
            "--simulations",
            type=validators.arg_int(minimum=planning.MIN_SIMULATIONS, maximum=MAX_SIMULATIONS),
            default=planning.DEFAULT_SIMULATIONS,
            help="Simulated data sets per candidate n (default 1000).",
        )
        parser.add_argument(
            "--method",
            choices=("auto", "analytic", "simulation"),
            default="auto",
            help="auto (analytic where a formula exists), analytic, or simulation.",
        )
        parser.add_argument("--json", action="store_true", help="Print the plan as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            request = planning.PlanRequest(
                statistic=options["statistic"],
                expected=options["expected"],
                half_width=options["half_width"],
                raters=options["raters"],
                prevalence=self._prevalence(options["categories"], options["prevalence"]),
                confidence=options["confidence"],
                seed=options["seed"],
                simulations=options["simulations"],
                method=options["method"],
            )
            plan = planning.plan_sample_size(request)
            table = planning.plan_table(request)
        except planning.PlanningError as error:
            raise CommandError(str(error), returncode=2) from error
        if options["json"]:
            self.stdout.write(json.dumps(self._as_dict(plan, table), indent=2))
        else:
            self.stdout.write(self._as_text(plan, table))

    @staticmethod
    def _prevalence(categories: int | None, prevalence: tuple[float, ...] | None) -> tuple[float, ...]:
        if prevalence is None:
            return planning.uniform_prevalence(categories or 4)
        if categories is not None and categories != len(prevalence):
            raise planning.PlanningError(
                f"--prevalence gives {len(prevalence)} shares but --categories is {categories}"
            )
        return planning.check_prevalence(prevalence)

    @staticmethod
    def _as_dict(plan: planning.SampleSizePlan, table: tuple[planning.PlanTableRow, ...]) -> dict[str, Any]:
        request = plan.request
        simulated = plan.method == "simulation"
        return {
            "statistic": request.statistic,
            "expected": request.expected,
            "half_width": request.half_width,
            "raters": request.raters,
            "categories": None if request.statistic == "icc" else request.categories,
            "prevalence": None if request.statistic == "icc" else list(request.prevalence),
            "confidence": request.confidence,
            "n": plan.n,
            "method": plan.method,
            "formula": plan.formula,
            "achieved_half_width": plan.achieved_half_width,
            "seed": request.seed if simulated else None,
            "simulations": request.simulations if simulated else None,
            "rater_accuracy": plan.rater_accuracy,
            "note": plan.note,
            "table": [{"expected": row.expected, "half_width": row.half_width, "n": row.n} for row in table],
        }

    @staticmethod
    def _as_text(plan: planning.SampleSizePlan, table: tuple[planning.PlanTableRow, ...]) -> str:
        request = plan.request
        design = f"{request.raters} raters"
        if request.statistic != "icc":
            shares = ", ".join(f"{share:g}" for share in request.prevalence)
            design += f", {request.categories} categories with prevalence {shares}"
        lines = [
            f"{request.statistic} expected {request.expected:g}, {request.confidence:.0%} CI half-width "
            f"{request.half_width:g}, {design}:",
            f"  n = {plan.n} transcripts (expected half-width at n: {plan.achieved_half_width:.4f})",
            f"  method: {plan.method}: {plan.formula}",
        ]
        if plan.rater_accuracy is not None:
            lines.append(
                f"  simulated raters report the true category with probability {plan.rater_accuracy:.4f}, "
                "otherwise a category drawn with the prevalence"
            )
        if plan.note:
            lines.append(f"  note: {plan.note}")
        lines += ["", f"  {'expected':>8}  {'half-width':>10}  {'n':>7}"]
        for row in table:
            marker = (
                "  <-" if (row.expected, row.half_width) == (request.expected, request.half_width) else ""
            )
            lines.append(f"  {row.expected:>8.3g}  {row.half_width:>10.4g}  {row.n:>7}{marker}")
        return "\n".join(lines)
