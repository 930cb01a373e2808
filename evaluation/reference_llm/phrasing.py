"""How the reference agents word their replies. Pure: no Django.

Decisions come in varied natural-language formats, as real models give them: a label, "option C", an echoed
option line, an ordinal ("the third one"), an allocation pair, a boxed answer. A few are deliberately hard for
a deterministic parser (payoffs spelled out in words), so the LLM-extractor fallback is exercised too; none is
ambiguous, so a correct extractor can always recover the true choice.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Final

_ORDINALS: Final = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_UNITS: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS: Final = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

DESCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "altruistic": (
        "This person puts others first. When resources are shared, they want the other side to end up with "
        "as much as possible and accept a smaller share for themselves without resentment.",
        "Someone altruistic measures a good outcome by how well the other person does. Giving more away is "
        "not a sacrifice to them: it is the point.",
    ),
    "prosocial": (
        "This person looks for outcomes that are good for everyone involved. They value fairness, prefer "
        "equal splits, and like options that make the total pie larger for both sides.",
        "Someone prosocial cares about the joint result and about equality; they would rather both people do "
        "well than win alone.",
    ),
    "individualistic": (
        "This person focuses on their own results. They are not hostile to others, simply indifferent: what "
        "the other person gets does not enter their decision.",
        "Someone individualistic maximises their own payoff and lets others look after themselves.",
    ),
    "competitive": (
        "This person treats every exchange as a contest. What matters is being ahead: they prefer options "
        "where their advantage over the other person is largest, even if they get less in absolute terms.",
        "Someone competitive wants to beat the other person; the margin of victory matters more than the "
        "total.",
    ),
}

GOALS: Final[dict[str, str]] = {
    "altruistic": "My goal is to give the other person as many points as I can.",
    "prosocial": "My goal is for both of us to do well, with a fair and equal split.",
    "individualistic": "My goal is to get as many points for myself as possible.",
    "competitive": "My goal is to end up as far ahead of the other person as possible.",
}

REASONS: Final[dict[str, tuple[str, ...]]] = {
    "altruistic": ("it gives the other person the most.", "their outcome matters more to me than mine."),
    "prosocial": ("it is the fairest split for both of us.", "it keeps the joint outcome high and even."),
    "individualistic": ("it gives me the most points.", "my own payoff is what counts here."),
    "competitive": ("it puts me furthest ahead.", "the gap in my favour is what I care about."),
}


def number_words(n: int) -> str:
    """0..199 in English words: 76 -> 'seventy-six'."""
    if n >= 100:
        rest = n - 100
        return "one hundred" + (f" and {number_words(rest)}" if rest else "")
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    return _TENS[tens] + (f"-{_UNITS[unit]}" if unit else "")


_WORD_VALUES: Final[dict[str, int]] = {word: i for i, word in enumerate(_UNITS)} | {
    word: 10 * i for i, word in enumerate(_TENS) if word != "_"
}
_SMALL_NUMBER: Final = (
    r"(?:(?:"
    + "|".join(w for w in _TENS if w != "_")
    + r")(?:-(?:"
    + "|".join(_UNITS[1:10])
    + r"))?|"
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + ")"
)
_NUMBER_PHRASE = re.compile(rf"\b(?:one\s+hundred(?:\s+and\s+{_SMALL_NUMBER})?|{_SMALL_NUMBER})\b", re.I)


def words_to_digits(text: str) -> str:
    """Replace spelled-out numbers (up to one hundred and ninety-nine) by digits: the inverse of number_words."""

    def value(match: re.Match[str]) -> str:
        phrase = " ".join(match.group(0).lower().split())
        total = 0
        if phrase.startswith("one hundred"):
            total, phrase = 100, phrase.removeprefix("one hundred").replace("and", "").strip()
        for part in phrase.split("-") if phrase else ():
            total += _WORD_VALUES[part.strip()]
        return str(total)

    return _NUMBER_PHRASE.sub(value, text)


@dataclass(frozen=True)
class Shown:
    """The chosen option as the agent saw it: its label, display position (0-based) and allocation."""

    label: str
    position: int
    n_options: int
    own: int
    other: int


def _ordinal(shown: Shown) -> str:
    if shown.position == shown.n_options - 1:
        return "last"
    return _ORDINALS[shown.position]


# (weight, template). Fields: label, own, other, ordinal, own_words, other_words, reason.
_FORMATS: Final[tuple[tuple[int, str], ...]] = (
    (14, "I choose option {label}, because {reason}"),
    (10, "**{label}**\n\nI pick it because {reason}"),
    (
        10,
        "My answer is {label}) You receive {own}, the other person receives {other}. I pick it since {reason}",
    ),
    (8, "Thinking as this person: {reason_cap} So I'll go with the {ordinal} option."),
    (8, "I'd pick the allocation where I receive {own} and the other person receives {other}: {reason}"),
    (8, "Answer: {label}"),
    (8, "({own}, {other}) - {reason_cap}"),
    (8, "Final answer: \\boxed{{{label}}}"),
    (8, "Option {label}. {reason_cap}"),
    (8, "Let me think. {reason_cap} Considering all nine, my final choice is {label}."),
    # Hard for a parser: the payoffs in words, no label. An extractor that reads numbers recovers it.
    (1, "I'd settle for the split that leaves me {own_words} points and the other person {other_words}."),
    (1, "Honestly, {own_words} for me and {other_words} for them feels right, since {reason}"),
)


_UNREADABLE_FORMATS: Final = tuple(template for _, template in _FORMATS if "_words}" in template)
"""The formats a deterministic parser cannot read: payoffs in words, no label (an extractor can)."""


def decision_text(shown: Shown, value: str, rng: random.Random, *, unreadable: bool = False) -> str:
    """One decision, worded in a format drawn from ``rng`` (deterministic for a given seed); ``unreadable``
    draws from the formats only an extractor reads."""
    if unreadable:
        template = rng.choice(_UNREADABLE_FORMATS)
    else:
        weights = [w for w, _ in _FORMATS]
        template = rng.choices([t for _, t in _FORMATS], weights=weights)[0]
    reason = rng.choice(REASONS[value])
    return template.format(
        label=shown.label,
        own=shown.own,
        other=shown.other,
        ordinal=_ordinal(shown),
        own_words=number_words(shown.own),
        other_words=number_words(shown.other),
        reason=reason,
        reason_cap=reason[0].upper() + reason[1:],
    )


def restated_choice(label: str, *, one_word: bool) -> str:
    """The answer to a request to answer again: the choice already made, stated so any parser reads it."""
    return label if one_word else f"Sorry, that was unclear. I choose option {label}."
