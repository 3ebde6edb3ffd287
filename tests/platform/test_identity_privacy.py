"""Resident ID checks name the failing part; personal data is masked in logs and by role."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from domain.identity import InvalidResidentId, parse_resident_id
from domain.privacy import mask_id_number, mask_name, scrub
from hrflow.logs import MaskingFormatter


@pytest.mark.parametrize("number,part", [
    ("110105194912310021", "check_digit"),
    ("11010519491331002X", "birth_date"),
    ("99010519491231002X", "region"),
    ("1101051949123100", "format"),
    ("11010520991231002X", "birth_date"),  # in the future
])
def test_invalid_numbers_name_the_part(number: str, part: str) -> None:
    with pytest.raises(InvalidResidentId) as err:
        parse_resident_id(number, today=dt.date(2026, 11, 23))
    assert err.value.part == part


def test_valid_numbers_and_parts() -> None:
    rid = parse_resident_id("11010519491231002x")
    assert (rid.number, rid.birth_date, rid.sex, rid.region_name) == (
        "11010519491231002X", dt.date(1949, 12, 31), "F", "北京市朝阳区")
    # A county code retired before the birth year is not a reason to refuse (reference note).
    assert parse_resident_id("520102197501011237").region_name is None


def test_masking() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("王芳") == "王*" and mask_name("欧阳娜娜") == "欧***"
    assert scrub("id 11010519491231002X and 360426199101010071.") == \
        "id 110105********002X and 360426********0071."


def test_log_lines_and_tracebacks_are_masked() -> None:
    formatter = MaskingFormatter("%(message)s")
    try:
        raise ValueError("[parameters: {'id': '11010519491231002X'}]")
    except ValueError:
        import sys
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "GET /codec/login?token=eyJabc.def HTTP/1.1 %s",
                                   ("11010519491231002X",), sys.exc_info())
    line = formatter.format(record)
    assert "11010519491231002X" not in line and "110105********002X" in line
    assert "eyJabc" not in line and "token=***" in line


def test_token_cli_mints_a_token_the_api_accepts(monkeypatch, capsys) -> None:
    from api.auth import decode_token
    from domain.roles import Role
    from hrflow.cli import main

    secret = "cli-secret-" + "z" * 40
    monkeypatch.setenv("HRFLOW_JWT_SECRET", secret)
    assert main(["token", "--user", "E1001", "--role", "employee"]) == 0
    principal = decode_token(secret, capsys.readouterr().out.strip())
    assert (principal.user, principal.role, principal.employee_id) == ("E1001", Role.EMPLOYEE, "E1001")
    assert main(["token", "--user", "x", "--role", "boss"]) == 2
    assert "unknown role 'boss'" in capsys.readouterr().err
