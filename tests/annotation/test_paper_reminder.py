"""The paper variant's item reminder names the induced value (plain) or quotes the model's goal (goal): raters of
the arms that hide the value read it neutralised. Transcripts are built as the runner builds them, from the
paper's templates (evaluation/prompts.py) and a reference agent's replies."""

from __future__ import annotations

import re

import pytest

from annotation import labeling
from evaluation import prompts, svo
from evaluation.reference_llm import agents

VALUE_WORD = re.compile(r"\b(" + "|".join(svo.VALUES) + r")\b", re.I)


def paper_transcript(value: str, strategy: str, *, goal_reply: str | None = None) -> list[dict[str, str]]:
    """The conversation of one paper-variant trial, turn by turn as evaluation/runner.py sends it."""
    presented = prompts.present_items(svo.PRIMARY_ITEMS, labels="letters", order="random", trial_seed=7)
    plan = prompts.plan_conversation(value=value, strategy=strategy, variant="paper", presented=presented)
    messages: list[dict[str, str]] = []

    def ask(content: str, reply: str | None = None) -> str:
        messages.append({"role": "user", "content": content})
        text = reply or agents.respond("ref-faithful", messages, seed=3).text
        messages.append({"role": "assistant", "content": text})
        return text

    assert plan.description_request is not None
    ask(plan.description_request)
    messages.append(
        {"role": "user", "content": plan.task_preamble}
    )  # the pretend turn, answered with the next
    goal = ask(plan.goal_request, goal_reply) if plan.goal_request else None
    for number in range(len(presented)):
        ask(plan.item_request(number, goal))
    return messages


@pytest.mark.parametrize("strategy", ["plain", "goal"])
@pytest.mark.parametrize("value", svo.VALUES)
@pytest.mark.parametrize("arm", [labeling.BLIND, labeling.INFORMED])
def test_arms_that_hide_the_value_show_paper_items_without_the_reminder(
    value: str, strategy: str, arm: str
) -> None:
    # A goal reply that names the value, as a real model's often does: the reminder would quote it six times.
    goal_reply = f"As a {value} person, my goal is to choose what a {value} person would choose."
    transcript = paper_transcript(value, strategy, goal_reply=goal_reply)
    items = [
        m["content"] for m in transcript if m["role"] == "user" and m["content"].startswith("This is the ")
    ]
    assert len(items) == 6
    assert all(VALUE_WORD.search(text) for text in items)  # what raters would otherwise read

    shown = labeling.shown_dialogue(transcript, prompt_variant="paper", show_induction=False, arm=arm)

    shown_items = [
        m["content"] for m in shown if m["role"] == "user" and m["content"].startswith("This is the ")
    ]
    assert len(shown_items) == 6
    for original, text in zip(items, shown_items, strict=True):
        assert text.endswith(labeling.NEUTRAL_REMINDER)
        assert "Based on the above goals: '" not in text
        assert (
            text.removesuffix(labeling.NEUTRAL_REMINDER)
            == original[: original.rfind("Based on the above goals")]
        )
        assert "A: " in text  # the options stay
        assert "I: " in text
    user_turns = [m["content"] for m in shown if m["role"] == "user"]
    assert not any(VALUE_WORD.search(text) for text in user_turns)
    # The agent's own words are shown as they were (its goal statement included, as in the other variants).
    assert [m["content"] for m in shown if m["role"] == "assistant"] == [
        m["content"] for m in transcript[2:] if m["role"] == "assistant"
    ]


def test_plain_reminder_names_the_value_and_the_value_shown_arm_and_a_shown_induction_keep_it() -> None:
    transcript = paper_transcript("competitive", "plain")
    reminder = "I should pretend to have competitive value system"
    assert sum(reminder in m["content"] for m in transcript) == 6

    value_shown = labeling.shown_dialogue(
        transcript, prompt_variant="paper", show_induction=False, arm=labeling.VALUE_SHOWN
    )
    assert value_shown == transcript[2:]
    induced = labeling.shown_dialogue(
        transcript, prompt_variant="paper", show_induction=True, arm=labeling.BLIND
    )
    assert induced == transcript
    blind = labeling.shown_dialogue(
        transcript, prompt_variant="paper", show_induction=False, arm=labeling.BLIND
    )
    assert not any(reminder in m["content"] for m in blind)
    assert len(blind) == len(transcript) - 2


def test_other_variants_are_shown_as_before() -> None:
    dialogue = [
        {"role": "system", "content": "You are a participant."},
        {"role": "user", "content": "Describe a person with a prosocial social value orientation."},
        {"role": "assistant", "content": "A prosocial person ..."},
        {"role": "user", "content": "Based on the above goals: 'x', please give me your choice."},
        {"role": "assistant", "content": "B"},
    ]
    assert labeling.shown_dialogue(dialogue, prompt_variant="dialogue", show_induction=False) == dialogue[3:]
    assert labeling.shown_dialogue(dialogue, prompt_variant="system", show_induction=False) == dialogue[1:]
    assert labeling.neutral_paper_item("no reminder here") == "no reminder here"
