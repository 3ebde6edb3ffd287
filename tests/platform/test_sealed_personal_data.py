"""Personal data at rest (PIPL, issue 21): resident ID numbers, names, e-mail addresses and
mobile numbers sealed under each employee's own key, ID numbers and addresses found by a keyed
blind index, unreadable once her key is destroyed; callers still read and write the attributes as
before."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from db.blind_index import digest, email_digest, erased_digest
from db.directory import person_of
from db.models import Employee, StaffMember
from db.person_keys import destroy
from db.sealed_fields import ERASED, KEYRING, SealingUnavailable, seal_plain_values
from db.session import make_session_factory
from domain.roles import Role
from tests.conftest import TEST_BLIND_INDEX_KEY
from tests.platform.test_api import EMPLOYEE
from tests.platform.test_employee_import import csv_file, line, post
from tests.processes.support import add_employee

KEY = base64.b64decode(TEST_BLIND_INDEX_KEY)
NUMBER = EMPLOYEE["resident_id_number"]  # 11010519491231002X
OTHER_NUMBER = "360426199101010071"


@pytest.fixture
def settings(settings):
    """Keys are not cached: a destroyed key reads as destroyed at once (the erasure waits out the ttl)."""
    return settings.model_copy(update={"person_key_cache_seconds": 0})


def _stored(engine, employee_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT resident_id_number, resident_id_sealed, resident_id_digest FROM employees"
                                " WHERE employee_id = :e"), {"e": employee_id}).mappings().one()
    return dict(row)


def test_the_blind_index_is_keyed_normalised_and_stable() -> None:
    assert digest(KEY, NUMBER) == digest(KEY, NUMBER.lower()) == digest(KEY, f" {NUMBER} ")
    assert len(digest(KEY, NUMBER)) == 64 and digest(KEY, NUMBER) != digest(KEY, OTHER_NUMBER)
    assert digest(KEY, NUMBER) != digest(bytes(32), NUMBER)  # another key, another digest
    assert erased_digest("E1") != erased_digest("E2") and len(erased_digest("E1")) == 64
    assert set(erased_digest("E1")) - set("0123456789abcdef")  # not hex: never any number's digest
    with pytest.raises(ValueError):
        digest(b"short", NUMBER)


async def test_the_row_holds_no_plain_number_and_the_api_still_answers_it(api, auth, engine) -> None:
    r = await api.post("/employees", json=EMPLOYEE, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 201, r.text
    stored = _stored(engine, "E1001")
    assert stored["resident_id_number"] is None
    assert stored["resident_id_sealed"].startswith("p1:person:E1001:1:")
    assert NUMBER not in stored["resident_id_sealed"] and NUMBER[6:14] not in stored["resident_id_sealed"]
    assert stored["resident_id_digest"] == digest(KEY, NUMBER)
    with engine.connect() as conn:  # nowhere else in her row either
        assert NUMBER not in str(conn.execute(text("SELECT e::text FROM employees e")).scalar())
    hr = await api.get("/employees/E1001", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert hr.status_code == 200 and hr.json()["resident_id_number"] == NUMBER
    finance = await api.get("/employees/E1001", headers=auth(Role.FINANCE, "f"))
    assert finance.status_code == 200 and finance.json()["resident_id_number"] == "110105********002X"


async def test_a_second_employee_with_the_same_number_is_refused(api, auth, engine) -> None:
    hr = auth(Role.HR_SPECIALIST, "hr.li")
    assert (await api.post("/employees", json=EMPLOYEE, headers=hr)).status_code == 201
    for number in (NUMBER, NUMBER.lower()):
        r = await api.post("/employees", json=EMPLOYEE | {"employee_id": "E1002", "resident_id_number": number},
                           headers=hr)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "employee_exists" and "E1001" in r.text
    assert (await api.post("/employees", json=EMPLOYEE | {"employee_id": "E1002", "resident_id_number": OTHER_NUMBER},
                           headers=hr)).status_code == 201


async def test_the_import_finds_a_registered_number_by_its_digest(api, auth, session_factory) -> None:
    add_employee(session_factory, "E1", resident_id_number=NUMBER)
    content = csv_file(line("E7", "李雷", 7, id_number=NUMBER), line("E8", "韩梅梅", 8))
    dry = await post(api, auth, content, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert [(p["row"], p["field"], p["rule"]) for p in dry.json()["problems"]] == [(2, "resident_id_number", "already_registered")]
    r = await post(api, auth, content)
    assert r.status_code == 422, r.text
    assert [(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]] == [(2, "resident_id_number", "already_registered")]
    assert "E1" in r.json()["detail"][0]["message"]
    done = await post(api, auth, csv_file(line("E8", "韩梅梅", 8)))
    assert done.status_code == 201, done.text
    with session_factory() as s:
        e8 = s.get(Employee, "E8")
        assert e8.resident_id_sealed is not None and e8.resident_id_plain is None
        assert e8.resident_id_number == line("E8", "", 8).split(",")[2]


def _insert_plain(engine, employee_id: str, number: str) -> None:
    """A row as written before the sealing: the number in the clear, no sealed text, no digest."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO employees (employee_id, resident_id_number, name, department, position,"
                          " hire_date, si_province, si_city, contribution_base)"
                          " VALUES (:e, :n, '王芳', 'Sales', 'Adviser', '2021-03-01', 'Beijing', 'Beijing', 10000)"),
                     {"e": employee_id, "n": number})


async def test_the_backfill_seals_plain_rows_once(api, auth, engine, session_factory) -> None:
    _insert_plain(engine, "E0001", NUMBER)
    with make_session_factory(engine)() as s:  # a legacy row reads even without a keyring
        assert s.get(Employee, "E0001").resident_id_number == NUMBER
    # before the backfill, the plain number still counts as registered
    r = await api.post("/employees", json=EMPLOYEE | {"employee_id": "E1002"}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 409, r.text
    assert seal_plain_values(session_factory, batch=1) == 1
    stored = _stored(engine, "E0001")
    assert stored["resident_id_number"] is None and NUMBER not in stored["resident_id_sealed"]
    assert stored["resident_id_digest"] == digest(KEY, NUMBER)
    assert seal_plain_values(session_factory) == 0  # idempotent
    assert _stored(engine, "E0001") == stored
    with session_factory() as s:
        assert s.get(Employee, "E0001").resident_id_number == NUMBER
    r = await api.post("/employees", json=EMPLOYEE | {"employee_id": "E1002"}, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 409, r.text


async def test_after_her_key_is_destroyed_her_number_reads_erased(api, auth, session_factory) -> None:
    add_employee(session_factory, "E1", resident_id_number=NUMBER)
    add_employee(session_factory, "E2", resident_id_number=OTHER_NUMBER, name="李娜")
    with session_factory.begin() as s:
        assert destroy(s, "E1", by="erasure-E1") == 1
    for role in (Role.HR_MANAGER, Role.FINANCE):
        r = await api.get("/employees/E1", headers=auth(role, "someone"))
        assert r.status_code == 200, r.text
        assert ERASED in r.json()["resident_id_number"] or set(r.json()["resident_id_number"]) == {"*"}
    r = await api.get("/employees/E1", headers=auth(Role.HR_MANAGER, "someone"))
    assert r.json()["resident_id_number"] == ERASED
    r = await api.get("/employees/E2", headers=auth(Role.HR_MANAGER, "someone"))
    assert r.status_code == 200 and r.json()["resident_id_number"] == OTHER_NUMBER


def test_a_session_without_a_keyring_refuses_to_write_a_number(engine, session_factory) -> None:
    bare = make_session_factory(engine)
    with bare() as s:
        s.add(Employee(employee_id="E1", resident_id_number=NUMBER, name="王芳", department="Sales",
                       position="Adviser", hire_date=dt.date(2021, 3, 1), si_province="Beijing", si_city="Beijing",
                       contribution_base=Decimal("10000.00")))
        with pytest.raises(SealingUnavailable, match="cannot seal"):
            s.flush()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM employees")) == 0
    add_employee(session_factory, "E1", resident_id_number=NUMBER)
    with bare() as s:
        row = s.get(Employee, "E1")
        with pytest.raises(SealingUnavailable, match="cannot open"):
            _ = row.resident_id_number
        row.resident_id_number = OTHER_NUMBER  # a change, too, is refused
        with pytest.raises(SealingUnavailable):
            s.flush()


def test_a_query_cannot_compare_the_sealed_attribute(session_factory) -> None:
    with pytest.raises(TypeError, match="digest"):
        select(Employee).where(Employee.resident_id_number == NUMBER)


def test_a_dev_stack_from_before_the_sealing_gets_a_blind_index_key(tmp_path) -> None:
    import json

    from hrflow.dev import load_or_create_secrets

    path = tmp_path / "secrets.json"
    old = {"jwt_secret": "j" * 48, "codec_keys": {"dev-1": TEST_BLIND_INDEX_KEY}, "codec_active_key": "dev-1",
           "app_db_password": "pw"}
    path.write_text(json.dumps(old))
    made = load_or_create_secrets(path)
    assert {k: v for k, v in made.items() if k != "blind_index_key"} == old
    assert len(base64.b64decode(made["blind_index_key"])) == 32
    assert load_or_create_secrets(path) == made  # kept: the digests stay findable


async def test_an_api_without_the_blind_index_key_refuses_with_503_not_500(settings, engine, temporal_env, codec,
                                                                            auth) -> None:
    import httpx

    from api.app import create_app

    app = create_app(settings.model_copy(update={"blind_index_key": None}), engine=engine,
                     temporal=temporal_env.client, codec=codec)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        r = await api.post("/employees", json=EMPLOYEE, headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 503 and r.json()["error"] == "not_configured", r.text
    assert "HRFLOW_BLIND_INDEX_KEY" in r.text and NUMBER not in r.text
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM employees")) == 0


def test_migrate_seals_what_is_plain_and_needs_the_key_only_then(settings, engine, session_factory) -> None:
    from hrflow.cli import seal_plain_personal_data_at
    from hrflow.settings import ConfigurationError

    keyless = settings.model_copy(update={"blind_index_key": None})
    assert seal_plain_personal_data_at(keyless, settings.migration_sqlalchemy_url) == 0  # nothing plain: no key needed
    _insert_plain(engine, "E0001", NUMBER)
    with pytest.raises(ConfigurationError, match="HRFLOW_BLIND_INDEX_KEY"):
        seal_plain_personal_data_at(keyless, settings.migration_sqlalchemy_url)
    assert seal_plain_personal_data_at(settings, settings.migration_sqlalchemy_url) == 1
    assert _stored(engine, "E0001")["resident_id_number"] is None
    with session_factory() as s:  # sealed with the settings' keys: the test sessions open it
        assert s.get(Employee, "E0001").resident_id_number == NUMBER


def _row_text(engine, employee_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT e::text FROM employees e WHERE employee_id = :e"), {"e": employee_id}).scalar())


def test_name_and_contact_are_sealed_and_read_back(engine, session_factory) -> None:
    add_employee(session_factory, "E1", resident_id_number=NUMBER, name="欧阳明月")
    with session_factory.begin() as s:
        her = s.get(Employee, "E1")
        her.email, her.mobile = "Ouyang.MY@Example.com", "13912345678"
    stored = _row_text(engine, "E1")
    for plain in ("欧阳明月", "Ouyang", "example.com", "13912345678", NUMBER):
        assert plain.lower() not in stored.lower(), plain
    with engine.connect() as conn:
        row = conn.execute(text("SELECT name, email, mobile, name_sealed, email_digest FROM employees"
                                " WHERE employee_id = 'E1'")).one()
    assert row.name is None and row.email is None and row.mobile is None
    assert row.name_sealed.startswith("p1:person:E1:1:")
    assert row.email_digest == email_digest(KEY, "ouyang.my@example.com") != digest(KEY, "ouyang.my@example.com")
    with session_factory() as s:
        her = s.get(Employee, "E1")
        assert (her.name, her.email, her.mobile) == ("欧阳明月", "Ouyang.MY@Example.com", "13912345678")
    with session_factory.begin() as s:  # contact may be taken away again: nothing stays
        s.get(Employee, "E1").mobile = None
    with session_factory() as s:
        assert s.get(Employee, "E1").mobile is None
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT mobile_sealed FROM employees WHERE employee_id = 'E1'")) is None


def test_a_sealed_value_does_not_open_as_another_field(engine, session_factory) -> None:
    """A name's sealed text copied into the ID-number column (by someone with SQL) is refused, not read."""
    add_employee(session_factory, "E1", resident_id_number=NUMBER, name="王芳")
    with engine.begin() as conn:
        conn.execute(text("UPDATE employees SET resident_id_sealed = name_sealed WHERE employee_id = 'E1'"))
    with session_factory() as s, pytest.raises(ValueError, match="does not open"):
        _ = s.get(Employee, "E1").resident_id_number


def test_a_login_finds_her_by_e_mail_in_any_case(session_factory) -> None:
    add_employee(session_factory, "E1", resident_id_number=NUMBER)
    with session_factory.begin() as s:
        s.get(Employee, "E1").email = "Wang.Fang@Example.com"
        s.add(StaffMember(user_id="wang.fang", display_name="王芳", role="hr_specialist", email=" wang.fang@EXAMPLE.com "))
        s.add(StaffMember(user_id="someone", display_name="某人", role="hr_specialist", email="someone@example.com"))
    with session_factory() as s:
        assert person_of(s, "wang.fang").employee_id == "E1"
        assert person_of(s, "someone").employee_id is None


def _insert_plain_contact(engine, employee_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO employees (employee_id, resident_id_number, name, email, mobile, department,"
                          " position, hire_date, si_province, si_city, contribution_base) VALUES (:e, :n, '赵敏',"
                          " 'Zhao.Min@example.com', '13800001111', 'Sales', 'Adviser', '2021-03-01', 'Beijing',"
                          " 'Beijing', 10000)"), {"e": employee_id, "n": OTHER_NUMBER})


def test_the_backfill_seals_plain_names_and_contact_and_a_login_finds_her_before_and_after(engine, session_factory) -> None:
    _insert_plain_contact(engine, "E0002")
    with session_factory.begin() as s:
        s.add(StaffMember(user_id="zhao", display_name="赵敏", role="hr_specialist", email="zhao.min@EXAMPLE.com"))
    with session_factory() as s:
        assert person_of(s, "zhao").employee_id == "E0002"  # by the plain column, before the backfill
    assert seal_plain_values(session_factory) == 1
    stored = _row_text(engine, "E0002")
    assert "赵敏" not in stored and "Zhao.Min" not in stored and "13800001111" not in stored
    with session_factory() as s:
        her = s.get(Employee, "E0002")
        assert (her.name, her.email, her.mobile, her.resident_id_number) == (
            "赵敏", "Zhao.Min@example.com", "13800001111", OTHER_NUMBER)
        assert person_of(s, "zhao").employee_id == "E0002"  # by the digest, after it
    assert seal_plain_values(session_factory) == 0


async def test_after_her_key_is_destroyed_her_name_and_contact_are_gone_and_others_stay(api, auth, session_factory) -> None:
    add_employee(session_factory, "E1", resident_id_number=NUMBER, name="王芳")
    add_employee(session_factory, "E2", resident_id_number=OTHER_NUMBER, name="李娜")
    with session_factory.begin() as s:
        s.get(Employee, "E1").email = "wang@example.com"
        s.get(Employee, "E1").mobile = "13912345678"
    with session_factory.begin() as s:
        destroy(s, "E1", by="erasure-E1")
    session_factory.kw["info"][KEYRING].forget()  # the test's own cache learns it at once
    with session_factory() as s:
        her, other = s.get(Employee, "E1"), s.get(Employee, "E2")
        assert (her.name, her.email, her.mobile) == (ERASED, None, None)
        assert other.name == "李娜"
    r = await api.get("/employees/E1", headers=auth(Role.HR_MANAGER, "someone"))
    assert r.status_code == 200 and r.json()["name"] == ERASED
