"""Published worked examples and small helpers shared by the stats tests."""

from __future__ import annotations

import numpy as np

from stats.agreement import Estimate

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS_RATINGS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers x 12 units,
# None where an observer did not code a unit.
KRIPPENDORFF_RELIABILITY_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters each, 5 categories; counts per category.
FLEISS_WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def value_of(estimate: Estimate) -> float:
    assert estimate.value is not None, estimate.note
    return estimate.value


def contains_estimate(estimate: Estimate) -> bool:
    assert estimate.value is not None
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    tolerance = 1e-9
    return estimate.ci_low - tolerance <= estimate.value <= estimate.ci_high + tolerance


# Gwet (2014), Handbook of Inter-Rater Reliability, reproduced as the "cont3x3abstractors" table of Gwet's irrCAC
# R package (README, "Computing agreement Coefficients from Contingency tables"): 100 cases classified by two
# abstractors as ectopic pregnancy, abnormal intrauterine (AIU) or normal intrauterine (NIU) pregnancy.
# Rows: first abstractor; columns: second. Published results: Cohen's kappa 0.7964094, Gwet's AC1 0.8493305
# (standard error 0.04321747), percent agreement 0.89, Brennan-Prediger (= PABAK for q categories) 0.835.
ABSTRACTORS_LABELS = ["Ectopic", "AIU", "NIU"]
ABSTRACTORS_TABLE = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
ABSTRACTORS_KAPPA = 0.7964094
ABSTRACTORS_AC1 = 0.8493305
ABSTRACTORS_AC1_SE = 0.04321747
ABSTRACTORS_PERCENT_AGREEMENT = 0.89
ABSTRACTORS_BRENNAN_PREDIGER = 0.835

# Feinstein, A. R. & Cicchetti, D. V. (1990). High agreement but low kappa: I. The problems of two paradoxes.
# Journal of Clinical Epidemiology 43(6), 543-549: two 2x2 tables with the same observed agreement 0.85 whose
# kappas are 0.70 (balanced) and 0.32 (one category prevalent).
PARADOX_BALANCED = [[40, 9], [6, 45]]
PARADOX_PREVALENT = [[80, 10], [5, 5]]

# Bland, J. M. & Altman, D. G. (1986). The Lancet 327(8476), 307-310, Table 1: peak expiratory flow rate (l/min)
# of 17 people, first measurement with the Wright and with the mini Wright peak flow meter. Published: mean
# difference (Wright - mini) -2.1, SD of the differences 38.8, limits of agreement (mean -/+ 2 SD) -79.7 to 75.5.
PEFR_WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
PEFR_MINI_WRIGHT = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def pairs_from_table(table: list[list[int]], labels: list[str]) -> tuple[list[str], list[str]]:
    """Expand a contingency table (rows: first rater, columns: second) to two paired label lists."""
    first: list[str] = []
    second: list[str] = []
    for row, counts in enumerate(table):
        for column, count in enumerate(counts):
            first += [labels[row]] * count
            second += [labels[column]] * count
    return first, second
