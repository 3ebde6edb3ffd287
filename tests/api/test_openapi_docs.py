"""The API as its users meet it: every operation says in Chinese, then in English, what it does and
who may call it; every JSON body shows an example the API accepts; and ``/docs`` and ``/redoc``
work on a machine without internet, loading nothing but files of this server.

The pages are checked twice: their HTML and every file it names over ASGI, and Swagger UI and ReDoc
rendering in headless Chromium (Debian's package) against a live uvicorn server that refuses every
request to any other address.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from playwright.async_api import ConsoleMessage, Route, async_playwright
from pydantic import BaseModel

import api.routes
from api.app import create_app
from tests.live_server import serving_in_a_thread

CHROMIUM = os.environ.get("HRFLOW_CHROMIUM", "/usr/bin/chromium")  # as run.py installs it
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CHINESE = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
LINKS = re.compile(r"""\b(?:src|href|spec-url)\s*=\s*["']([^"']*)["']""")
SWAGGER_SPEC = re.compile(r"""\burl:\s*'([^']*)'""")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


class _NoTemporal:
    """The documentation never reaches Temporal; this keeps the app from connecting to one."""


@pytest.fixture
def app(settings, engine, codec) -> FastAPI:
    return create_app(settings, engine=engine, temporal=_NoTemporal(), codec=codec)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as c:
        yield c


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _json_body_models() -> dict[str, type[BaseModel]]:
    """``"POST /path"`` -> the model of its JSON body, for every route of the route modules (FastAPI
    keeps an included router's routes behind a wrapper of its own; the modules hold them plainly)."""
    models: dict[str, type[BaseModel]] = {}
    for module in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{module.name}"), "router", None)
        for route in getattr(router, "routes", ()):
            if isinstance(route, APIRoute) and route.body_field is not None:
                model = route.body_field.field_info.annotation
                if isinstance(model, type) and issubclass(model, BaseModel):
                    models.update({f"{method} {route.path_format}": model for method in route.methods})
    return models


def _examples(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples a reader of the document sees for one JSON body: the media type's own, and its
    schema's (a ``$ref`` followed to the component)."""
    found = [media["example"]] if "example" in media else []
    found += [example["value"] for example in media.get("examples", {}).values()]
    schema = media.get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return found + list(schema.get("examples", []))


def test_every_operation_says_in_chinese_then_english_what_it_does(app: FastAPI) -> None:
    """A summary (``批准社保变更 (Approve a change)``), and a description whose first paragraph is
    Chinese, followed by an English one."""
    missing = []
    for label, operation in _operations(app.openapi()):
        summary, description = operation.get("summary", ""), operation.get("description", "")
        paragraphs = [p for p in description.split("\n\n") if p.strip()]
        if not summary.strip():
            missing.append(f"{label}: no summary")
        if not paragraphs or not CHINESE.search(paragraphs[0]) or not any(
                LATIN_WORD.search(p) and not CHINESE.search(p) for p in paragraphs[1:]):
            missing.append(f"{label}: description {description[:60]!r}")
    assert missing == []
    assert len(list(_operations(app.openapi()))) > 80  # the routers are all mounted


def test_every_json_body_shows_examples_its_model_accepts(app: FastAPI) -> None:
    """Each example is parsed as the API parses the request (JSON into the route's body model,
    validators included), so a reader who sends it gets past validation."""
    document, models = app.openapi(), _json_body_models()
    problems, checked = [], 0
    for label, operation in _operations(document):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            continue
        examples, model = _examples(document, media), models.get(label)
        if not examples or model is None:
            problems.append(f"{label}: {len(examples)} examples, body model {model}")
            continue
        for example in examples:
            checked += 1
            try:
                model.model_validate_json(json.dumps(example))
            except ValueError as exc:
                problems.append(f"{label}: {example!r} is refused: {exc}")
    assert problems == []
    assert checked >= 45


async def test_the_documentation_pages_name_only_files_of_this_server(client: httpx.AsyncClient, app: FastAPI) -> None:
    """/docs and /redoc are HTML whose every script, style, icon and document is a local path, and
    each of those answers 200 with its own content type. The pages are not operations."""
    for page in ("/docs", "/redoc"):
        r = await client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
        assert "://" not in r.text, page  # no CDN, no web font, no validator
        assert "接口文档" in r.text.split("<title>")[1].split("</title>")[0], page
        links = LINKS.findall(r.text) + SWAGGER_SPEC.findall(r.text)
        assert len(links) >= 3, (page, links)
        for link in links:
            assert link.startswith("/") and not link.startswith("//"), (page, link)
            asset = await client.get(link)
            suffix = link[link.rindex("."):]
            assert asset.status_code == 200, (page, link)
            assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), (page, link, asset.headers)
    paths = app.openapi()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404  # FastAPI's own pages are off


# ---------------------------------------------------------------- in a browser


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    with serving_in_a_thread(app) as url:
        yield url


async def _render(live_server: str, path: str, rendered: str, at_least: int) -> tuple[list[str], list[str], int]:
    """Open ``path`` with every request to another address refused; wait until ``rendered`` matches
    more than ``at_least`` elements. Answers the URLs requested, the console errors, and the count."""
    requested: list[str] = []
    errors: list[str] = []

    async def only_local(route: Route) -> None:
        if route.request.url.startswith(live_server + "/"):
            await route.continue_()
        else:
            await route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context()
            await context.route("**/*", only_local)
            context.on("request", lambda r: requested.append(r.url))
            page = await context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            response = await page.goto(live_server + path, wait_until="load")
            assert response is not None and response.status == 200
            await page.wait_for_function(f"document.querySelectorAll({rendered!r}).length > {at_least}",
                                         timeout=30_000)
            count = await page.locator(rendered).count()
            assert "接口文档" in await page.title()
        finally:
            await browser.close()
    return requested, errors, count


@pytest.mark.parametrize(("path", "operation"), [("/docs", ".opblock"),
                                               ("/redoc", "[data-section-id^='operation/']")], ids=["swagger", "redoc"])
async def test_the_docs_render_every_operation_from_this_server_alone(live_server: str, path: str,
                                                                     operation: str) -> None:
    requested, errors, operations = await _render(live_server, path, operation, 50)
    assert operations > 80
    assert [url for url in requested if not url.startswith(live_server + "/")] == []
    assert f"{live_server}/openapi.json" in requested
    assert errors == []
