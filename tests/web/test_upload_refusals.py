"""A material the API refuses for its structure, uploaded through the web app (over HTTP, no
browser): the page answers with the API's status and says why in her language, not a 500."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from db.models import TransferMaterial
from tests.badinput.conftest import waiting_transfer
from tests.domain.test_document_structure import JPEG, MINIMAL_PDF, ZIP_BOMB
from tests.web.conftest import EMPLOYEE, as_person

WORKFLOW_ID = f"transfer-{EMPLOYEE}-web-structure"


async def test_a_refused_upload_shows_why_and_stores_nothing(web, session_factory) -> None:
    waiting_transfer(session_factory, WORKFLOW_ID, EMPLOYEE)
    csrf = await as_person(web, EMPLOYEE, "employee")
    url = f"/app/cases/{WORKFLOW_ID}/materials/resident_id_card"

    r = await web.post(url, data={"_csrf": csrf},
                       files={"file": ("身份证.pdf", b"%PDF-1.7\n" + ZIP_BOMB, "application/pdf")})
    assert r.status_code == 422, r.text[:2000]
    assert "文件中还藏有 ZIP 压缩包" in html.unescape(r.text)

    r = await web.post(url + "?lang=en", data={"_csrf": csrf}, files={"file": ("id.jpg", JPEG[:-2], "image/jpeg")})
    assert r.status_code == 422, r.text[:2000]
    assert "the JPEG ends without its end-of-image marker FFD9" in html.unescape(r.text)

    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(TransferMaterial)) == 0
    r = await web.post(url, data={"_csrf": csrf}, files={"file": ("身份证.pdf", MINIMAL_PDF, "application/pdf")},
                       follow_redirects=False)  # the same form with a whole file is kept
    assert r.status_code == 303 and r.headers["location"].endswith("?done=upload"), r.text[:2000]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(TransferMaterial)) == 1
