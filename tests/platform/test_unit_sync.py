"""The organisation kept in step with the HR master system's export: its units under the import's
rules, parents first, all or nothing; a newcomer head waits for the employee sync; then the
employees, placed in the units the master just added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import AuditEvent, OrgUnit
from domain.roles import Role
from tests.platform.test_employee_sync import person

SYNCER = "mgr.wang"
UNITS = [{"code": "SH-SALES", "name": "上海销售部", "kind": "department", "parent_code": "SH",
          "head_employee_id": "E1"},
         {"code": "SH", "name": "上海分公司", "kind": "branch", "parent_code": "CO", "si_city": "Shanghai"},
         {"code": "CO", "name": "演示科技有限公司", "kind": "entity", "si_city": "Beijing"}]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return tmp_path / "hr-master.json"


@pytest.fixture
def settings(settings, export: Path):
    return settings.model_copy(update={"hr_master_export": export})


def write(export: Path, units: list[dict], *people: dict) -> None:
    export.write_text(json.dumps({"source": "北森 每日导出", "exported_at": "2026-12-03T02:00:00+08:00",
                                  "units": units, "employees": list(people)}, ensure_ascii=False), encoding="utf-8")


async def sync(api, auth, what: str, *, dry_run: bool = False):
    return await api.post(f"/{what}/sync", params={"dry_run": str(dry_run).lower()},
                          headers=auth(Role.HR_MANAGER, SYNCER))


def tree(session_factory) -> dict[str, tuple[str | None, str | None, bool]]:
    with session_factory() as s:
        return {u.code: (u.parent_code, u.head_employee_id, u.active) for u in s.scalars(select(OrgUnit))}


async def test_units_then_employees_then_the_heads(api, auth, session_factory, export) -> None:
    write(export, UNITS, person("E1", 1, unit_code="SH-SALES"))
    r = await sync(api, auth, "org-units", dry_run=True)
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["applied"], r.json()["problems"]) == (["CO", "SH", "SH-SALES"], False, [])
    assert tree(session_factory) == {}
    r = await sync(api, auth, "org-units")
    assert r.status_code == 200 and r.json()["applied"], r.text
    assert any("E1" in n and "尚未登记" in n for n in r.json()["notes"])  # her head is not registered yet
    assert tree(session_factory) == {"CO": (None, None, True), "SH": ("CO", None, True),
                                     "SH-SALES": ("SH", None, True)}
    r = await sync(api, auth, "employees")
    assert r.status_code == 200 and r.json()["registered"] == ["E1"], r.text  # into a unit the master just added
    r = await sync(api, auth, "org-units")
    assert r.status_code == 200 and (r.json()["changed"], r.json()["notes"]) == (["SH-SALES"], []), r.text
    assert tree(session_factory)["SH-SALES"] == ("SH", "E1", True)
    r = await sync(api, auth, "org-units")
    assert r.json()["changed"] == []  # nothing differs: nothing written, nothing audited
    with session_factory() as s:
        assert list(s.scalars(select(AuditEvent.action).where(AuditEvent.action == "org_unit.saved"))).count(
            "org_unit.saved") == 4


async def test_a_closed_unit_stays_inactive_and_a_bad_export_changes_nothing(api, auth, session_factory,
                                                                           export) -> None:
    write(export, UNITS[1:])
    assert (await sync(api, auth, "org-units")).status_code == 200
    write(export, [UNITS[2], UNITS[1] | {"status": "closed"},
                   {"code": "GZ", "name": "广州分公司", "kind": "branch", "parent_code": "CO"},  # no city
                   {"code": "X", "name": "某部", "kind": "department", "parent_code": "GZ"},
                   {"code": "Y", "name": "某部", "kind": "department", "parent_code": "CO", "status": "gone"}])
    r = await sync(api, auth, "org-units")
    assert r.status_code == 422, r.text
    assert {(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]} == {
        (3, "si_city", "missing"), (4, "parent_code", "parent_row_refused"), (5, "status", "status_known")}
    assert tree(session_factory)["SH"] == ("CO", None, True)  # nothing changed, not even the closing
    write(export, [UNITS[2], UNITS[1] | {"status": "closed"}])
    r = await sync(api, auth, "org-units")
    assert r.status_code == 200 and r.json()["changed"] == ["SH"], r.text
    assert tree(session_factory)["SH"] == ("CO", None, False)


async def test_only_company_wide_keepers_sync_and_without_a_master_it_says_so(api, auth, settings, export) -> None:
    r = await api.post("/org-units/sync", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 403
    r = await sync(api, auth, "org-units")
    assert r.status_code == 503 and r.json()["error"] == "master_unavailable"  # no export written yet
