"""Small edges of personal data (issue 21): names that read as someone else's, answers that a
proxy or browser must not keep."""

from __future__ import annotations

import pytest

from domain.roles import Role
from tests.platform.test_api import EMPLOYEE


@pytest.mark.parametrize("name", ["王\u200b芳", "\u202e芳王", "王芳\u2066", "王\x07芳"])
async def test_a_name_with_invisible_or_direction_changing_characters_is_refused(api, auth, name: str) -> None:
    r = await api.post("/employees", json=EMPLOYEE | {"name": name}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 422, r.text
    assert [(i["field"], i["rule"]) for i in r.json()["detail"]] == [("name", "visible_characters")]
    assert "零宽" in r.json()["detail"][0]["message"]
    r = await api.get("/employees/E1001", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 404  # nothing registered


async def test_names_of_every_script_are_kept(api, auth) -> None:
    r = await api.post("/employees", json=EMPLOYEE | {"name": "阿卜杜勒·买买提"}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 201, r.text


async def test_answers_about_people_are_never_cached(api, auth) -> None:
    r = await api.post("/employees", json=EMPLOYEE, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 201, r.text
    r = await api.get("/employees/E1001", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.json()["resident_id_number"] == EMPLOYEE["resident_id_number"]
    assert r.headers["cache-control"] == "no-store"
    for path in ("/employees/E1001", "/cases", "/nowhere"):
        assert (await api.get(path, headers=auth(Role.HR_MANAGER, "mgr.wang"))).headers["cache-control"] == "no-store"
    assert "no-store" not in (await api.get("/static/app.css")).headers.get("cache-control", "")
