"""The reference agents: dispositions, phrasing, and the OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import math
import random
from collections import Counter

import httpx
import pytest

from evaluation import extraction, prompts, svo
from evaluation.reference_llm import agents, phrasing
from evaluation.reference_llm.server import ServerConfig, start_in_thread


def conversation(value: str, item: svo.Item, *, order: str = "fixed", goal: bool = False, seed: int = 1):
    presented = prompts.present_items([item], labels="letters", order=order, trial_seed=seed)
    plan = prompts.plan_conversation(
        value=value, strategy="goal" if goal else "plain", variant="dialogue", presented=presented
    )
    messages = [{"role": "system", "content": plan.system}]
    messages += [
        {"role": "user", "content": plan.description_request or ""},
        {"role": "assistant", "content": "."},
    ]
    if plan.goal_request:
        messages += [{"role": "user", "content": plan.goal_request}, {"role": "assistant", "content": "."}]
    messages.append({"role": "user", "content": plan.item_requests[0]})
    return presented[0], messages


@pytest.mark.parametrize("value", svo.VALUES)
@pytest.mark.parametrize("item", svo.ALL_ITEMS, ids=lambda i: f"item{i.number}")
def test_faithful_agent_answers_as_the_ideal_agent_of_its_value(value: str, item: svo.Item) -> None:
    # Definitions hvae-svo/2: the optimal end of the slider, the middle option where the item is uninformative.
    presented, messages = conversation(value, item, order="random")
    reply = agents.respond("ref-faithful", messages, seed=3)
    assert reply.kind == "decision"
    assert reply.value == value
    assert reply.allocation is not None
    chosen = item.options.index(reply.allocation) + 1
    assert chosen in svo.optimal_options(value, item)
    assert chosen == svo.ideal_choices(value, [item])[0]
    assert reply.label == presented.label_of(chosen)


@pytest.mark.parametrize("seed", range(5))
def test_faithful_prosocial_agent_takes_the_equal_split_on_item_5(seed: int) -> None:
    for temperature in (0.0, 1.0):
        _, messages = conversation("prosocial", svo.ITEMS_BY_NUMBER[5], order="random", seed=seed)
        reply = agents.respond("ref-faithful", messages, seed=seed, temperature=temperature)
        assert reply.allocation == (75, 75)


@pytest.mark.parametrize("order", ["fixed", "reversed", "random"])
@pytest.mark.parametrize("item", svo.ALL_ITEMS, ids=lambda i: f"item{i.number}")
def test_agents_place_displayed_options_on_the_exact_slider(item: svo.Item, order: str) -> None:
    presented = prompts.present_items([item], labels="letters", order=order, trial_seed=7)[0]
    options = [agents.Option(str(n), *item.allocation(n)) for n in presented.order]
    positions = agents.slider_positions(options)
    from_first = [(n - 1) / 8 for n in presented.order]
    assert positions in (from_first, [1 - t for t in from_first])


def test_sampling_above_temperature_0_follows_the_exact_slider_regret() -> None:
    # Prosocial on item 5 was the rounding artefact; on item 3 (A to P) the regret of option k is (9 - k) / 8.
    item = svo.ITEMS_BY_NUMBER[3]
    options = [agents.Option(str(n), *item.allocation(n)) for n in range(1, 10)]
    rng = random.Random(0)
    counts = Counter(agents.choose(options, 45.0, 1.0, rng) + 1 for _ in range(20000))
    weights = {k: math.exp(-(9 - k) / 8 / 0.15) for k in range(1, 10)}
    total = sum(weights.values())
    for k in (9, 8, 7):
        assert counts[k] / 20000 == pytest.approx(weights[k] / total, abs=0.015)
    assert counts[9] > counts[8] > counts[7] > counts[5]


def test_canonical_option_tells_items_5_and_13_apart() -> None:
    # Items 5 and 13 offer the same allocations in opposite directions.
    assert set(svo.ITEMS_BY_NUMBER[5].options) == set(svo.ITEMS_BY_NUMBER[13].options)
    for number in (5, 13):
        item = svo.ITEMS_BY_NUMBER[number]
        options = [agents.Option(str(k), *allocation) for k, allocation in enumerate(item.options, start=1)]
        assert agents.canonical_option(options, 0, number) == 1
    item5 = svo.ITEMS_BY_NUMBER[5]
    options = [agents.Option(str(k), *allocation) for k, allocation in enumerate(item5.options, start=1)]
    assert agents.canonical_option(options, 0, None) is None


def test_stubborn_agent_is_individualistic_whatever_it_is_told() -> None:
    for value in svo.VALUES:
        choices = []
        for item in svo.PRIMARY_ITEMS:
            _, messages = conversation(value, item)
            reply = agents.respond("ref-stubborn", messages, seed=0)
            assert reply.allocation is not None
            choices.append(reply.allocation)
        assert svo.score_primary(choices).category == "individualistic"


def test_prosocial_drift_is_weaker_after_a_goal_statement() -> None:
    plain = agents.direction("ref-prosocial-drift", "competitive", goal=False)
    goal = agents.direction("ref-prosocial-drift", "competitive", goal=True)
    assert plain is not None
    assert goal is not None
    assert -45 < goal < plain < 45


def test_random_agent_covers_the_options_uniformly() -> None:
    item = svo.ITEMS_BY_NUMBER[1]
    counts: Counter[tuple[int, int] | None] = Counter()
    for seed in range(900):
        _, messages = conversation("prosocial", item)
        counts[agents.respond("ref-random", messages, seed=seed).allocation] += 1
    assert set(counts) == set(item.options)
    assert all(60 <= n <= 140 for n in counts.values()), counts


def test_same_request_same_reply_and_seed_changes_it() -> None:
    _, messages = conversation("altruistic", svo.ITEMS_BY_NUMBER[2])
    first = agents.respond("ref-random", messages, seed=11)
    assert agents.respond("ref-random", messages, seed=11) == first
    replies = {agents.respond("ref-random", messages, seed=s).text for s in range(20)}
    assert len(replies) > 1


def test_description_and_goal_turns_get_plausible_text() -> None:
    description = agents.respond(
        "ref-faithful", [{"role": "user", "content": "Describe a person with a competitive orientation."}]
    )
    assert description.kind == "description"
    assert description.value == "competitive"
    assert description.text in phrasing.DESCRIPTIONS["competitive"]
    goal = agents.respond(
        "ref-faithful",
        [
            {"role": "system", "content": "You hold an altruistic value."},
            {"role": "user", "content": "In one sentence, what do you want to achieve in this task?"},
        ],
    )
    assert goal.kind == "goal"
    assert goal.text == phrasing.GOALS["altruistic"]


@pytest.mark.parametrize("n", [0, 7, 15, 19, 20, 33, 50, 76, 99, 100, 101, 150, 199])
def test_number_words_round_trip(n: int) -> None:
    assert phrasing.words_to_digits(f"I get {phrasing.number_words(n)} points") == f"I get {n} points"


@pytest.mark.parametrize("labels", ["letters", "numbers"])
def test_parser_is_never_wrong_and_the_extractor_recovers_the_rest(labels: str) -> None:
    rng = random.Random(5)
    parsed = recovered = 0
    for seed in range(120):
        for shown in prompts.present_items(svo.ALL_ITEMS, labels=labels, order="random", trial_seed=seed):
            position = rng.randrange(9)
            own, other = shown.item.allocation(shown.order[position])
            text = phrasing.decision_text(
                phrasing.Shown(shown.labels[position], position, 9, own, other), rng.choice(svo.VALUES), rng
            )
            allocations = [shown.item.allocation(o) for o in shown.order]
            found = extraction.parse_choice(text, labels=shown.labels, allocations=allocations)
            if found.position is not None:
                assert found.position == position, text
                parsed += 1
                continue
            reply = agents.extract(prompts.extraction_messages(shown, text)[0]["content"])
            assert reply == shown.labels[position], text
            recovered += 1
    assert recovered > 0, "some phrasings must need the extractor"
    assert parsed > 20 * recovered


def test_extractor_says_none_when_no_option_is_named() -> None:
    shown = prompts.present_items(svo.PRIMARY_ITEMS, labels="letters", order="fixed", trial_seed=0)[0]
    prompt = prompts.extraction_messages(shown, "I would rather not take part.")[0]["content"]
    assert agents.respond("ref-extractor", [{"role": "user", "content": prompt}]).text == "NONE"


# --- the server over HTTP --------------------------------------------------------------------------------


def test_server_lists_the_profiles(reference_server: str) -> None:
    listed = httpx.get(f"{reference_server}/models").json()
    assert [m["id"] for m in listed["data"]] == list(agents.PROFILES)


def test_decision_reply_carries_the_truth_in_headers(reference_server: str) -> None:
    _, messages = conversation("competitive", svo.ITEMS_BY_NUMBER[4])
    response = httpx.post(
        f"{reference_server}/chat/completions",
        json={"model": "ref-faithful", "messages": messages, "seed": 1},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "ref-faithful"
    assert body["system_fingerprint"] == agents.FINGERPRINT
    assert body["usage"]["prompt_tokens"] > 0
    assert response.headers["x-reference-option"] == "9"
    assert response.headers["x-reference-allocation"] == "85,15"
    assert response.headers["x-reference-value"] == "competitive"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"model": "gpt-unknown", "messages": [{"role": "user", "content": "hi"}]}, 404),
        ({"model": "ref-faithful", "messages": []}, 400),
        ({"model": "ref-faithful", "messages": [{"role": "user"}]}, 400),
        ({"model": "ref-faithful", "messages": [{"role": "user", "content": "x"}], "stream": True}, 400),
        (
            {"model": "ref-faithful", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
            400,
        ),
        ([1, 2], 400),
    ],
)
def test_bad_requests_get_openai_style_errors(reference_server: str, payload, status: int) -> None:
    response = httpx.post(f"{reference_server}/chat/completions", json=payload)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_injected_faults_come_at_their_rates() -> None:
    config = ServerConfig(
        port=0, rate_500=0.2, rate_429=0.1, retry_after=2.5, rate_malformed=0.1, fault_seed=9
    )
    statuses: Counter[str] = Counter()
    with start_in_thread(config) as server, httpx.Client() as client:
        for _ in range(400):
            response = client.post(
                f"{server.base_url}/chat/completions",
                json={"model": "ref-random", "messages": [{"role": "user", "content": "hello"}]},
            )
            if response.status_code == 429:
                assert response.headers["retry-after"] == "2.5"
            kind = str(response.status_code)
            if response.status_code == 200:
                try:
                    response.json()
                except ValueError:
                    kind = "malformed"
            statuses[kind] += 1
    assert 50 <= statuses["500"] <= 110
    assert 20 <= statuses["429"] <= 60
    assert 20 <= statuses["malformed"] <= 60
    assert statuses["200"] == 400 - statuses["500"] - statuses["429"] - statuses["malformed"]


def test_a_taken_port_is_a_clear_error(reference_server: str) -> None:
    port = int(reference_server.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
        start_in_thread(ServerConfig(port=port))


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="fault rates"):
        ServerConfig(rate_500=0.7, rate_429=0.5)


def paper_conversation(
    value: str, item: svo.Item, *, order: str = "fixed", goal: bool = False, seed: int = 1
):
    """The paper's conversation up to one item, as the runner sends it (no system message)."""
    presented = prompts.present_items(svo.PRIMARY_ITEMS, labels="letters", order=order, trial_seed=seed)
    plan = prompts.plan_conversation(
        value=value, strategy="goal" if goal else "plain", variant="paper", presented=presented
    )
    messages = [
        {"role": "user", "content": plan.description_request or ""},
        {"role": "assistant", "content": "."},
        {"role": "user", "content": plan.task_preamble},
    ]
    goal_text = None
    if plan.goal_request:
        goal_text = agents.respond(
            "ref-faithful", [*messages, {"role": "user", "content": plan.goal_request}]
        ).text
        messages += [
            {"role": "user", "content": plan.goal_request},
            {"role": "assistant", "content": goal_text},
        ]
    index = item.number - 1
    messages.append({"role": "user", "content": plan.item_request(index, goal_text)})
    return presented[index], messages


@pytest.mark.parametrize("value", svo.VALUES)
def test_agents_follow_the_papers_conversation(value: str) -> None:
    presented = prompts.present_items(svo.PRIMARY_ITEMS, labels="letters", order="fixed", trial_seed=1)
    plan = prompts.plan_conversation(value=value, strategy="goal", variant="paper", presented=presented)
    description = agents.respond(
        "ref-faithful", [{"role": "user", "content": plan.description_request or ""}]
    )
    assert (description.kind, description.value) == ("description", value)  # "hyper-competitive" included
    asked = [
        {"role": "user", "content": plan.description_request or ""},
        {"role": "assistant", "content": description.text},
        {"role": "user", "content": plan.task_preamble},
        {"role": "user", "content": plan.goal_request or ""},
    ]
    goal = agents.respond("ref-faithful", asked)
    assert (goal.kind, goal.value) == ("goal", value)
    for item in svo.PRIMARY_ITEMS:
        shown, messages = paper_conversation(value, item, goal=True)
        reply = agents.respond("ref-faithful", messages, seed=2, temperature=1.0)
        assert reply.kind == "decision"
        assert reply.option in svo.optimal_options(value, item)  # the paper's "A: 85, 85" lines are read
        assert reply.label == shown.label_of(reply.option)


def test_the_papers_fifth_question_is_item_5_not_item_13() -> None:
    _, messages = paper_conversation("prosocial", svo.ITEMS_BY_NUMBER[5])
    assert agents.decision_number(messages[-1]["content"]) == 5
    assert agents.respond("ref-random", messages, seed=1).option is not None


def test_asked_again_the_agent_restates_its_choice() -> None:
    _, messages = conversation("altruistic", svo.ITEMS_BY_NUMBER[3], order="random")
    made = agents.respond("ref-prosocial-drift", messages, seed=5, temperature=1.0, unreadable_rate=1.0)
    allocations = [svo.ITEMS_BY_NUMBER[3].allocation(o) for o in range(1, 10)]
    assert extraction.parse_choice(
        made.text, labels=prompts.option_labels("letters"), allocations=allocations
    )
    messages += [
        {"role": "assistant", "content": made.text},
        {"role": "user", "content": prompts.TEMPLATES["reask"]},
    ]
    again = agents.respond("ref-prosocial-drift", messages, seed=5, temperature=1.0, unreadable_rate=1.0)
    assert again.kind == "restatement"
    assert (again.label, again.option, again.allocation) == (made.label, made.option, made.allocation)
    assert again.text == f"Sorry, that was unclear. I choose option {made.label}."
    messages[-1] = {"role": "user", "content": prompts.TEMPLATES["paper.reask"]}
    assert agents.respond(
        "ref-prosocial-drift", messages, seed=5, temperature=1.0, unreadable_rate=1.0
    ).text == (made.label)


def test_unreadable_rate_words_decisions_for_an_extractor_only() -> None:
    item = svo.ITEMS_BY_NUMBER[2]
    allocations = [item.allocation(o) for o in range(1, 10)]
    for seed in range(40):
        _, messages = conversation("individualistic", item, seed=seed)
        reply = agents.respond("ref-faithful", messages, seed=seed, unreadable_rate=1.0)
        parsed = extraction.parse_choice(
            reply.text, labels=prompts.option_labels("letters"), allocations=allocations
        )
        assert parsed.position is None, reply.text
        assert reply.option == 9  # the choice itself is unchanged
    with pytest.raises(ValueError, match="unreadable rate"):
        ServerConfig(unreadable_rate=1.5)


def test_faithful_agent_is_value_optimal_at_any_temperature() -> None:
    for seed in range(30):
        for item in svo.PRIMARY_ITEMS:
            _, messages = conversation("competitive", item, order="random", seed=seed)
            reply = agents.respond("ref-faithful", messages, seed=seed, temperature=2.0)
            assert reply.allocation is not None
            assert item.option_of(reply.allocation) in svo.optimal_options("competitive", item)


def test_position_biased_agent_takes_the_first_option_at_its_documented_rate() -> None:
    first = value_led = 0
    n = 0
    for seed in range(400):
        for item in svo.PRIMARY_ITEMS:
            shown, messages = conversation("individualistic", item, order="random", seed=seed)
            if shown.order[0] in svo.optimal_options("individualistic", item):
                continue  # the first option is also the value's choice: not telling
            reply = agents.respond("ref-position-biased", messages, seed=seed, temperature=1.0)
            n += 1
            if reply.label == shown.labels[0]:
                first += 1
            else:
                assert reply.allocation is not None
                value_led += item.option_of(reply.allocation) in svo.optimal_options("individualistic", item)
    share = first / n
    p = agents.POSITION_BIAS_PROBABILITY
    assert abs(share - p) < 4 * (p * (1 - p) / n) ** 0.5, (share, n)
    assert value_led == n - first, "otherwise it decides like ref-faithful"
    assert "0.3" in agents.PROFILES["ref-position-biased"].summary


def test_a_request_without_temperature_is_answered_at_the_openai_default(reference_server: str) -> None:
    differs = 0
    for seed in range(12):
        _, messages = conversation("competitive", svo.ITEMS_BY_NUMBER[4], seed=seed)
        response = httpx.post(
            f"{reference_server}/chat/completions",
            json={"model": "ref-prosocial-drift", "messages": messages, "seed": seed},
        )
        at_default = agents.respond("ref-prosocial-drift", messages, seed=seed, temperature=1.0)
        assert response.json()["choices"][0]["message"]["content"] == at_default.text
        assert response.headers["x-reference-option"] == str(at_default.option)
        at_zero = agents.respond("ref-prosocial-drift", messages, seed=seed, temperature=0.0)
        differs += at_zero.option != at_default.option
    assert differs, "temperature 1 samples, temperature 0 does not"
