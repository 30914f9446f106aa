"""Which refusals the outbox answers by sending the message again without a block."""

from __future__ import annotations

from typing import Any

from alerts.blocks import OPTIONAL_BLOCK_ID
from bot.slack.outbox.optional_blocks import without_refused
from bot.slack.outbox.refusals import error_label

SECTION: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": "P0"}}
IMAGE: dict[str, Any] = {"type": "image", "image_url": "http://grafana/x.png", "alt_text": "x"}


def test_an_image_slack_could_not_download_is_left_out_and_nothing_else() -> None:
    blocks = [SECTION, IMAGE, {"type": "divider"}]
    errors = ["downloading image failed [json-pointer:/blocks/1/image_url]"]
    assert without_refused(blocks, errors) == ([SECTION, {"type": "divider"}], ["image"])


def test_a_section_s_image_accessory_goes_the_section_stays() -> None:
    with_accessory = {**SECTION, "accessory": IMAGE}
    errors = ["downloading image failed [json-pointer:/blocks/0/accessory/image_url]"]
    assert without_refused([with_accessory], errors) == ([SECTION], ["image"])


def test_a_block_marked_optional_may_go_a_required_one_may_not() -> None:
    optional = {**SECTION, "block_id": f"{OPTIONAL_BLOCK_ID}links"}
    too_long = "must be less than 3001 characters [json-pointer:/blocks/{}/text/text]"
    assert without_refused([SECTION, optional], [too_long.format(1)]) == ([SECTION], ["optional"])
    # The alert itself is never cut: the refusal stands.
    assert without_refused([SECTION, optional], [too_long.format(0)]) is None
    assert without_refused([SECTION, IMAGE], [too_long.format(0), too_long.format(1)]) is None
    assert without_refused([SECTION], ["no pointer at all"]) is None
    assert without_refused([SECTION], []) is None
    assert without_refused([SECTION], ["x [json-pointer:/blocks/7/text]"]) is None


def test_slack_error_labels_are_bounded() -> None:
    assert error_label("invalid_blocks") == "invalid_blocks"
    assert error_label("made_up_" + "x" * 500) == "other"
    assert error_label(None) == "other"
