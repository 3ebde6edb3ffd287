"""The pages' words in the reader's language, from ``texts.yaml``.

``Texts(lang)`` is what a template sees as ``t``: ``t("app.inbox")`` for a phrase, ``t.stage(s)``,
``t.kind(k)``, ``t.role(r)`` for the names of things a case carries; a code with no text reads as
itself, humanised, so a new stage shows up on a page before its translation does.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from api.i18n import Language

Entry = dict[str, str]


@functools.cache
def catalogue() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(
        resources.files("api.web").joinpath("texts.yaml").read_text(encoding="utf-8"))
    return loaded


def _say(entry: Entry, lang: Language) -> str:
    return entry.get(lang) or entry.get("zh") or entry.get("en") or ""


class Texts:
    def __init__(self, lang: Language) -> None:
        self.lang = lang

    def __call__(self, key: str) -> str:
        section, _, name = key.partition(".")
        entry = catalogue().get(section, {}).get(name)
        if not isinstance(entry, dict):
            raise KeyError(f"no text {key!r} in api/web/texts.yaml")
        return _say(entry, self.lang)

    def _named(self, section: str, code: str | None) -> str:
        if not code:
            return ""
        entry = catalogue().get(section, {}).get(code)
        return _say(entry, self.lang) if isinstance(entry, dict) else code.replace("_", " ")

    def stage(self, code: str | None) -> str:
        return self._named("stages", code)

    def kind(self, code: str | None) -> str:
        return self._named("kinds", code)

    def role(self, code: str | None) -> str:
        return self._named("roles", (code or "").partition("/")[0])

    def status(self, code: str | None) -> str:
        return self._named("statuses", code)

    def event(self, action: str) -> str:
        """An audit action in words: ``si_change.opened`` reads 社保增减员变更：发起."""
        subject, _, verb = action.partition(".")
        verb = verb.rsplit(".", 1)[-1]
        known = catalogue().get("kinds", {}).get(subject) or catalogue().get("subjects", {}).get(subject)
        what = _say(known, self.lang) if isinstance(known, dict) else subject.replace("_", " ")
        return f"{what}{'：' if self.lang == 'zh' else ': '}{self._named('verbs', verb)}" if verb else what

    def value_of(self, key: str, value: object) -> object:
        """A coded value in words where the key says what it is (a stage, a status, a role, a kind)."""
        if not isinstance(value, str):
            return value
        section = {"stage": "stages", "status": "statuses", "role": "roles", "actor_role": "roles",
                   "kind": "options", "case_kind": "kinds", "insurance": "options",
                   "employment_status": "options"}.get(key)
        if section is None:
            return value
        entry = catalogue().get(section, {}).get(value)
        return _say(entry, self.lang) if isinstance(entry, dict) else value

    def option(self, code: str | None) -> str:
        return self._named("options", code)
