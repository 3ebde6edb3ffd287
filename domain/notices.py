"""What a notification says: its template rendered in the recipient's language (zh or en).

Templates are data (``notice_templates.yaml``); a template with no entry falls back to a generic
notice listing its parameters, so a new process step is never silently undeliverable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template

TEMPLATES_FILE = Path(__file__).with_name("notice_templates.yaml")
LANGUAGES = ("zh", "en")
FALLBACK = "_default"

log = logging.getLogger("hrflow.notices")


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str


@cache
def _compiled() -> dict[str, dict[str, tuple[Template, Template]]]:
    env = Environment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)
    raw = yaml.safe_load(TEMPLATES_FILE.read_text(encoding="utf-8"))
    return {name: {lang: (env.from_string(t["subject"]), env.from_string(t["body"])) for lang, t in langs.items()}
            for name, langs in raw.items()}


def names() -> list[str]:
    return sorted(n for n in _compiled() if n != FALLBACK)


def render(template: str, params: dict[str, Any], language: str, *, workflow_id: str | None = None) -> Notice:
    """Render ``template``; a template whose parameters are missing falls back rather than failing
    delivery (the notification is still said, generically)."""
    language = language if language in LANGUAGES else "zh"
    context = {**params, "params": params, "template": template, "workflow_id": workflow_id or "-"}
    entry = _compiled().get(template)
    if entry is not None:
        subject, body = entry[language]
        try:
            return Notice(subject.render(context).strip(), body.render(context).strip())
        except Exception:  # a parameter the template needs is missing, or any other slip: say it generically
            log.debug("template %s fell back to the generic notice", template, exc_info=True)
    subject, body = _compiled()[FALLBACK][language]
    return Notice(subject.render(context).strip(), body.render(context).strip())
