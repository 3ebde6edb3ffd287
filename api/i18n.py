"""The reader's language: Chinese first, English when she asks for it.

A person chooses on a page (the ``hrflow_lang`` cookie the language switch sets, or ``?lang=`` on
any URL); an API client says so with ``Accept-Language``. Anything else reads Chinese, the
language of the companies hrflow serves.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT: Language = "zh"
COOKIE = "hrflow_lang"


def parse_accept_language(header: str) -> Language:
    """The first of our languages in an ``Accept-Language`` header, by its quality (``q``)."""
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def language(request: HTTPConnection) -> Language:
    """The language to answer ``request`` in: ``?lang=``, then the cookie, then the header."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if chosen in LANGUAGES:
            return chosen
    return parse_accept_language(request.headers.get("accept-language", ""))


def pick(lang: Language, zh: str, en: str) -> str:
    """One of two texts: the reader's language."""
    return en if lang == "en" else zh
