"""Agreement and reliability statistics for categorical labels and numeric ratings, each with a 95% CI.

Pure module: numpy, pandas and scipy only, no Django. Every function returns an ``Estimate`` (value, 95% CI,
n, method, note); with too little data the value is ``None`` and the note reads "not enough data (n = N)",
never NaN. Malformed input raises ``ValueError`` with a message a researcher can act on.

Modules, one per statistic (every public name is re-exported here): ``estimate`` (Estimate, constants,
shared helpers), ``categorical`` (majority label, accuracy, Wilson interval, Cohen's and Fleiss' kappa),
``confusion`` (ConfusionMatrix), ``prevalence`` (Gwet's AC1, PABAK), ``krippendorff`` (alpha), ``icc``
(intraclass correlations), ``concordance`` (Lin's CCC), ``bland_altman`` (limits of agreement, proportional
bias) and ``design`` (ICC when the design is fully crossed, Krippendorff's alpha otherwise).

Sources
-------
- Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and Psychological
  Measurement 20(1), 37-46.
- Cohen, J. (1968). Weighted kappa. Psychological Bulletin 70(4), 213-220.
- Fleiss, J. L., Cohen, J. & Everitt, B. S. (1969). Large sample standard errors of kappa and weighted kappa.
  Psychological Bulletin 72(5), 323-327.
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
  378-382.
- Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.). Advanced Analytics. (Fleiss' kappa when
  subjects have different numbers of ratings.)
- Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for Communication,
  University of Pennsylvania, Departmental Papers 43.
- Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater reliability.
  Psychological Bulletin 86(2), 420-428.
- McGraw, K. O. & Wong, S. P. (1996). Forming inferences about some intraclass correlation coefficients.
  Psychological Methods 1(1), 30-46 (Tables 4 and 7 for the estimators and their F-based intervals).
- Donner, A. (1986). A review of inference procedures for the intraclass correlation coefficient in the
  one-way random effects model. International Statistical Review 54(1), 67-82.
- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. Journal of the
  American Statistical Association 22(158), 209-212.
- Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, ch. 13 (percentile
  intervals).

Bootstrap intervals resample the items (subjects, units) with replacement, never individual ratings, and are
computed for all resamples at once with array operations.
"""

from stats.agreement.bland_altman import BlandAltman, bland_altman
from stats.agreement.categorical import (
    _kappa_standard_error,
    accuracy,
    cohen_kappa,
    fleiss_kappa,
    majority_label,
    mean_kappa_vs_raters,
    wilson_interval,
)
from stats.agreement.concordance import lin_ccc
from stats.agreement.confusion import ConfusionMatrix, confusion_matrix
from stats.agreement.design import ALPHA_INTERVAL, ReliabilityByDesign, reliability_by_design
from stats.agreement.estimate import (
    CONFIDENCE_LEVEL,
    ICC_FORMS,
    MIN_BOOTSTRAP_RESAMPLES,
    ORDERED_CATEGORIES,
    Estimate,
    FloatArray,
    KappaWeights,
    MeasurementLevel,
)
from stats.agreement.icc import icc, icc_one_way
from stats.agreement.krippendorff import krippendorff_alpha, krippendorff_alpha_of_units
from stats.agreement.prevalence import gwet_ac1, pabak

__all__ = [
    "ALPHA_INTERVAL",
    "CONFIDENCE_LEVEL",
    "ICC_FORMS",
    "MIN_BOOTSTRAP_RESAMPLES",
    "ORDERED_CATEGORIES",
    "BlandAltman",
    "ConfusionMatrix",
    "Estimate",
    "FloatArray",
    "KappaWeights",
    "MeasurementLevel",
    "ReliabilityByDesign",
    "_kappa_standard_error",
    "accuracy",
    "bland_altman",
    "cohen_kappa",
    "confusion_matrix",
    "fleiss_kappa",
    "gwet_ac1",
    "icc",
    "icc_one_way",
    "krippendorff_alpha",
    "krippendorff_alpha_of_units",
    "lin_ccc",
    "majority_label",
    "mean_kappa_vs_raters",
    "pabak",
    "reliability_by_design",
    "wilson_interval",
]
