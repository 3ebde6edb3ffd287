"""``hrflow policy show`` answers for every province and each of the 36 largest cities, on any
date: a figure, or a refusal that names the missing notice and how to enter it (never a crash,
never "unknown province")."""

from __future__ import annotations

import argparse

import pytest

from domain.policy import load_catalogue
from domain.policy.regions import PROVINCES
from hrflow import policy_cli

CITIES_36 = ["北京", "天津", "上海", "重庆", "石家庄", "太原", "呼和浩特", "沈阳", "长春", "哈尔滨", "南京", "杭州",
             "合肥", "福州", "南昌", "济南", "郑州", "武汉", "长沙", "广州", "南宁", "海口", "成都", "贵阳", "昆明",
             "拉萨", "西安", "兰州", "西宁", "银川", "乌鲁木齐", "大连", "青岛", "宁波", "厦门", "深圳"]
DATES = ["2016-03-01", "2026-12-02", "2031-07-01"]
HOW = "POST /policy/notices"


def _show(capsys, kind: str, region: str, on: str) -> tuple[int, str]:
    args = argparse.Namespace(policy_command="show", kind=kind, region=region, on=on, to=None, type=None,
                              shipped_only=True)
    code = policy_cli.run(args)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("on", DATES)
def test_every_province_answers_maternity_leave_and_deadlines(capsys, on: str) -> None:
    for name_zh in (zh for _, zh, _ in PROVINCES.values()):
        code, text = _show(capsys, "maternity-leave", name_zh, on)  # national law is the floor
        assert code == 0 and '"national_rule"' in text, f"maternity {name_zh} {on}: {text[:300]}"
        code, text = _show(capsys, "deadlines", name_zh, on)
        assert code == 0, f"national deadlines apply in {name_zh} on {on}: {text[:300]}"


@pytest.mark.parametrize("on", DATES)
def test_each_of_the_36_cities_gives_a_base_or_names_the_notice_to_enter(capsys, on: str) -> None:
    cat = load_catalogue()
    for city in CITIES_36:
        cat.city(city)  # every one of them is in the catalogue, with its province
        code, text = _show(capsys, "contribution", city, on)
        assert code == 0 or (code == 2 and HOW in text and "缺少" in text), f"{city} {on}: {text[:300]}"
    code, text = _show(capsys, "contribution", "北京", "2026-12-02")
    assert code == 0 and '"floor": "7270' in text
