from __future__ import annotations

import xml.etree.ElementTree as ET  # parses only the XML our own code generates

import pytest

from annotation import labeling
from tests.annotation.factories import annotation


def test_informed_interface_has_orientation_angle_with_ring_confidence_and_comment() -> None:
    config = labeling.label_config(labeling.InterfaceDesign(arm="informed"))
    root = ET.fromstring(config)  # noqa: S314

    orientation = root.find("Choices[@name='orientation']")
    assert orientation is not None
    assert [c.get("value") for c in orientation] == [
        "altruistic",
        "prosocial",
        "individualistic",
        "competitive",
    ]
    angle = root.find("Number[@name='angle']")
    assert angle is not None
    assert (angle.get("min"), angle.get("max")) == ("-45", "90")
    assert root.find("HyperText[@name='ring']") is not None
    rating = root.find("Rating[@name='confidence']")
    assert rating is not None
    assert rating.get("maxRating") == "5"
    assert root.find("TextArea[@name='comment']") is not None
    assert root.find("Paragraphs[@name='dialogue']") is not None
    assert root.find("Text[@name='choices']") is not None
    assert root.find("Choices[@name='item_1']") is None


def test_extraction_audit_adds_a_through_i_or_unclear_per_item_and_choices_can_be_hidden() -> None:
    design = labeling.InterfaceDesign(
        arm="informed", show_choices=False, extraction_audit=True, items=(1, 2, 7)
    )
    root = ET.fromstring(labeling.label_config(design))  # noqa: S314

    assert root.find("Text[@name='choices']") is None
    for number in (1, 2, 7):
        item = root.find(f"Choices[@name='item_{number}']")
        assert item is not None
        assert [c.get("value") for c in item] == [*"ABCDEFGHI", "unclear"]


def test_informed_task_data_is_the_dialogue_without_the_system_prompt() -> None:
    data = labeling.task_data(
        arm="informed",
        key="k1",
        transcript=[
            {"role": "system", "content": "secret instructions"},
            {"role": "user", "content": "Choose"},
            {"role": "assistant", "content": "<b>C</b>"},
        ],
        choices=[(1, 3, 85, 76), (2, None, None, None)],
        show_choices=True,
    )

    assert data["hvae_key"] == "k1"
    assert data["dialogue"] == [
        {"author": "Researcher", "text": "Choose"},
        {"author": "Agent", "text": "<b>C</b>"},
    ]
    assert data["choices"] == "item 1: option 3 (self 85, other 76); item 2: none read"
    assert data["ring"].startswith("<svg")
    assert "prosocial" in data["ring"]
    hidden = labeling.task_data(
        arm="informed", key="k1", transcript=[], choices=[(1, 3, 85, 76)], show_choices=False
    )
    assert "choices" not in hidden


def test_ring_marks_the_category_boundaries() -> None:
    svg = labeling.svo_ring_svg()
    assert ET.fromstring(svg).tag.endswith("svg")  # noqa: S314
    for label in ("57.15°", "22.45°", "-12.04°", "altruistic", "competitive"):
        assert label in svg


def test_prediction_carries_the_automated_category() -> None:
    prediction = labeling.prediction("competitive", "svo-2011")
    assert prediction["model_version"] == "svo-2011"
    assert prediction["result"][0]["value"] == {"choices": ["competitive"]}


def test_result_is_read_back_into_judgment_fields() -> None:
    audit = [
        {"from_name": "item_1", "to_name": "dialogue", "type": "choices", "value": {"choices": ["C"]}},
        {"from_name": "item_2", "to_name": "dialogue", "type": "choices", "value": {"choices": ["unclear"]}},
    ]
    raw = annotation(1, category="competitive", angle=-20, confidence=2, comment="hmm", extra=audit)
    parsed = labeling.parse_result(raw["result"])

    assert parsed == labeling.ParsedResult(
        category="competitive",
        angle_estimate=-20.0,
        confidence=2,
        extraction_audit={"1": 3, "2": None},
        comment="hmm",
    )


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ({"from_name": "orientation", "value": {"choices": ["selfish"]}}, "orientation must be one of"),
        ({"from_name": "angle", "value": {"number": 200}}, r"in \[-45, 90\]"),
        ({"from_name": "confidence", "value": {"rating": 9}}, "confidence must be 1..5"),
        ({"from_name": "item_3", "value": {"choices": ["Z"]}}, "A-I or unclear"),
        ({"from_name": "orientation"}, "needs a 'value' object"),
    ],
)
def test_results_that_do_not_fit_the_interface_are_refused(region: dict, message: str) -> None:
    with pytest.raises(labeling.ResultError, match=message):
        labeling.parse_result([region])


def test_the_value_induction_is_hidden_unless_the_batch_shows_it() -> None:
    transcript = [
        {"role": "system", "content": "You are a participant."},
        {"role": "user", "content": "Describe a person with an altruistic social value orientation."},
        {"role": "assistant", "content": "Someone altruistic ..."},
        {"role": "user", "content": "Act as that person. Decision 1 of 6 ..."},
        {"role": "assistant", "content": "A"},
    ]

    hidden = labeling.shown_dialogue(transcript, prompt_variant="dialogue", show_induction=False)
    shown = labeling.shown_dialogue(transcript, prompt_variant="dialogue", show_induction=True)
    in_system = labeling.shown_dialogue(
        transcript[:1] + transcript[3:], prompt_variant="system", show_induction=False
    )

    assert [m["content"] for m in hidden] == ["Act as that person. Decision 1 of 6 ...", "A"]
    assert len(shown) == 4
    assert in_system == hidden
