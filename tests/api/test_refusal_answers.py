"""A workflow's refusal answered in HTTP: the status, code and title its ``Refusal`` member gives
(in the caller's language: tests/api/test_error_language.py), 422 in the API's list-of-fields shape,
and a type the table does not know a logged 409 ``refused``.
And the API reaches workflows only through their contracts: no module under ``api`` imports
``activities``, not even inside a function."""

from __future__ import annotations

import ast
import base64
import logging
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from api.workflow_calls import refusal_to_http
from domain.refusals import Refusal

API = Path(__file__).resolve().parents[2] / "api"


@pytest.mark.parametrize("refusal", [r for r in Refusal if r.status != 422], ids=lambda r: r.type_name)
def test_a_refusal_answers_its_members_status_code_and_title(refusal: Refusal) -> None:
    error = ApplicationError("the specific reason", {"stage": "approved"}, type=refusal.type_name)
    answer = refusal_to_http(error)
    assert (answer.status_code, answer.error) == (refusal.status, refusal.code)
    assert answer.detail == {"title": refusal.title, "message": "the specific reason", "stage": "approved"}
    assert next(iter(answer.detail)) == "title"  # the summary is read first
    assert answer.body("zh")["detail"]["title"] == refusal.zh and answer.body("en")["detail"]["title"] == refusal.en
    assert answer.headers == ({"Retry-After": "5"} if refusal.status == 503 else None)


def test_todays_statuses_and_codes_of_the_kinds_workflows_raise() -> None:
    seen = {t: (refusal_to_http(ApplicationError("m", type=t)).status_code, refusal_to_http(
        ApplicationError("m", type=t)).error) for t in ("WrongRole", "NotMaker", "NotApprover", "SelfApproval",
                                                        "Forbidden", "WrongStage", "OverSettlement",
                                                        "ConfirmationRequired", "StaleConfirmation")}
    assert seen == {"WrongRole": (403, "wrong_role"), "NotMaker": (403, "not_maker"),
                    "NotApprover": (403, "not_approver"), "SelfApproval": (403, "self_approval"),
                    "Forbidden": (403, "forbidden"), "WrongStage": (409, "wrong_stage"),
                    "OverSettlement": (409, "over_settlement"), "ConfirmationRequired": (409, "confirmation_required"),
                    "StaleConfirmation": (409, "stale_confirmation")}


def test_a_validation_refusal_lists_the_field_as_every_422_does() -> None:
    item = {"field": "months", "rule": "months_in_past", "message": "补缴月份须早于本月 (past months only)"}
    answer = refusal_to_http(ApplicationError(item["message"], item, type="ValidationFailed"))
    assert (answer.status_code, answer.error, answer.detail) == (422, "validation_failed", [item])
    bare = refusal_to_http(ApplicationError("驳回须说明原因 (a rejection needs a reason)", type="ValidationFailed"))
    assert bare.detail == [{"field": "body", "rule": "validation_failed",
                            "message": "驳回须说明原因 (a rejection needs a reason)"}]


@pytest.mark.parametrize("kind", ["SomethingNew", None])
def test_a_type_not_in_the_table_is_a_logged_409(kind: str | None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hrflow.api"):
        answer = refusal_to_http(ApplicationError("no rule for this yet", type=kind))
    assert (answer.status_code, answer.error, answer.detail) == (409, "refused", {"message": "no rule for this yet"})
    assert repr(kind) in caplog.text


def test_no_api_module_imports_activities() -> None:
    found = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.relative_to(API.parent)}: {n}" for n in names if n.split(".")[0] == "activities"]
    assert found == []


def test_message_routes_keep_their_operation_ids() -> None:
    from api.app import create_app
    from hrflow.settings import Settings

    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        database_url="postgresql+psycopg2://unused@127.0.0.1/unused", jwt_secret="x" * 40,
                        codec_keys={"k": base64.b64encode(bytes(32)).decode()})
    paths = create_app(settings).openapi()["paths"]
    assert paths["/maternity-leaves/{workflow_id}/approve"]["post"]["operationId"] == \
        "approve_maternity_leaves__workflow_id__approve_post"
    assert "requestBody" not in paths["/maternity-leaves/{workflow_id}/approve"]["post"]
    proof = paths["/non-competes/{workflow_id}/proof"]["post"]
    assert proof["operationId"] == "submit_proof_non_competes__workflow_id__proof_post"
    assert proof["summary"] and proof["description"]  # their words: tests/api/test_openapi_docs.py
    assert proof["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ProofIn"}
    assert set(paths["/si-changes/{workflow_id}/correct"]["post"]["responses"]) == {
        "200", "400", "401", "403", "404", "409", "422", "503"}
    assert [op["operationId"] for op in paths["/receivables"].values()] == ["list_receivables_receivables_get"]
