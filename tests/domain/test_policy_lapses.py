"""The lapse watch names the figure a place will be without, before cases start waiting on it."""

from __future__ import annotations

import datetime as dt

from domain import workdays
from domain.policy.lapses import arrangement_lapses, contribution_base_lapse, lapses


def test_a_base_ending_within_the_horizon_with_no_successor_is_lapsing() -> None:
    lapse = contribution_base_lapse("上海", dt.date(2026, 6, 1))
    assert lapse is not None
    assert (lapse.status, lapse.place, lapse.missing_from) == ("lapsing", "shanghai", dt.date(2026, 7, 1))
    assert "上海" in lapse.title and "2026-07-01" in lapse.title


def test_a_base_far_from_its_end_or_with_a_successor_is_not_reported() -> None:
    assert contribution_base_lapse("Shanghai", dt.date(2026, 3, 1)) is None  # 4 months ahead
    # Beijing's 2025 year ends 2026-06-30 but its 2026 year follows: nothing to enter
    assert contribution_base_lapse("北京", dt.date(2026, 6, 1)) is None


def test_a_base_already_gone_is_missing_from_the_day_after_the_last_one_ended() -> None:
    for today in (dt.date(2026, 12, 2), dt.date(2027, 1, 5)):  # the same gap, whatever day it is seen
        lapse = contribution_base_lapse("上海市", today)
        assert lapse is not None and (lapse.status, lapse.missing_from) == ("missing", dt.date(2026, 7, 1))
        assert lapse.key == "contribution_base:shanghai:2026-07-01"


def test_unknown_cities_are_not_a_lapse() -> None:
    assert contribution_base_lapse("Atlantis", dt.date(2026, 12, 2)) is None


def test_next_years_holiday_arrangement_is_watched_from_november() -> None:
    year = max(workdays.known_years()) + 1  # the first year the calendar does not hold
    assert arrangement_lapses(dt.date(year - 1, 10, 31)) == []
    november = arrangement_lapses(dt.date(year - 1, 11, 1))
    assert [(x.figure, x.missing_from, x.status) for x in november] == [
        ("holiday_arrangement", dt.date(year, 1, 1), "lapsing")]
    assert [x.status for x in arrangement_lapses(dt.date(year, 2, 1))] == ["missing"]


def test_lapses_are_one_per_figure_and_place_whatever_the_spelling() -> None:
    found = lapses(["上海", "Shanghai", "上海市", "北京"], dt.date(2026, 6, 1))
    assert [(x.figure, x.place) for x in found if x.figure == "contribution_base"] == [
        ("contribution_base", "shanghai")]
    assert len({x.key for x in found}) == len(found)


def test_a_city_never_given_a_base_keeps_one_key() -> None:
    lapse = contribution_base_lapse("西安", dt.date(2026, 12, 2))
    assert lapse is not None and lapse.missing_from is None and lapse.key == "contribution_base:xian:never"
    assert "从未收录" in lapse.title
