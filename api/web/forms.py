"""Forms made from the API's own request models, and the JSON a posted form becomes.

A form is drawn from the JSON schema of the route's body model (the same model the API validates),
so a page asks for exactly what the API takes and cannot drift from it: a date is a date picker, an
enum a list to choose from, a list of choices a set of checkboxes, a nested model a fieldset, a list
of items a few rows. Posted back, ``to_json`` turns the fields into the body; the API judges it, and
each refused field's message is shown beside that field (the API names it by the same dotted path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from api import i18n
from api.i18n import Language
from api.web.texts import catalogue

ROWS_OF_ITEMS = 3  # rows offered for a list of items (handover items, say); empty rows are dropped
LONG_TEXT = ("reason", "note", "comment", "description")


@dataclass
class Field:
    name: str  # dotted, as the API names it in a refusal: "facts.birth_date", "handover.0.title"
    label: str
    kind: str  # text, textarea, date, month, number, decimal, checkbox, select, choices, list, group
    required: bool = False
    options: list[str] = field(default_factory=list)
    default: Any = None
    hint: str = ""
    children: list[Field] = field(default_factory=list)
    error: str = ""
    value: Any = None


def label(name: str, lang: Language, title: str | None = None) -> str:
    """A field's name in words: the API's catalogue, then the pages' own (``texts.yaml``), then
    the schema's title, then the name itself."""
    if i18n.has_label(name):
        return i18n.name_label(name, lang)
    entry = catalogue().get("labels", {}).get(name)
    if isinstance(entry, dict) and (said := entry.get(lang) or entry.get("zh")):
        return str(said)
    return title or name.replace("_", " ")


def fields_of(model: type[BaseModel], lang: Language, *, skip: tuple[str, ...] = ()) -> list[Field]:
    schema = model.model_json_schema()
    return _fields(schema, schema.get("$defs", {}), "", lang, skip)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The node behind ``$ref`` and ``anyOf [X, null]``; whether null was one of the choices."""
    nullable = False
    while True:
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        if "anyOf" in node:
            choices = [c for c in node["anyOf"] if c.get("type") != "null"]
            nullable = nullable or len(choices) < len(node["anyOf"])
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            if len(choices) == 1:
                node = {**choices[0], **rest}
                continue
            types = {c.get("type") for c in choices}
            if types <= {"number", "string", "integer"}:  # a Decimal: a number or its text
                return {**rest, "type": "decimal"}, nullable
            return {**choices[0], **rest}, nullable
        if "allOf" in node and len(node["allOf"]) == 1:
            node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
            continue
        return node, nullable


def _fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str, lang: Language,
            skip: tuple[str, ...]) -> list[Field]:
    required = set(schema.get("required", []))
    out = []
    for name, raw in schema.get("properties", {}).items():
        if name in skip:
            continue
        node, _nullable = _resolve(raw, defs)
        path = f"{prefix}{name}"
        made = Field(name=path, label=label(name, lang, raw.get("title") or node.get("title")),
                     kind="text", required=name in required, default=node.get("default", raw.get("default")),
                     hint=str(raw.get("description") or node.get("description") or ""))
        kind = node.get("type")
        if "enum" in node:
            made.kind, made.options = "select", [str(v) for v in node["enum"]]
        elif kind == "boolean":
            made.kind = "checkbox"
        elif kind == "integer":
            made.kind = "number"
        elif kind in ("number", "decimal"):
            made.kind = "decimal"
        elif kind == "string" and node.get("format") == "date":
            made.kind = "date"
        elif kind == "string" and "pattern" in node and "(0[1-9]|1[0-2])" in node["pattern"]:
            made.kind = "month"
        elif kind == "string":
            long = name in LONG_TEXT or (node.get("maxLength") or 0) > 300
            made.kind = "textarea" if long else "text"
        elif kind == "object" and "properties" in node:
            made.kind, made.children = "group", _fields(node, defs, f"{path}.", lang, ())
        elif kind == "array":
            items, _ = _resolve(node.get("items", {}), defs)
            if "enum" in items:
                made.kind, made.options = "choices", [str(v) for v in items["enum"]]
            elif items.get("type") == "object":
                made.kind = "list"
                made.children = [Field(name=f"{path}.{i}", label=f"{made.label} {i + 1}", kind="group",
                                       children=_fields(items, defs, f"{path}.{i}.", lang, ()))
                                 for i in range(ROWS_OF_ITEMS)]
            else:
                made.kind = "list_text"  # comma-separated values
        out.append(made)
    return out


def fill(fields: list[Field], values: dict[str, Any], errors: dict[str, str]) -> None:
    """Put what was posted (or a default) back into the form, with each field's refusal."""
    for f in fields:
        f.value = values.get(f.name, f.default if f.value is None else f.value)
        f.error = errors.get(f.name, "")
        fill(f.children, values, errors)


def to_json(fields: list[Field], form: Any) -> dict[str, Any]:
    """The request body a posted form stands for: empty fields left out, so the API's defaults and
    its 'required' refusals apply as they would to any client."""
    body: dict[str, Any] = {}
    for f in fields:
        key = f.name.rsplit(".", 1)[-1]
        if f.kind == "group":
            inner = to_json(f.children, form)
            if inner:
                body[key] = inner
        elif f.kind == "list":
            rows = [row for row in (to_json(c.children, form) for c in f.children) if row]
            if rows or f.required:
                body[key] = rows
        elif f.kind == "choices":
            chosen = form.getlist(f.name)
            if chosen or f.required:
                body[key] = chosen
        elif f.kind == "list_text":
            text = str(form.get(f.name) or "").replace("，", ",")
            items = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
            if items or f.required:
                body[key] = items
        elif f.kind == "checkbox":
            body[key] = form.get(f.name) in ("on", "true", "1")
        else:
            text = str(form.get(f.name) or "").strip()
            if text:
                body[key] = int(text) if f.kind == "number" and text.lstrip("-").isascii() and text.lstrip("-").isdigit() else text
    return body


def posted_values(form: Any) -> dict[str, Any]:
    return {k: (form.getlist(k) if len(form.getlist(k)) > 1 else form.get(k)) for k in form}


def refusals_by_field(answer_body: Any) -> tuple[dict[str, str], list[str]]:
    """The API's 422 items as {field: message}, and the messages of no field shown on the form."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    detail = answer_body.get("detail") if isinstance(answer_body, dict) else None
    if isinstance(detail, list):
        for item in detail:
            if isinstance(item, dict):
                name, message = str(item.get("field") or ""), str(item.get("message") or item.get("rule") or "")
                if name:
                    by_field[name] = message
                else:
                    general.append(message)
    return by_field, general
