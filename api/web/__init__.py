"""The web app: HR's console and the employee's self-service, served by hrflow itself.

Pages are server-rendered (Jinja2, autoescaped) and post plain HTML forms; every asset is a file of
this package (no CDN, no web font, nothing fetched at run time). A page acts only through the
approval API, called in-process with the signed-in person's token, so nothing the API refuses is
possible on a page, and its refusal is shown in the reader's language.
"""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Serve the pages and their assets on ``app`` (``/``, ``/app/...``, ``/static/...``)."""
    from api.web import decision_links, feishu_cards, pages, wecom_cards

    pages.install(app)
    decision_links.install(app)
    wecom_cards.install(app)
    feishu_cards.install(app)
