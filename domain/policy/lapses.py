"""Lapse watch: the figures the places where employees are insured will soon be without.

A contribution base is valid for one contribution year (most cities July to June) and the next
year's notice often appears weeks after the old one lapses; the State Council publishes next
year's holiday arrangement each November. Until an admin enters the new notice, every enrollment
change in that city is refused and every deadline in that year is provisional. This module says,
for a day and a set of cities, which figure is missing or will be within the horizon, so the daily
sweep can give HR admins a task before cases start waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from domain import workdays
from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.errors import PolicyError

HORIZON_DAYS = 45  # warn this long before a base lapses
ARRANGEMENT_WATCH_FROM_MONTH = 11  # next year's holiday notice is due from November

Figure = Literal["contribution_base", "holiday_arrangement"]
HOW_TO_ENTER = "管理员通过 POST /policy/notices 录入并由另一位管理员审批 (an admin enters it through POST /policy/notices; a second admin approves it)"


@dataclass(frozen=True)
class Lapse:
    """One figure a place is (or will be) without, from ``missing_from``: the first day no
    version covers (``None``: no version was ever entered), so the same gap keeps one key."""

    figure: Figure
    place: str  # city code, or "national" for the calendar
    place_zh: str
    missing_from: dt.date | None
    status: Literal["missing", "lapsing"]

    @property
    def key(self) -> str:
        """Stable for one lapse: the task and reminder dedupe on it."""
        return f"{self.figure}:{self.place}:{self.missing_from.isoformat() if self.missing_from else 'never'}"

    @property
    def title(self) -> str:
        year = self.missing_from.year if self.missing_from else ""
        what = {"contribution_base": f"{self.place_zh} 社保缴费基数上下限",
                "holiday_arrangement": f"{year} 年节假日安排"}[self.figure]
        en = {"contribution_base": f"contribution base limits for {self.place}",
              "holiday_arrangement": f"the {year} holiday arrangement"}[self.figure]
        if self.missing_from is None:
            return f"录入{what}（目录中从未收录）(enter {en}: never in the catalogue)"
        when = "已缺失" if self.status == "missing" else "即将失效"
        return f"录入{what}（自 {self.missing_from} 起{when}）(enter {en}, {self.status} from {self.missing_from})"


def contribution_base_lapse(city: str, today: dt.date, *, horizon_days: int = HORIZON_DAYS,
                            catalogue: Catalogue | None = None) -> Lapse | None:
    """The city's base: none in force today (missing), or the one in force ends within the horizon
    with no successor (lapsing); ``None`` when covered or the city is not in the catalogue."""
    cat = catalogue or load_catalogue()
    try:
        region, town = cat.city(city)
    except PolicyError:
        return None
    rule = cat.find(region.code, "contribution_bases", today, (town.code,))
    if rule is None:
        ended = [r.effective_to for r in cat.rules(region.code, "contribution_bases")
                 if r.scope() == (town.code,) and r.effective_to is not None and r.effective_to < today]
        since = max(ended) + dt.timedelta(days=1) if ended else None
        return Lapse("contribution_base", town.code, town.name_zh, since, "missing")
    if rule.effective_to is None or (rule.effective_to - today).days > horizon_days:
        return None
    after = rule.effective_to + dt.timedelta(days=1)
    if cat.find(region.code, "contribution_bases", after, (town.code,)) is not None:
        return None
    return Lapse("contribution_base", town.code, town.name_zh, after, "lapsing")


def arrangement_lapses(today: dt.date) -> list[Lapse]:
    """This year's arrangement if unknown; next year's from November."""
    years = [today.year] + ([today.year + 1] if today.month >= ARRANGEMENT_WATCH_FROM_MONTH else [])
    return [Lapse("holiday_arrangement", "national", "全国", dt.date(year, 1, 1),
                  "missing" if year == today.year else "lapsing")
            for year in years if not workdays.is_arrangement_known(year)]


def lapses(cities: Iterable[str], today: dt.date, *, horizon_days: int = HORIZON_DAYS,
           catalogue: Catalogue | None = None) -> list[Lapse]:
    """Every lapse for the cities where employees are insured, and the calendar's, sorted."""
    cat = catalogue or load_catalogue()
    found = {lapse.key: lapse for city in set(cities)
             if (lapse := contribution_base_lapse(city, today, horizon_days=horizon_days, catalogue=cat))}
    found.update({lapse.key: lapse for lapse in arrangement_lapses(today)})
    return sorted(found.values(), key=lambda x: (x.missing_from or dt.date.min, x.figure, x.place))
