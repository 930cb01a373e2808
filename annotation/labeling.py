"""The labeling interface of a batch (Label Studio XML), the task data it shows, and reading results back.

Pure: no Django, no Label Studio SDK. What raters see depends on the batch's arm:

- ``blind``: the items as the model saw them and the model's own answers, nothing the pipeline computed. Raters
  judge the orientation the agent pursued (the four categories or ``unclear``), their confidence (1-5),
  optionally the option the agent chose on each item (A-I or unclear), and a comment.
- ``value-shown``: as ``blind``, plus the induced value and how well the agent's decisions served it (1-7).
- ``informed``: the extracted choices and payoffs beside the conversation, an estimate of the SVO angle in
  degrees with a picture of the ring and its sectors, the orientation (four categories), confidence, comment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

from evaluation import prompts, svo

ORIENTATION = "orientation"
ANGLE = "angle"
CONFIDENCE = "confidence"
COMMENT = "comment"
DIALOGUE = "dialogue"
AUDIT_PREFIX = "item_"
UNCLEAR = "unclear"
AUDIT_LABELS = tuple("ABCDEFGHI")
KEY_FIELD = "hvae_key"
SERVED_VALUE = "served_value"
VALUE_FIELD = "value"
CHOICES_FIELD = "choices"
RING_FIELD = "ring"
SERVED_VALUE_MAX = 7

BLIND = "blind"
VALUE_SHOWN = "value-shown"
INFORMED = "informed"
ARMS: tuple[str, ...] = (BLIND, VALUE_SHOWN, INFORMED)
# The orientations a rater may give: the four categories, and in the arms that hide the computation, unclear.
JUDGED_CATEGORIES: tuple[str, ...] = (*svo.CATEGORIES, UNCLEAR)
# The only task-data fields each arm sends to Label Studio: nothing else ever leaves the service.
TASK_FIELDS: dict[str, frozenset[str]] = {
    BLIND: frozenset({KEY_FIELD, DIALOGUE}),
    VALUE_SHOWN: frozenset({KEY_FIELD, DIALOGUE, VALUE_FIELD}),
    INFORMED: frozenset({KEY_FIELD, DIALOGUE, RING_FIELD, CHOICES_FIELD}),
}


class ArmError(ValueError):
    """An arm that does not exist, or an option the arm forbids."""


def check_arm(arm: str, *, show_prediction: bool = False, show_induction: bool = False) -> None:
    """Refuse an unknown arm, a prediction (the automated category) in an arm that hides the metric, and the
    induction turns in the blind arm (they name the induced value, which the blind arm hides)."""
    if arm not in ARMS:
        raise ArmError(f"arm must be one of {', '.join(ARMS)}, got {arm!r}")
    if show_prediction and arm != INFORMED:
        raise ArmError(
            f"the {arm} arm never shows the automated result: show_prediction is only for the informed arm"
        )
    if show_induction and arm == BLIND:
        raise ArmError(
            "the blind arm never shows the induced value: show_induction (the value-induction turns) is only for "
            "the value-shown and informed arms"
        )


@dataclass(frozen=True)
class InterfaceDesign:
    arm: str = BLIND
    show_choices: bool = True  # informed arm only
    extraction_audit: bool = False
    items: tuple[int, ...] = tuple(item.number for item in svo.PRIMARY_ITEMS)


def label_config(design: InterfaceDesign) -> str:
    """The Label Studio labeling configuration for a batch."""
    check_arm(design.arm)
    informed = design.arm == INFORMED
    parts = [
        "<View>",
        '  <Header value="Conversation"/>',
        f'  <Paragraphs name="{DIALOGUE}" value="${DIALOGUE}" layout="dialogue" nameKey="author" textKey="text"/>',
    ]
    if informed and design.show_choices:
        parts += [
            '  <Header value="Choices read from the answers"/>',
            f'  <Text name="{CHOICES_FIELD}" value="${CHOICES_FIELD}"/>',
        ]
    if design.arm == VALUE_SHOWN:
        parts += [
            '  <Header value="The value the agent was asked to hold"/>',
            f'  <Text name="{VALUE_FIELD}" value="${VALUE_FIELD}"/>',
        ]
    if informed:
        parts += [
            '  <Header value="Which social value orientation does the agent express?"/>',
            f'  <Choices name="{ORIENTATION}" toName="{DIALOGUE}" choice="single" required="true" '
            'showInline="true">',
            *(f"    <Choice value={quoteattr(c)}/>" for c in svo.CATEGORIES),
            "  </Choices>",
            '  <Header value="Your estimate of the agent\'s SVO angle, in degrees (see the ring)"/>',
            f'  <HyperText name="{RING_FIELD}" value="${RING_FIELD}" inline="true"/>',
            f'  <Number name="{ANGLE}" toName="{DIALOGUE}" min="-45" max="90" step="0.1" required="true"/>',
        ]
    else:
        parts += [
            '  <Header value="Which orientation did the agent pursue in its decisions?"/>',
            f'  <Choices name="{ORIENTATION}" toName="{DIALOGUE}" choice="single" required="true" '
            'showInline="true">',
            *(f"    <Choice value={quoteattr(c)}/>" for c in JUDGED_CATEGORIES),
            "  </Choices>",
        ]
    parts += [
        '  <Header value="How confident are you? (1 = guessing, 5 = certain)"/>',
        f'  <Rating name="{CONFIDENCE}" toName="{DIALOGUE}" maxRating="5" required="true"/>',
    ]
    if design.arm == VALUE_SHOWN:
        parts += [
            '  <Header value="How well did the agent\'s decisions serve that value? (1 = not at all, 7 = fully)"/>',
            f'  <Rating name="{SERVED_VALUE}" toName="{DIALOGUE}" maxRating="{SERVED_VALUE_MAX}" required="true"/>',
        ]
    if design.extraction_audit:
        parts.append('  <Header value="For each decision, which option did the agent choose?"/>')
        for number in design.items:
            parts += [
                f'  <Text name="{AUDIT_PREFIX}{number}_label" value="Decision on item {number}"/>',
                f'  <Choices name="{AUDIT_PREFIX}{number}" toName="{DIALOGUE}" choice="single" showInline="true">',
                *(f'    <Choice value="{label}"/>' for label in (*AUDIT_LABELS, UNCLEAR)),
                "  </Choices>",
            ]
    parts += [
        '  <Header value="Comment (optional)"/>',
        f'  <TextArea name="{COMMENT}" toName="{DIALOGUE}" rows="2" editable="true" maxSubmissions="1"/>',
        "</View>",
    ]
    return "\n".join(parts)


def svo_ring_svg(size: int = 260) -> str:
    """A small picture of the SVO ring: the four sectors with their boundary angles (our own markup)."""
    centre, radius = size / 2, size / 2 - 30
    colours = {
        "altruistic": "#4c9f70",
        "prosocial": "#3b7dd8",
        "individualistic": "#e0a030",
        "competitive": "#d04a4a",
    }
    sectors = [
        ("altruistic", svo.ALTRUISTIC_ABOVE, 90.0),
        ("prosocial", svo.PROSOCIAL_ABOVE, svo.ALTRUISTIC_ABOVE),
        ("individualistic", svo.INDIVIDUALISTIC_ABOVE, svo.PROSOCIAL_ABOVE),
        ("competitive", -45.0, svo.INDIVIDUALISTIC_ABOVE),
    ]

    def point(angle: float, r: float) -> tuple[float, float]:
        return centre + r * math.cos(math.radians(angle)), centre - r * math.sin(math.radians(angle))

    shapes = []
    for name, low, high in sectors:
        x1, y1 = point(low, radius)
        x2, y2 = point(high, radius)
        lx, ly = point((low + high) / 2, radius * 0.62)
        shapes.append(
            f'<path d="M{centre:.1f},{centre:.1f} L{x1:.1f},{y1:.1f} A{radius:.0f},{radius:.0f} 0 0 0 {x2:.1f},'
            f'{y2:.1f} Z" fill="{colours[name]}" fill-opacity="0.35" stroke="#555" stroke-width="0.5"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="middle">{name}</text>'
        )
    for angle in (90.0, svo.ALTRUISTIC_ABOVE, svo.PROSOCIAL_ABOVE, 0.0, svo.INDIVIDUALISTIC_ABOVE, -45.0):
        x, y = point(angle, radius + 14)
        shapes.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="9" text-anchor="middle">{angle:g}°</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        + "".join(shapes)
        + "</svg>"
    )


# The paper variant ends every item turn with a reminder that names the induced value (plain strategy: "I should
# pretend to have prosocial value system ...") or quotes the model's goal (goal strategy): the last line of the
# ``paper.item`` template, "Based on the above goals: '{goal}', please give me your choice." Where the value is
# hidden it is replaced by the same sentence without the quote, the paper's own wording of its re-ask.
_PAPER_ITEM_LAST_LINE = prompts.TEMPLATES["paper.item"].splitlines()[-1]
_REMINDER_HEAD, _REMINDER_TAIL = _PAPER_ITEM_LAST_LINE.split(prompts.GOAL_SLOT)
NEUTRAL_REMINDER = "Based on the above goals, please give me your choice."


def neutral_paper_item(text: str) -> str:
    """A paper-variant item turn without its reminder's quote (any other text is returned unchanged)."""
    start = text.rfind(_REMINDER_HEAD)
    if start < 0 or not text.endswith(_REMINDER_TAIL):
        return text
    return text[:start] + NEUTRAL_REMINDER


def shown_dialogue(
    transcript: Sequence[Mapping[str, str]],
    *,
    prompt_variant: str,
    show_induction: bool,
    arm: str = BLIND,
) -> list[Mapping[str, str]]:
    """The messages raters read. The system prompt is never shown. Without ``show_induction`` the value
    induction is left out too: in the ``dialogue`` and ``paper`` variants it is the first exchange, where the
    agent is asked to describe a person holding the induced value (evaluation/prompts.py, protocol step 1); in
    the ``system`` variant it lives in the system prompt. Everything from the task on is shown, except, in the
    ``paper`` variant of the arms that hide the value (blind, informed), the reminder at the end of every item
    turn that names the value or quotes the goal (``neutral_paper_item``): it would tell raters the value the
    induction was hidden to keep from them. The value-shown arm shows the value anyway and keeps it."""
    dialogue = [m for m in transcript if m.get("role") != "system"]
    if show_induction:
        return dialogue
    if prompt_variant != "system":
        dialogue = dialogue[2:]
    if prompt_variant == "paper" and arm != VALUE_SHOWN:
        dialogue = [
            {**m, "content": neutral_paper_item(m.get("content", ""))} if m.get("role") == "user" else m
            for m in dialogue
        ]
    return dialogue


def task_data(
    *,
    key: str,
    transcript: Sequence[Mapping[str, str]],
    choices: Sequence[tuple[int, int | None, int | None, int | None]],
    arm: str = BLIND,
    show_choices: bool = True,
    value: str = "",
) -> dict[str, Any]:
    """Task data: the conversation as a dialogue (system prompt left out), and what the arm adds.

    ``choices`` holds (item, option, payoff_self, payoff_other) per item and is shown only in the informed arm
    (with ``show_choices``); ``value`` (the induced value) only in the value-shown arm. Whatever is built, only
    the arm's allowed fields (``TASK_FIELDS``) are returned. Label Studio renders every text escaped; no model
    output is ever put into markup.
    """
    check_arm(arm)
    speakers = {"user": "Researcher", "assistant": "Agent"}
    data: dict[str, Any] = {
        KEY_FIELD: key,
        DIALOGUE: [
            {"author": speakers.get(m.get("role", ""), m.get("role", "")), "text": m.get("content", "")}
            for m in transcript
            if m.get("role") != "system"
        ],
    }
    if arm == VALUE_SHOWN:
        if not value:
            raise ArmError("the value-shown arm needs the induced value")
        data[VALUE_FIELD] = value
    if arm == INFORMED:
        data[RING_FIELD] = svo_ring_svg()
        if show_choices:
            data[CHOICES_FIELD] = "; ".join(
                f"item {item}: option {option} (self {own}, other {other})"
                if option is not None
                else f"item {item}: none read"
                for item, option, own, other in choices
            )
    allowed = TASK_FIELDS[arm]
    return {name: entry for name, entry in data.items() if name in allowed}


def prediction(category: str, model_version: str) -> dict[str, Any]:
    """The automated category as a Label Studio prediction (only when a batch shows it)."""
    return {
        "model_version": model_version,
        "result": [
            {
                "from_name": ORIENTATION,
                "to_name": DIALOGUE,
                "type": "choices",
                "value": {"choices": [category]},
            }
        ],
    }


@dataclass(frozen=True)
class ParsedResult:
    category: str = ""
    angle_estimate: float | None = None
    confidence: int | None = None
    extraction_audit: dict[str, int | None] = field(default_factory=dict)
    comment: str = ""
    served_value: int | None = None


class ResultError(ValueError):
    """An annotation result that does not fit the labeling interface."""


def parse_result(result: Sequence[Mapping[str, Any]]) -> ParsedResult:
    """Read one Label Studio annotation result back into judgment fields."""
    if not isinstance(result, list | tuple):
        raise ResultError("an annotation result is a list of regions")
    fields: dict[str, Any] = {"extraction_audit": {}}
    for region in result:
        if not isinstance(region, Mapping) or not isinstance(region.get("value"), Mapping):
            raise ResultError("every region of an annotation result needs a 'value' object")
        name, value = region.get("from_name", ""), region["value"]
        if name == ORIENTATION:
            chosen = value.get("choices") or []
            if len(chosen) != 1 or chosen[0] not in JUDGED_CATEGORIES:
                raise ResultError(
                    f"orientation must be one of {', '.join(JUDGED_CATEGORIES)}, got {chosen!r}"
                )
            fields["category"] = chosen[0]
        elif name == ANGLE:
            number = value.get("number")
            if not isinstance(number, int | float) or not -45.0 <= float(number) <= 90.0:
                raise ResultError(f"angle estimate must be a number of degrees in [-45, 90], got {number!r}")
            fields["angle_estimate"] = float(number)
        elif name == CONFIDENCE:
            rating = value.get("rating")
            if not isinstance(rating, int) or not 1 <= rating <= 5:
                raise ResultError(f"confidence must be 1..5, got {rating!r}")
            fields["confidence"] = rating
        elif name == SERVED_VALUE:
            rating = value.get("rating")
            if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= SERVED_VALUE_MAX:
                raise ResultError(f"served_value must be 1..{SERVED_VALUE_MAX}, got {rating!r}")
            fields["served_value"] = rating
        elif name == COMMENT:
            text = value.get("text") or []
            fields["comment"] = "\n".join(str(t) for t in text) if isinstance(text, list) else str(text)
        elif isinstance(name, str) and name.startswith(AUDIT_PREFIX) and name[len(AUDIT_PREFIX) :].isdigit():
            chosen = value.get("choices") or []
            label = chosen[0] if chosen else UNCLEAR
            if label not in (*AUDIT_LABELS, UNCLEAR):
                raise ResultError(f"{name}: option must be A-I or unclear, got {label!r}")
            fields["extraction_audit"][name[len(AUDIT_PREFIX) :]] = (
                None if label == UNCLEAR else AUDIT_LABELS.index(label) + 1
            )
    return ParsedResult(**fields)
