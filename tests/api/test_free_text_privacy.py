"""Numbers typed into free text (a reason, a note) are masked before anything stores them."""

from __future__ import annotations

import pytest

from api.bodies import OptionalReasonIn, ReasonIn
from domain.privacy import scrub_free_text


@pytest.mark.parametrize(("typed", "kept"), [
    ("本人身份证 110105194912310021，电话 13812345678", "本人身份证 110105********0021，电话 138****5678"),
    ("X 结尾 11010519491231002X", "X 结尾 110105********002X"),
    ("+86 13912345678 或 86-15012345678", "+86 139****5678 或 86-150****5678"),
    ("回执号 3101-2026-118842，金额 12000.00 元", "回执号 3101-2026-118842，金额 12000.00 元"),  # not a phone or an ID
    ("账号 1381234567890（13 位）不是手机号", "账号 1381234567890（13 位）不是手机号"),
    ("12345678901 以 12 开头不是手机号", "12345678901 以 12 开头不是手机号"),
])
def test_id_and_mobile_numbers_are_masked(typed: str, kept: str) -> None:
    assert scrub_free_text(typed) == kept


def test_every_reason_a_body_carries_is_masked() -> None:
    assert ReasonIn(reason=" 电话 13812345678 ").reason == "电话 138****5678"
    assert OptionalReasonIn(reason="13812345678").reason == "138****5678"
    assert OptionalReasonIn().reason is None
