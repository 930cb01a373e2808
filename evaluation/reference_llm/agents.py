"""The reference agents' dispositions: how each profile reads a conversation and decides. Pure: no Django.

An agent reads the conversation it is sent the way a role-playing LLM would: it takes the induced value from
the first of the four value names in the system prompt or the user turns (none: it behaves individualistically,
the disposition of an uninstructed agent in the SVO literature's default), notices whether it was asked to
state a goal, and answers the last user turn:

- a value-description request ("Describe ...", or the paper's "Do you know ... value system? Tell me the
  characteristics of ...", where "hyper-competitive" names the competitive value) with a short paragraph;
- a goal request (ours, or the paper's "summarize what the specific goal ... is") with one sentence;
- a decision (a turn listing labelled options "X) You receive S, the other person receives O") with a choice
  made by its profile and worded by ``phrasing.decision_text``;
- an extraction request (an answer between ``<<<`` and ``>>>`` plus the options) with the label it chose;
- a request to answer again (a user turn with no options right after its answer to a decision) by restating
  the choice it made there, readably: the label alone when asked for one word (the paper's re-ask), else
  "I choose option X".

Options are read in our format ("X) You receive S, the other person receives O") and in the paper's ("X: S, O");
an item's number from "Decision 5 of 15", "Choice 5/15" or the paper's "the fifth choice question". A goal quoted
back in an item (the paper's reminder) does not change what the agent reads.

Profiles (the utility of a direction theta is cos(theta) * self + sin(theta) * other, DESIGN.md section 1):

- ``ref-faithful``: maximises the induced value's utility (the middle option where the item is uninformative);
- ``ref-prosocial-drift``: its direction is pulled halfway to prosocial (45 degrees), only a fifth of the way
  when it stated a goal first, the goal-prompting effect HVAE reports;
- ``ref-stubborn``: individualistic (0 degrees) whatever it is told;
- ``ref-random``: uniform over the options;
- ``ref-position-biased``: with probability ``POSITION_BIAS_PROBABILITY`` (0.3, drawn per decision) takes the
  first displayed option whatever it holds, otherwise decides like ``ref-faithful``: the ground truth for the
  position-bias analysis (under a reversed or random order, choices then depend on display position);
- ``ref-extractor``: answers extraction prompts (reads labels and allocations, payoffs written in words too).

Decision agents read the options the way definitions hvae-svo/2 score them (DESIGN.md section 1): as equally
spaced points on a straight slider between the two options farthest apart, rounded for display. The utility is
linear along the slider, so the best choice is the end whose utility is higher, and an option's regret is its
distance from that end as a share of the slider, in [0, 1]. Tie rule: when both ends have equal utility (the item
is uninformative for the direction, e.g. item 5 for prosocial, item 1 for individualistic) the agent is
indifferent along the slider and takes the option nearest its middle (option 5: the equal split (75, 75) on
item 5), at every temperature.

``ref-faithful`` (and the value-led choices of ``ref-position-biased``) take the best end at every temperature: a
calibration agent that is faithful by construction, so VR 1 is its ground truth under any design. The other
deciding profiles take the best end at temperature 0; above 0 they sample options with probability proportional
to exp(-regret / (0.15 * temperature)). A request that sends no temperature gets the OpenAI default, 1.0 (the
server applies it). Every draw comes from a generator seeded by the model name, the request seed and the
messages, so a request always gets the same reply. With ``unreadable_rate`` (a server option for tests) a
decision is worded, with that probability, in a format no deterministic parser reads (payoffs in words, no
label); a re-asked agent always answers readably.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from evaluation import svo
from evaluation.reference_llm import phrasing

Kind = Literal["description", "goal", "decision", "restatement", "extraction", "other"]


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    decides: bool = True
    follows_temperature: bool = True


POSITION_BIAS_PROBABILITY: Final = 0.3
"""How often ``ref-position-biased`` takes the first displayed option instead of deciding by value."""


PROFILES: Final[dict[str, Profile]] = {
    profile.name: profile
    for profile in (
        Profile("ref-faithful", "maximises the utility of the induced value", follows_temperature=False),
        Profile("ref-prosocial-drift", "pulled toward prosocial, less so after stating a goal"),
        Profile("ref-stubborn", "individualistic whatever value it is given"),
        Profile("ref-random", "chooses uniformly at random"),
        Profile(
            "ref-position-biased",
            f"takes the first displayed option with probability {POSITION_BIAS_PROBABILITY}, "
            "else maximises the utility of the induced value",
            follows_temperature=False,
        ),
        Profile("ref-extractor", "reads which option an answer chose", decides=False),
    )
}
DEFAULT_VALUE: Final = "individualistic"
FINGERPRINT: Final = "fp_reference_agents_1"

_VALUE_WORD = re.compile(r"\b(" + "|".join(svo.VALUES) + r")\b", re.I)
_GOAL_REQUEST = re.compile(r"\bwant to achieve\b|\byour goal\b|\bthe specific goal\b", re.I)
_DESCRIBE = re.compile(r"\b(?:describe|picture|imagine|write)\b|\bcharacteristics of\b", re.I)
_OPTION_LINE = re.compile(
    r"^[ \t]*\(?(?P<label>[A-Za-z]|\d{1,2})[).:][ \t]*[^\d\n]*?(?P<own>\d{1,3})[^\d\n]+?(?P<other>\d{1,3})\b",
    re.M,
)
_DECISION_NUMBER = re.compile(r"\b(?:decision|choice)\s+(\d{1,2})\b", re.I)
_ORDINAL_WORDS: Final = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_ORDINAL_QUESTION = re.compile(r"\bthe\s+(" + "|".join(_ORDINAL_WORDS) + r")\s+choice\s+question\b", re.I)
_ONE_WORD = re.compile(r"\bonly\s+one\s+word\b", re.I)
_QUOTED_ANSWER = re.compile(r"<<<\s*(?P<answer>.*?)\s*>>>", re.S)


@dataclass(frozen=True)
class Option:
    label: str
    own: int
    other: int


@dataclass(frozen=True)
class Reply:
    """What the agent says, and for a decision the truth behind it."""

    text: str
    kind: Kind
    value: str | None = None
    option: int | None = None  # canonical option 1..9 of the item, when the options are an SVO item
    label: str | None = None
    allocation: tuple[int, int] | None = None


def _rng(model: str, seed: int | None, messages: Sequence[dict[str, str]]) -> random.Random:
    digest = hashlib.sha256(
        json.dumps([model, seed, list(messages)], sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def induced_value(messages: Sequence[dict[str, str]]) -> str:
    for message in messages:
        if message.get("role") in ("system", "user") and (found := _VALUE_WORD.search(message["content"])):
            return found.group(1).lower()
    return DEFAULT_VALUE


def stated_goal(messages: Sequence[dict[str, str]]) -> bool:
    return any(m.get("role") == "user" and _GOAL_REQUEST.search(m["content"]) for m in messages[:-1])


def parse_options(text: str) -> list[Option]:
    return [Option(m["label"], int(m["own"]), int(m["other"])) for m in _OPTION_LINE.finditer(text)]


def canonical_option(options: Sequence[Option], index: int, decision_number: int | None) -> int | None:
    """The chosen option's number on the SVO item whose nine allocations were shown, if that item is known.

    Items 5 and 13 offer the same nine allocations in opposite directions; the decision's number ("Decision 13
    of 15") tells them apart when the items are administered in order. Unknown: None.
    """
    shown = [(o.own, o.other) for o in options]
    items = [i for i in svo.ALL_ITEMS if len(shown) == len(i.options) and set(shown) == set(i.options)]
    if len(items) > 1:
        items = [i for i in items if i.number == decision_number]
    if len(items) != 1:
        return None
    return items[0].options.index(shown[index]) + 1


def direction(profile: str, value: str, *, goal: bool) -> float | None:
    """The utility direction in degrees the profile acts on; None for a random agent."""
    theta = float(svo.VALUE_DIRECTIONS[value])  # type: ignore[index]
    if profile in ("ref-faithful", "ref-position-biased"):
        return theta
    if profile == "ref-prosocial-drift":
        pull = 0.2 if goal else 0.5
        return theta + pull * (svo.VALUE_DIRECTIONS["prosocial"] - theta)
    if profile == "ref-stubborn":
        return float(svo.VALUE_DIRECTIONS["individualistic"])
    return None


def slider_positions(options: Sequence[Option]) -> list[float]:
    """Each option's place in [0, 1] on the slider its options were rounded from.

    The slider runs between the two options farthest apart; the options are equally spaced along it, so the
    projection of each one is snapped to the nearest of the len(options) - 1 steps (rounding for display moves
    a point by far less than half a step on every SVO item).
    """
    pairs = [(i, j) for i in range(len(options)) for j in range(i + 1, len(options))]
    start, stop = max(pairs, key=lambda p: _squared_gap(options[p[0]], options[p[1]]))
    first, last = options[start], options[stop]
    span = _squared_gap(first, last)
    if span == 0:
        return [0.5] * len(options)
    steps = len(options) - 1
    along = [
        ((o.own - first.own) * (last.own - first.own) + (o.other - first.other) * (last.other - first.other))
        / span
        for o in options
    ]
    return [min(max(round(t * steps), 0), steps) / steps for t in along]


def _squared_gap(a: Option, b: Option) -> int:
    return (a.own - b.own) ** 2 + (a.other - b.other) ** 2


def choose(options: Sequence[Option], theta: float | None, temperature: float, rng: random.Random) -> int:
    """Index of the chosen option: the best end of the slider for the direction (sampled by regret above
    temperature 0), the middle of an uninformative slider, or uniform for a random agent."""
    if theta is None:
        return rng.randrange(len(options))
    cos, sin = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    positions = slider_positions(options)
    ends = [
        next(cos * o.own + sin * o.other for o, t in zip(options, positions, strict=True) if t == end)
        for end in (0.0, 1.0)
    ]
    if math.isclose(ends[0], ends[1], rel_tol=1e-9, abs_tol=1e-9):
        nearest = min(abs(t - 0.5) for t in positions)
        return rng.choice([i for i, t in enumerate(positions) if abs(t - 0.5) == nearest])
    best_end = 0.0 if ends[0] > ends[1] else 1.0
    regrets = [abs(t - best_end) for t in positions]
    if temperature <= 0:
        return rng.choice([i for i, r in enumerate(regrets) if r == 0])
    weights = [math.exp(-r / (0.15 * temperature)) for r in regrets]
    return rng.choices(range(len(options)), weights=weights)[0]


def extract(prompt: str) -> str:
    """The extractor's reply to an extraction request: the chosen label, or NONE."""
    quoted = _QUOTED_ANSWER.search(prompt)
    if quoted is None:
        return "NONE"
    options = parse_options(prompt[: quoted.start()])
    answer = phrasing.words_to_digits(quoted["answer"])
    by_payoff = {
        o.label
        for o in options
        if re.search(rf"(?<!\d){o.own}(?!\d)[^\d]{{0,80}}?(?<!\d){o.other}(?!\d)", answer)
    }
    if len(by_payoff) == 1:
        return by_payoff.pop()
    labels = {o.label.upper(): o.label for o in options}
    named = {
        labels[m.group(1).upper()]
        for m in re.finditer(r"(?:option|answer|choice|choose|pick)\W{0,3}([A-Za-z]|\d{1,2})\b", answer, re.I)
        if m.group(1).upper() in labels
    }
    return named.pop() if len(named) == 1 else "NONE"


def decision_number(text: str) -> int | None:
    """The item's number as the turn states it: "Decision 5 of 15", "Choice 5/15", "the fifth choice question"."""
    if number := _DECISION_NUMBER.search(text):
        return int(number[1])
    if ordinal := _ORDINAL_QUESTION.search(text):
        return _ORDINAL_WORDS.index(ordinal[1].lower()) + 1
    return None


def _answered_decision(messages: Sequence[dict[str, str]]) -> list[dict[str, str]] | None:
    """The conversation up to the decision the agent just answered, when the last user turn asks again."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if len(users) < 2 or messages[users[-1] - 1].get("role") != "assistant":
        return None
    earlier = users[-2]
    if users[-1] - 1 <= earlier or len(parse_options(messages[earlier]["content"])) < 2:
        return None
    return list(messages[: earlier + 1])


def respond(
    model: str,
    messages: Sequence[dict[str, str]],
    *,
    seed: int | None = None,
    temperature: float = 0.0,
    unreadable_rate: float = 0.0,
) -> Reply:
    """The reply of reference agent ``model`` to a chat conversation (raises KeyError for another model)."""
    profile = PROFILES[model]
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    rng = _rng(model, seed, messages)
    if not profile.decides or _QUOTED_ANSWER.search(last):
        return Reply(extract(last), "extraction")
    value = induced_value(messages)
    options = parse_options(last)
    if len(options) >= 2:
        if model == "ref-position-biased" and rng.random() < POSITION_BIAS_PROBABILITY:
            index = 0
        else:
            theta = direction(model, value, goal=stated_goal(messages))
            index = choose(options, theta, temperature if profile.follows_temperature else 0.0, rng)
        chosen = options[index]
        shown = phrasing.Shown(chosen.label, index, len(options), chosen.own, chosen.other)
        unreadable = unreadable_rate > 0 and rng.random() < unreadable_rate
        return Reply(
            phrasing.decision_text(shown, value, rng, unreadable=unreadable),
            "decision",
            value=value,
            option=canonical_option(options, index, decision_number(last)),
            allocation=(chosen.own, chosen.other),
            label=chosen.label,
        )
    if (decision := _answered_decision(messages)) is not None:
        made = respond(model, decision, seed=seed, temperature=temperature, unreadable_rate=unreadable_rate)
        if made.label is not None:
            text = phrasing.restated_choice(made.label, one_word=bool(_ONE_WORD.search(last)))
            return Reply(
                text,
                "restatement",
                made.value,
                option=made.option,
                label=made.label,
                allocation=made.allocation,
            )
    if _GOAL_REQUEST.search(last):
        return Reply(phrasing.GOALS[value], "goal", value=value)
    if _DESCRIBE.search(last):
        return Reply(rng.choice(phrasing.DESCRIPTIONS[value]), "description", value=value)
    return Reply("Understood. I will answer as that person would.", "other", value=value)
