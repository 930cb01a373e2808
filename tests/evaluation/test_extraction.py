"""The answer parser on answers to real prompts: every phrasing family, both label styles, several orders.

Options are built the way the runner builds them (``prompts.present_items``, ``render_options``), so a label's
display position and the allocation shown there differ from the canonical option unless the order is fixed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import extraction, prompts, svo

PRESENTATIONS = [
    pytest.param(labels, order, item, id=f"{labels}-{order}-item{item.number}")
    for labels in ("letters", "numbers")
    for order in ("fixed", "reversed", "random")
    for item in (svo.PRIMARY_ITEMS[0], svo.SECONDARY_ITEMS[4])
]
N = svo.OPTIONS_PER_ITEM


def present(labels: str, order: str, item: svo.Item, seed: int = 11) -> prompts.PresentedItem:
    return prompts.present_items([item], labels=labels, order=order, trial_seed=seed)[0]


def allocations(shown: prompts.PresentedItem) -> list[tuple[int, int]]:
    return [shown.item.allocation(option) for option in shown.order]


def parse(text: str, shown: prompts.PresentedItem) -> extraction.Extraction:
    return extraction.parse_choice(text, labels=shown.labels, allocations=allocations(shown))


def option_line(shown: prompts.PresentedItem, position: int) -> str:
    return prompts.render_options(shown).splitlines()[position]


def fill(template: str, shown: prompts.PresentedItem, position: int, **extra: str) -> str:
    own, other = allocations(shown)[position]
    line = option_line(shown, position)
    return template.format(label=shown.labels[position], own=own, other=other, line=line, **extra)


def assert_chose(result: extraction.Extraction, position: int, text: str) -> None:
    assert (result.position, result.method) == (position, "parser"), f"{text!r} -> {result}"
    assert result.detail


def assert_unparseable(result: extraction.Extraction, text: str, detail: str = "") -> None:
    assert (result.position, result.method) == (None, "unparseable"), f"{text!r} -> {result}"
    assert result.detail.startswith(detail), f"{text!r} -> {result}"


LABEL_PHRASINGS = [
    "{label}",
    "{label}.",
    "({label})",
    "{label})",
    "**{label}**",
    "`{label}`",
    "Option {label}",
    "option {label}",
    "I choose {label}",
    "I choose {label}.",
    "I'd go with option {label} because it is the fairest split.",
    "My choice: {label}",
    "Answer: {label}",
    "Final answer: {label}",
    "**Final answer:** {label}",
    "My final answer is **{label}**.",
    "I pick {line}",
    "{line}",
    "{label} — it's the fairest",
    "{label}: it balances both outcomes.",
    "After weighing both payoffs, I will take option {label}.",
    "As someone who values fairness, I would select {label}, since it balances our outcomes.",
    "I opt for {label}.",
    "Let's go with {label}.",
    "My decision is {label}",
    "\\boxed{{{label}}}",
    "I choose option {label}.\n\n{line}\n\nThis gives both of us a good outcome.",
    "Decision 3 of 6: I choose {label}.",
    "I'll go for {label}.",
    "{label} is my choice.",
    "I'd rather choose {label} than any other option.",
    "Option {label}'s split is the one I want.",
    "# Answer\n\n**{label}**",
]


@pytest.mark.parametrize("template", LABEL_PHRASINGS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_label_phrasings(template: str, labels: str, order: str, item: svo.Item) -> None:
    shown = present(labels, order, item)
    for position in range(N):
        text = fill(template, shown, position)
        assert_chose(parse(text, shown), position, text)


ORDINAL_PHRASINGS = [
    ("the first option", 0),
    ("The first one.", 0),
    ("the 2nd option", 1),
    ("the third one", 2),
    ("I choose the third option.", 2),
    ("I'll go with the middle option.", 4),
    ("the middle one", 4),
    ("I'd pick the second-to-last option", 7),
    ("The second to last one, please.", 7),
    ("I'll take the penultimate one", 7),
    ("the last one", 8),
    ("I would choose the very last option because it is the most generous.", 8),
]


@pytest.mark.parametrize(("text", "position"), ORDINAL_PHRASINGS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_ordinals_count_display_positions(
    text: str, position: int, labels: str, order: str, item: svo.Item
) -> None:
    assert_chose(parse(text, present(labels, order, item)), position, text)


ALLOCATION_PHRASINGS = [
    "({own}, {other})",
    "({own},{other})",
    "{own}/{other}",
    "{own} / {other} split",
    "{own} for me and {other} for the other person",
    "{own} points for me, {other} points to them",
    "I receive {own} and the other person receives {other}",
    "I'd get {own} and they'd get {other}.",
    "The other person gets {other} and I get {own}.",
    "You receive {own}, the other person receives {other}",
    "I choose ({own}, {other}).",
    "I'd go with the option where I receive {own} and the other person receives {other}.",
]


@pytest.mark.parametrize("template", ALLOCATION_PHRASINGS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_allocation_phrasings(template: str, labels: str, order: str, item: svo.Item) -> None:
    shown = present(labels, order, item)
    for position in range(N):
        text = fill(template, shown, position)
        result = parse(text, shown)
        assert_chose(result, position, text)
        assert "allocation" in result.detail


@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_allocation_of_no_option_is_unparseable_with_reason(labels: str, order: str, item: svo.Item) -> None:
    shown = present(labels, order, item)
    for text in ("(1, 2)", "I choose (99, 98).", "I receive 12 and the other person receives 13"):
        assert_unparseable(parse(text, shown), text, "allocation")
        assert "matches no option" in parse(text, shown).detail


DECISION_WINS = [
    "Option {other_label} gives the other person more, but I choose {label}.",
    "An individualist would choose {other_label}, but I choose {label}.",
    "Options {other_label} and {third_label} are tempting. My final answer is {label}.",
    "I would not choose {other_label}. I pick {label}.",
    "Between ({other_own}, {other_other}) and option {label}, I'll go with {label}.",
    "Answer: {label}\n\n{line}",
    "I choose {label}.\n\n{line}\n\nOption {other_label} would be too selfish.",
]


@pytest.mark.parametrize("template", DECISION_WINS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_explicit_decision_wins_over_mentions(template: str, labels: str, order: str, item: svo.Item) -> None:
    shown = present(labels, order, item)
    for position in range(N):
        other, third = (position + 3) % N, (position + 5) % N
        other_own, other_other = allocations(shown)[other]
        text = fill(
            template,
            shown,
            position,
            other_label=shown.labels[other],
            third_label=shown.labels[third],
            other_own=str(other_own),
            other_other=str(other_other),
        )
        result = parse(text, shown)
        assert_chose(result, position, text)
        assert result.detail.startswith("explicit")


AMBIGUOUS = [
    "Option {label} or option {other_label}.",
    "Options {label} and {other_label} are both fine choices.",
    "I choose {label}. Actually, I choose {other_label}.",
    "My answer: {label} or {other_label}",
    "I'd go with {label} or {other_label}.",
    "I choose {label}.\n\n{other_line}",
    "I choose {label} ({other_own}, {other_other}).",
    "{label_paren} You receive {other_own}, the other person receives {other_other}",
    "I would not choose {label}; option {other_label} is better.",
    "the first option or the last one",
]


@pytest.mark.parametrize("template", AMBIGUOUS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_ambiguity_is_unparseable_never_a_wrong_answer(
    template: str, labels: str, order: str, item: svo.Item
) -> None:
    shown = present(labels, order, item)
    for position in range(N):
        other = (position + 4) % N
        other_own, other_other = allocations(shown)[other]
        text = fill(
            template,
            shown,
            position,
            other_label=shown.labels[other],
            other_line=option_line(shown, other),
            other_own=str(other_own),
            other_other=str(other_other),
            label_paren=f"{shown.labels[position]})",
        )
        assert_unparseable(parse(text, shown), text, "ambiguous")


UNRECOGNISED_OR_AMBIGUOUS = [
    "{label} or {other_label}",
    "{label} and {other_label} are both fine choices.",
    "Maybe {label}? Or {other_label}? Hard to say.",
    "{label}. {other_label} is also fine.",
    "Option {label} would be generous, but option {other_label} is fair.",
    "I'm torn between {label} and {other_label}.",
]


@pytest.mark.parametrize("template", UNRECOGNISED_OR_AMBIGUOUS)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_unclear_answers_never_name_a_single_option_wrongly(
    template: str, labels: str, order: str, item: svo.Item
) -> None:
    shown = present(labels, order, item)
    for position in range(N):
        other = (position + 4) % N
        text = fill(template, shown, position, other_label=shown.labels[other])
        assert parse(text, shown).position in (None, position), text


@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_echo_of_all_options_without_a_decision_is_ambiguous(labels: str, order: str, item: svo.Item) -> None:
    shown = present(labels, order, item)
    text = f"Options:\n{prompts.render_options(shown)}\nAll of them have merit."
    assert_unparseable(parse(text, shown), text, "ambiguous")
    decided = f"{text}\nI choose {shown.labels[5]}."
    assert_chose(parse(decided, shown), 5, decided)


REFUSALS = [
    "I cannot make this choice.",
    "As an AI, I don't have personal preferences about money.",
    "I'm sorry, but I can't help with dividing money between people.",
    "I refuse to pick an option here.",
    "I am unable to decide for someone else.",
]


@pytest.mark.parametrize("text", REFUSALS)
@pytest.mark.parametrize("labels", ["letters", "numbers"])
def test_refusals(text: str, labels: str) -> None:
    assert_unparseable(parse(text, present(labels, "random", svo.PRIMARY_ITEMS[2])), text, "refusal")


NO_OPTION = [
    "",
    "   \n  ",
    "Hmm, that is a hard one.",
    "I think fairness matters most to me.",
    "I would like both of us to do well.",
    "A fair split is what I want.",
    "I, as an altruist, want the other person to be happy.",
    "I think it depends on who the other person is.",
    "Decision 3 of 6. I care about what the other person receives.",
    "I get 85 points, which is 9 more than the other person.",
    "I choose a balanced option.",
    "Which option do I choose? That is the question.",
]


@pytest.mark.parametrize("text", NO_OPTION)
@pytest.mark.parametrize(("labels", "order", "item"), PRESENTATIONS)
def test_words_pronouns_and_payoff_numbers_are_not_options(
    text: str, labels: str, order: str, item: svo.Item
) -> None:
    assert_unparseable(parse(text, present(labels, order, item)), text, "no option found")


def test_pronoun_i_is_not_label_i_but_can_be_chosen() -> None:
    shown = present("letters", "fixed", svo.PRIMARY_ITEMS[0])
    for text, position in [
        ("I choose C", 2),
        ("I choose I", 8),
        ("The option I choose is C.", 2),
        ("I think I'd go with option I because it is the most generous.", 8),
        ("I", 8),
    ]:
        assert_chose(parse(text, shown), position, text)


def test_uncertain_labels_block_other_options_but_are_never_the_answer() -> None:
    shown = present("letters", "fixed", svo.PRIMARY_ITEMS[0])
    for text in (
        "Option I would give the other little.",
        "Option I would give the other little, but option D is fair.",
    ):
        assert_unparseable(parse(text, shown), text)
    assert_unparseable(parse("Options A-I are all possible.", shown), "A-I", "ambiguous: A, I")
    assert_chose(parse("The option I would pick is D.", shown), 3, "the option I would pick")
    for text in ("**I** think option B is best.", "I choose A for fairness. Option B is worse."):
        assert_unparseable(parse(text, shown), text, "ambiguous: A" if "A" in text else "ambiguous: B, I")
    numbers = present("numbers", "fixed", svo.PRIMARY_ITEMS[0])
    text = "I'd take 5 fewer points if it helps the other person."
    assert_unparseable(parse(text, numbers), text, "uncertain label '5'")


def test_number_labels_ignore_decision_numbering_and_payoffs() -> None:
    shown = present("numbers", "reversed", svo.PRIMARY_ITEMS[3])
    own, other = allocations(shown)[6]
    for text, position in [
        ("Decision 3 of 6: I choose 5.", 4),
        (f"Decision 4 of 6.\n\n7) You receive {own}, the other person receives {other}", 6),
        (f"I get {own} points and the other person gets {other}, so option 7.", 6),
        ("There are 9 options; I choose 2.", 1),
    ]:
        assert_chose(parse(text, shown), position, text)


def test_letter_labels_do_not_read_numbers_and_vice_versa() -> None:
    letters = present("letters", "fixed", svo.PRIMARY_ITEMS[0])
    numbers = present("numbers", "fixed", svo.PRIMARY_ITEMS[0])
    assert_unparseable(parse("I pick option 3", letters), "I pick option 3", "unknown label '3'")
    assert_unparseable(parse("Option C", numbers), "Option C", "unknown label 'C'")
    assert_unparseable(parse("Option 10", numbers), "Option 10", "unknown label '10'")


def test_reasoning_block_is_skipped_when_an_answer_follows() -> None:
    shown = present("letters", "random", svo.PRIMARY_ITEMS[1])
    assert_chose(parse("<think>I choose A? Or B?</think>\nAnswer: D", shown), 3, "think")
    assert_chose(parse("<think>Only thoughts, then: I choose E</think>", shown), 4, "think only")


def test_mismatched_labels_and_allocations_are_rejected() -> None:
    with pytest.raises(ValueError, match="9 labels but 8 allocations"):
        extraction.parse_choice("A", labels=list("ABCDEFGHI"), allocations=[(1, 2)] * 8)


EXTRACTOR_REPLIES = [
    ("letters", "C", 2),
    ("letters", "C.", 2),
    ("letters", "(C)", 2),
    ("letters", "**C**", 2),
    ("letters", "Option C", 2),
    ("letters", "option c", 2),
    ("letters", "c", 2),
    ("letters", "The answer is C.", 2),
    ("letters", "Answer: C", 2),
    ("letters", "C) You receive 85, the other person receives 68", 2),
    ("letters", "A", 0),
    ("letters", "I", 8),
    ("letters", " I \n", 8),
    ("letters", "NONE", None),
    ("letters", "**NONE**", None),
    ("letters", "None.", None),
    ("letters", "C. The answer chose C, not option A.", 2),
    ("letters", "I think it is C", None),
    ("letters", "None", None),
    ("letters", "none of the options", None),
    ("letters", "N/A", None),
    ("letters", "", None),
    ("letters", "B or D", None),
    ("letters", "B, D", None),
    ("letters", "J", None),
    ("letters", "3", None),
    ("letters", "I think the answer chose no option", None),
    ("numbers", "3", 2),
    ("numbers", "Option 3", 2),
    ("numbers", "3.", 2),
    ("numbers", "9", 8),
    ("numbers", "NONE", None),
    ("numbers", "10", None),
    ("numbers", "C", None),
    ("numbers", "2 or 5", None),
]


@pytest.mark.parametrize(("labels", "reply", "position"), EXTRACTOR_REPLIES)
def test_parse_extractor_reply(labels: str, reply: str, position: int | None) -> None:
    assert extraction.parse_extractor_reply(reply, labels=prompts.option_labels(labels)) == position


TEMPLATES = [*LABEL_PHRASINGS, *ALLOCATION_PHRASINGS]
VOCABULARY = (
    "I a A the other person fair fairness think want more less points money both of us me it is was and but "
    "because would like to be good better best so then equal split happy outcome share 85 100 50 76"
)
DECISION_VOCABULARY = "option choose pick select answer choice my final the one go with I'd take decision"
WORDS = VOCABULARY.split()
INTRODUCERS = DECISION_VOCABULARY.split()
item_strategy = st.sampled_from(svo.ALL_ITEMS)
style_strategy = st.sampled_from(["letters", "numbers"])
order_strategy = st.permutations(range(1, N + 1)).map(tuple)


@given(item_strategy, style_strategy, order_strategy, st.integers(0, N - 1), st.sampled_from(TEMPLATES))
def test_property_answers_from_templates_parse_to_their_position(
    item: svo.Item, style: str, order: tuple[int, ...], position: int, template: str
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    text = fill(template, shown, position)
    assert_chose(parse(text, shown), position, text)


@given(
    item_strategy, style_strategy, order_strategy, st.lists(st.sampled_from(WORDS), min_size=3, max_size=30)
)
def test_property_words_without_option_references_are_unparseable(
    item: svo.Item, style: str, order: tuple[int, ...], words: list[str]
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    text = " ".join(words) + "."
    assert parse(text, shown).position is None


@given(
    item_strategy,
    style_strategy,
    order_strategy,
    st.lists(st.sampled_from([w for w in WORDS if w not in ("I", "a", "A")] + INTRODUCERS), max_size=30),
)
def test_property_decision_words_without_a_label_are_unparseable(
    item: svo.Item, style: str, order: tuple[int, ...], words: list[str]
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    text = " ".join(words)
    assert parse(text, shown).position is None


@given(item_strategy, style_strategy, order_strategy, st.text(max_size=300))
def test_property_any_text_gives_a_consistent_result(
    item: svo.Item, style: str, order: tuple[int, ...], text: str
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    result = parse(text, shown)
    assert (result.position is None) == (result.method == "unparseable")
    assert result.position is None or 0 <= result.position < N
    assert result.detail
    assert extraction.parse_extractor_reply(text, labels=shown.labels) in (None, *range(N))


DISTRACTORS = [
    "Option {label} gives the other person more.",
    "An individualist would pick {label}.",
    "I would not choose {label}.",
    "({own}, {other}) would be too selfish.",
    "{ordinal} option is tempting.",
    "Options {label} and {next_label} are close.",
    "I considered **{label}** for a while.",
]
DECISIONS = [
    "I choose {label}.",
    "My final answer is {label}.",
    "Answer: {label}.",
    "So I'll go with option {label}.",
    "I pick ({own}, {other}).",
    "{label} is my choice.",
]
ORDINAL_WORDS = ["first", "second", "third", "fourth", "middle", "sixth", "seventh", "second-to-last", "last"]


def distractor(shown: prompts.PresentedItem, template: str, position: int) -> str:
    ordinal = f"The {ORDINAL_WORDS[position]}"
    next_label = shown.labels[(position + 1) % N]
    return fill(template, shown, position, ordinal=ordinal, next_label=next_label)


@given(
    item_strategy,
    style_strategy,
    order_strategy,
    st.integers(0, N - 1),
    st.sampled_from(DECISIONS),
    st.lists(st.tuples(st.sampled_from(DISTRACTORS), st.integers(0, N - 1)), max_size=3),
    st.randoms(use_true_random=False),
)
def test_property_a_decision_among_distractors_is_read_exactly(
    item: svo.Item,
    style: str,
    order: tuple[int, ...],
    position: int,
    decision: str,
    distractors: list[tuple[str, int]],
    rng,
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    sentences = [distractor(shown, template, other) for template, other in distractors]
    sentences.insert(rng.randint(0, len(sentences)), fill(decision, shown, position))
    text = rng.choice([" ", "\n", "\n\n"]).join(sentences)
    assert_chose(parse(text, shown), position, text)


@given(
    item_strategy,
    style_strategy,
    order_strategy,
    st.lists(st.sampled_from(DISTRACTORS), min_size=2, max_size=2),
    st.lists(st.integers(0, N - 1), min_size=2, max_size=2, unique=True),
)
def test_property_mentions_of_two_options_without_a_decision_are_never_read_as_one(
    item: svo.Item, style: str, order: tuple[int, ...], templates: list[str], positions: list[int]
) -> None:
    shown = prompts.PresentedItem(item, order, prompts.option_labels(style))
    text = " ".join(distractor(shown, t, p) for t, p in zip(templates, positions, strict=True))
    assert parse(text, shown).position is None, text
