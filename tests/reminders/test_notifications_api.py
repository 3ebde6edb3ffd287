"""In-app notifications, the staff directory and receivable follow-ups through the API."""

from __future__ import annotations

from sqlalchemy import select

from db import outbox
from db.models import AuditEvent, Employee, Receivable
from domain.roles import Role
from tests.reminders.seed import NOW, seed


def _note(s, key: str, kind: str, who: str, template: str = "reminder.maternity_return_due", **params) -> None:
    outbox.enqueue(s, dedupe_key=key, recipient_kind=kind, recipient=who, template=template,
                   params={"employee_id": "E1", "due": "2026-11-26", **params}, workflow_id="maternity-E1-1", at=NOW)


async def test_each_person_sees_their_own_notifications_in_their_language(api, auth, session_factory) -> None:
    seed(session_factory)
    with session_factory.begin() as s:
        _note(s, "a", "role", "hr_specialist")
        _note(s, "b", "role", "hr_specialist/2")
        _note(s, "c", "employee", "E1")
        _note(s, "d", "employee", "E2")
        _note(s, "e", "user", "hr.li")

    li = await api.get("/me/notifications", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert li.status_code == 200
    page = li.json()
    assert page["unread"] == 2 and len(page["items"]) == 2  # role level 1 and personal, not level 2
    assert page["items"][0]["subject"].startswith("Return from maternity leave")  # hr.li reads English

    wang = (await api.get("/me/notifications", headers=auth(Role.HR_SPECIALIST, "hr.wang"))).json()
    assert [i["subject"][:4] for i in wang["items"]] == ["产假返岗"]  # level 2 only, in Chinese

    e1 = (await api.get("/me/notifications", headers=auth(Role.EMPLOYEE, "E1"))).json()
    assert len(e1["items"]) == 1 and e1["items"][0]["subject"].startswith("Return")  # E1's language: en
    first = e1["items"][0]["id"]

    # E2 cannot mark E1's notification read
    assert (await api.post(f"/me/notifications/{first}/read", headers=auth(Role.EMPLOYEE, "E2"))).status_code == 404
    marked = await api.post(f"/me/notifications/{first}/read", headers=auth(Role.EMPLOYEE, "E1"))
    assert marked.json() == {"marked": 1}
    again = (await api.get("/me/notifications?unread_only=true", headers=auth(Role.EMPLOYEE, "E1"))).json()
    assert again == {"items": [], "unread": 0, "next_cursor": None}

    # a role's notification is read per person: hr.chen still has it unread after hr.li reads all
    assert (await api.post("/me/notifications/read-all", headers=auth(Role.HR_SPECIALIST, "hr.li"))).json() == {"marked": 2}
    chen = (await api.get("/me/notifications", headers=auth(Role.HR_SPECIALIST, "hr.chen"))).json()
    assert chen["unread"] == 1


async def test_pagination_is_newest_first_by_cursor(api, auth, session_factory) -> None:
    seed(session_factory)
    with session_factory.begin() as s:
        for i in range(5):
            _note(s, f"n{i}", "user", "mgr.zhao")
    headers = auth(Role.HR_MANAGER, "mgr.zhao")
    one = (await api.get("/me/notifications?limit=3", headers=headers)).json()
    two = (await api.get(f"/me/notifications?limit=3&cursor={one['next_cursor']}", headers=headers)).json()
    ids = [i["id"] for i in one["items"] + two["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5 and two["next_cursor"] is None


async def test_staff_directory_is_kept_by_admins(api, auth, session_factory) -> None:
    body = {"display_name": "钱会计", "role": "finance", "level": 2, "email": "qian@corp.test", "language": "zh"}
    assert (await api.put("/staff/fin.qian", json=body, headers=auth(Role.HR_MANAGER))).status_code == 403
    created = await api.put("/staff/fin.qian", json=body, headers=auth(Role.ADMIN))
    assert created.status_code == 200 and created.json()["level"] == 2
    bad = await api.put("/staff/x", json=body | {"email": "not-an-address", "level": 9}, headers=auth(Role.ADMIN))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["detail"]} == {"email", "level"}
    employee_role = await api.put("/staff/x", json=body | {"role": "employee"}, headers=auth(Role.ADMIN))
    assert employee_role.status_code == 422
    listed = (await api.get("/staff", headers=auth(Role.HR_MANAGER))).json()
    assert [m["user_id"] for m in listed] == ["fin.qian"]


async def test_finance_records_a_follow_up(api, auth, session_factory) -> None:
    seed(session_factory)
    with session_factory() as s:
        rid = s.scalar(select(Receivable.id).where(Receivable.month == "2026-09", Receivable.employee_id == "E2"))
        settled = s.scalar(select(Receivable.id).where(Receivable.status == "settled"))
    url = f"/receivables/items/{rid}/follow-ups"
    assert (await api.post(url, json={"note": "called"}, headers=auth(Role.HR_SPECIALIST))).status_code == 403
    assert (await api.post(url, json={"note": ""}, headers=auth(Role.FINANCE))).status_code == 422
    own = await api.post(url, json={"note": "I will pay it myself"}, headers=auth(Role.FINANCE, "fin.e2", "E2"))
    assert own.status_code == 403 and own.json()["error"] == "self_approval"  # never the one who owes it
    done = await api.post(url, json={"note": "agreed to deduct in December"}, headers=auth(Role.FINANCE, "fin.qian"))
    assert done.status_code == 200 and done.json()["followed_up_at"] is not None
    closed = await api.post(f"/receivables/items/{settled}/follow-ups", json={"note": "x"}, headers=auth(Role.FINANCE))
    assert closed.status_code == 409
    with session_factory() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "receivable.followed_up"))
    assert event.actor == "fin.qian" and event.after["note"] == "agreed to deduct in December"


async def test_an_employee_sets_her_notification_language(api, auth, session_factory) -> None:
    seed(session_factory)
    with session_factory.begin() as s:
        _note(s, "z", "employee", "E2")
    url = "/employees/E2/contact"
    assert (await api.patch(url, json={"language": "en"}, headers=auth(Role.EMPLOYEE, "E3"))).status_code == 404
    bad = await api.patch(url, json={"language": "fr", "email": "nope"}, headers=auth(Role.EMPLOYEE, "E2"))
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["detail"]} == {"language", "email"}
    ok = await api.patch(url, json={"language": "en"}, headers=auth(Role.EMPLOYEE, "E2"))
    assert ok.status_code == 200 and ok.json()["language"] == "en"
    mine = (await api.get("/me/notifications", headers=auth(Role.EMPLOYEE, "E2"))).json()
    assert mine["items"][0]["subject"].startswith("Return from maternity leave")


async def test_her_mobile_for_texts_is_checked_and_audited_masked(api, auth, session_factory) -> None:
    seed(session_factory)
    url = "/employees/E2/contact"
    bad = await api.patch(url, json={"mobile": "1381234567"}, headers=auth(Role.EMPLOYEE, "E2"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "mobile"
    assert "11 位数字" in bad.json()["detail"][0]["message"]
    ok = await api.patch(url, json={"mobile": "13812345678", "email": None}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert ok.status_code == 200, ok.text
    with session_factory() as s:
        assert s.get(Employee, "E2").mobile == "13812345678"
        entry = s.scalars(select(AuditEvent).where(AuditEvent.action == "employee.contact_changed")).one()
    assert entry.after["mobile"] == "138****5678" and "13812345678" not in str(entry.before) + str(entry.after)
