"""The thin surfaces over the catalogue: ``hrflow policy`` (in-process) and ``/policies``."""

import argparse
import json
import shutil
import typing

import pytest

from domain.policy.check import DATA_DIR
from hrflow import policy_cli


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hrflow")
    policy_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["policy", *argv])


def test_show_contribution_prints_figures_and_source(capsys):
    assert policy_cli.run(_parse("show", "contribution", "--region", "北京", "--on", "2026-01-05")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["limits"]["floor"] == "7162" and out["limits"]["ceiling"] == "35811"
    assert out["limits"]["rule"]["source"]["url"].startswith("https://rsj.beijing.gov.cn")
    assert out["rates"]["rates"]["pension"]["employee"] == "0.08"


def test_show_other_kinds(capsys):
    assert policy_cli.run(_parse("show", "maternity-leave", "--region", "shanghai", "--on", "2026-03-16")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provincial_rule"]["extra_days"] == 60
    assert out["example_single_normal_first_birth_on_date"]["total_days"] == 158
    assert "上海" in json.dumps(out, ensure_ascii=False)
    assert policy_cli.run(_parse("show", "transfer", "--region", "贵州", "--to", "黑龙江",
                                 "--type", "pension", "--on", "2026-01-05")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requirements"]["materials"][0]["code"] == "contribution_certificate"
    assert policy_cli.run(_parse("show", "deadlines", "--on", "2026-01-05")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["deadlines"]["archive_and_insurance_transfer"]["rule"]["amount"] == 15


@pytest.mark.parametrize("argv", [
    ("show", "contribution", "--region", "Atlantis", "--on", "2026-01-05"),
    ("show", "contribution", "--on", "2026-01-05"),
    ("show", "contribution", "--region", "beijing", "--on", "yesterday"),
    ("show", "transfer", "--region", "guizhou", "--type", "pension"),
    ("show", "contribution", "--region", "beijing", "--on", "2020-01-01"),
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    assert policy_cli.run(_parse(*argv)) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")


def test_check_exit_codes(tmp_path, capsys):
    assert policy_cli.run(_parse("check")) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "problems": []}
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    (data / "beijing.yaml").write_text("schema_version: 1\nregion: {}\n", encoding="utf-8")
    assert policy_cli.run(_parse("check", "--dir", str(data))) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and any(p["file"] == "beijing.yaml" for p in out["problems"])


# ------------------------------------------------------------------ API


@pytest.fixture(scope="module")
def client():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.auth import Authenticated, Principal
    from api.routes.policies import router
    from domain.roles import Role

    dependency = typing.get_args(Authenticated)[1].dependency
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[dependency] = lambda: Principal(user="reader", role=Role.EMPLOYEE)
    with TestClient(app) as test_client:
        yield test_client


def test_api_contribution(client):
    body = client.get("/policies/contribution", params={"city": "北京", "on": "2026-01-05"}).json()
    assert body["limits"]["floor"] == "7162" and body["limits"]["verified"] is True


def test_api_maternity_with_birth_facts(client):
    response = client.get("/policies/maternity-leave", params={
        "province": "guangdong", "birth_date": "2026-03-16", "babies": 2, "difficult_birth": True})
    assert response.status_code == 200
    body = response.json()
    assert body["entitlement"]["total_days"] == 223 and body["entitlement"]["last_day"] == "2026-10-09"


def test_api_transfer_deadlines_regions(client):
    body = client.get("/policies/transfer", params={
        "origin": "贵阳", "destination": "哈尔滨", "type": "pension", "on": "2026-01-05"}).json()
    assert body["destination"] == "heilongjiang" and len(body["steps"]) == 4
    deadlines = client.get("/policies/deadlines", params={"on": "2026-01-05"}).json()
    assert deadlines["deadlines"]["unemployment_report"]["rule"]["amount"] == 15
    regions = client.get("/policies/regions").json()
    assert {"beijing", "guizhou", "heilongjiang"} <= {r["code"] for r in regions}


def test_api_errors_name_field_and_rule(client):
    missing = client.get("/policies/contribution", params={"city": "Atlantis", "on": "2026-01-05"})
    assert missing.status_code == 404
    assert missing.json()["detail"]["field"] == "city" and "Atlantis" in missing.json()["detail"]["message"]
    early = client.get("/policies/contribution", params={"city": "beijing", "on": "2020-01-01"})
    assert early.status_code == 404 and early.json()["detail"]["rule"] == "contribution_bases"
    bad = client.get("/policies/transfer", params={"origin": "贵阳", "destination": "哈尔滨", "type": "work_injury"})
    assert bad.status_code == 422


def test_policy_check_command_passes_on_the_shipped_catalogue() -> None:
    """What CI relies on: the installed `hrflow policy check` exits 0 on the real catalogue."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "hrflow.cli", "policy", "check"],
                            check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
