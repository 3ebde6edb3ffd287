"""The reader's language: Chinese first, English when she asks for it.

A person chooses on a page (the ``hrflow_lang`` cookie the language switch sets, or ``?lang=`` on
any URL); an API client says so with ``Accept-Language``. Anything else reads Chinese, the
language of the companies hrflow serves.

What the API answers a person is in her language too: a text that exists in both languages is a
``Text`` (or, from code that writes "中文 (English)", a string ``bilingual`` splits), and ``say``
gives her half. A refused field is named in words from ``api/field_labels.yaml`` (``label``).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, Literal, Self

import yaml
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


class Text(str):
    """A text in both languages. As a ``str`` it reads "中文 (English)", as every bilingual text of
    hrflow does, so it goes wherever a string goes (a log line, an audit record, JSON); an answer
    to a person carries only the half of her language (``say``)."""

    zh: str
    en: str

    def __new__(cls, zh: str, en: str) -> Self:
        text = super().__new__(cls, f"{zh} ({en})")
        text.zh, text.en = zh, en
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # a copy or a pickle keeps both halves
        return (Text, (self.zh, self.en))

    def said(self, lang: Language) -> str:
        return pick(lang, self.zh, self.en)


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ENGLISH = re.compile(r"[A-Za-z]{2,}")


def chinese(text: str) -> bool:
    """Does ``text`` hold Chinese characters?"""
    return _CJK.search(text) is not None


def bilingual(text: str) -> Text | None:
    """``text`` as its two halves when it is written "中文 (English)": the Chinese before the final
    parenthesised group, the English inside it (parentheses nested in the English are its own, as in
    "art. 40(3)"). None for a text in one language: the Chinese must hold Chinese characters, the
    English words and a space ("文本不能包含 NUL 字符 (U+0000)" is Chinese only)."""
    if isinstance(text, Text):
        return text
    stripped = text.rstrip()
    if not stripped.endswith(")"):
        return None
    depth = 0
    for at in range(len(stripped) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(stripped[at], 0)
        if depth == 0:
            break
    else:
        return None
    zh, en = stripped[:at].rstrip(), stripped[at + 1:-1].strip()
    if not chinese(zh) or " " not in en or _ENGLISH.search(en) is None:
        return None
    return Text(zh, en)


def say(text: str, lang: Language) -> str:
    """The half of ``text`` in ``lang`` (a ``Text``, or a string written "中文 (English)"); a text in
    one language as it is."""
    both = bilingual(text)
    return both.said(lang) if both is not None else text


# ------------------------------------------------------------------ field labels
LOCATIONS = ("query", "path", "header", "cookie")  # how FastAPI names where a parameter came from


@functools.cache
def _labels() -> dict[str, dict[str, Any]]:
    source = resources.files("api").joinpath("field_labels.yaml").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(source)
    return loaded["fields"]


def _entry(name: str) -> dict[str, Any]:
    return _labels().get(name) or {}


def has_label(name: str) -> bool:
    """Does the catalogue give ``name`` its words in both languages?"""
    entry = _entry(name)
    return bool(entry.get("zh")) and bool(entry.get("en"))


def name_label(name: str, lang: Language) -> str:
    """One field name in words (``api/field_labels.yaml``); a name it does not list reads as itself."""
    said = _entry(name).get(lang)
    return str(said) if said else name.replace("_", " ")


def label(field: str, lang: Language) -> str:
    """A refused field's dotted path in words: ``handover.0.title`` is "交接事项第 1 项的事项名称" or
    "title of handover #1"; ``query.limit`` names the parameter ``limit``."""
    parts = [p for p in field.split(".") if p != ""]
    if len(parts) > 1 and parts[0] in LOCATIONS:
        parts = parts[1:]
    words: list[str] = []
    for part in parts or ["body"]:
        if part.isascii() and part.isdigit() and words:
            number = int(part) + 1
            words[-1] = f"{words[-1]}第 {number} 项" if lang == "zh" else f"{words[-1]} #{number}"
        else:
            words.append(name_label(part, lang))
    return "的".join(words) if lang == "zh" else " of ".join(reversed(words))


def field_format(field: str, lang: Language) -> str | None:
    """How the field is written, when the catalogue says (for a value that does not match its
    pattern: a clerk is told the format, never the regular expression)."""
    names = [p for p in field.split(".") if p and not p.isdigit()]
    written = _entry(names[-1]).get("format") if names else None
    return str(written[lang]) if isinstance(written, dict) and written.get(lang) else None
