"""The confusion matrix of two paired label lists, in a fixed label order.

Pure module: numpy only, no Django.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stats.agreement.categorical import _category_order, _complete_pairs
from stats.agreement.estimate import FloatArray


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of paired labels: ``counts[i][j]`` items got ``labels[i]`` from the first source (rows) and
    ``labels[j]`` from the second (columns). ``dropped`` pairs had a missing label and are not counted.
    """

    labels: tuple[Hashable, ...]
    counts: tuple[tuple[int, ...], ...]
    dropped: int = 0

    def __post_init__(self) -> None:
        size = len(self.labels)
        if len(set(self.labels)) != size:
            raise ValueError(f"confusion matrix labels must not repeat, got {list(self.labels)}")
        if len(self.counts) != size or any(len(row) != size for row in self.counts):
            raise ValueError(f"a confusion matrix over {size} labels needs {size} x {size} counts")
        if any(count < 0 for row in self.counts for count in row):
            raise ValueError("confusion matrix counts must be non-negative")

    @property
    def n(self) -> int:
        """Number of counted pairs."""
        return sum(sum(row) for row in self.counts)

    @property
    def agreements(self) -> int:
        """Pairs on the diagonal (both sources gave the same label)."""
        return sum(self.counts[index][index] for index in range(len(self.labels)))

    def as_array(self) -> FloatArray:
        """The counts as a float array (rows: first source, columns: second)."""
        return np.array(self.counts, dtype=np.float64).reshape(len(self.labels), len(self.labels))

    @property
    def labelled_rows(self) -> tuple[tuple[Hashable, tuple[int, ...]], ...]:
        """Each row's label with its counts (for tables)."""
        return tuple(zip(self.labels, self.counts, strict=True))

    def row_totals(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.counts)

    def column_totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*self.counts, strict=True)) if self.counts else ()


def confusion_matrix(
    a: Iterable[Any], b: Iterable[Any], *, labels: Sequence[Hashable] | None = None
) -> ConfusionMatrix:
    """Cross-tabulate two label lists paired item by item (rows: ``a``, columns: ``b``).

    ``labels`` fixes the order and the set of categories (categories nobody used still get a row and a
    column, e.g. ``ORDERED_CATEGORIES``); every observed label must be in it. Without it the observed labels
    are sorted. Pairs with a missing label are dropped and counted in ``dropped``.
    """
    a, b = list(a), list(b)
    first, second, _ = _complete_pairs(a, b)
    dropped = len(a) - len(first)
    order = _category_order(first + second, labels, ordered=False)
    position = {category: index for index, category in enumerate(order)}
    size = len(order)
    cells = np.array(
        [position[x] * size + position[y] for x, y in zip(first, second, strict=True)], dtype=np.int64
    )
    counts = np.bincount(cells, minlength=size * size).reshape(size, size) if size else np.zeros((0, 0))
    return ConfusionMatrix(
        labels=tuple(order),
        counts=tuple(tuple(int(count) for count in row) for row in counts),
        dropped=dropped,
    )
