"""``hrflow policy show|check``: read the policy catalogue from the command line.

``show`` prints the rule in force for a region and date with its figures and source as JSON, so an
HR officer can see exactly what a case would pin; ``check`` validates the catalogue files (exit 1
when there are problems, for CI). Bad arguments and unknown regions exit 2 with one line on stderr.

With a database configured (``HRFLOW_DATABASE_URL``, or ``hrflow dev``'s env file), ``show`` answers
from the shipped files merged with the approved operator notices, exactly as a case would pin; every
rule in the answer carries its ``provenance`` (the shipped file and source, or the notice with who
entered and approved it). Without a database it answers from the shipped files and says so. A
figure nobody has entered is refused naming it, the place, the date and how to enter it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from domain import policy, workdays
from domain.policy import notices as policy_notices
from domain.policy.maternity import allowance_rule, leave_rules, paternity_leave
from domain.policy.models import RuleRef
from domain.policy.regions import NATIONAL
from hrflow.settings import ConfigurationError, load_settings

KINDS = ("maternity-leave", "contribution", "transfer", "deadlines", "calendar")
SHIPPED_ONLY = ("shipped catalogue only: no database is configured (HRFLOW_DATABASE_URL), so approved "
                "operator notices are not included")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``policy show`` and ``policy check`` on the main CLI's subparsers."""
    parser = subparsers.add_parser("policy", help="show or check the statutory policy catalogue")
    sub = parser.add_subparsers(dest="policy_command", required=True)
    show = sub.add_parser("show", help="the rule in force for a region and date, as JSON")
    show.add_argument("kind", choices=KINDS)
    show.add_argument("--region", help="province or city, Chinese or pinyin (origin for transfer)")
    show.add_argument("--on", help="date YYYY-MM-DD (default today)")
    show.add_argument("--to", dest="to", help="destination province (transfer)")
    show.add_argument("--type", dest="type", help="pension, medical, unemployment or housing_fund (transfer)")
    show.add_argument("--shipped-only", action="store_true", help="ignore the operator notices in the database")
    check = sub.add_parser("check", help="validate the catalogue files")
    check.add_argument("--dir", dest="dir", help="catalogue directory (default: the packaged data)")
    parser.set_defaults(func=run)
    return parser


class _BadArgs(Exception):
    pass


def _date(value: Any) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _BadArgs(f"--on {value!r} is not a date (YYYY-MM-DD)") from None


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    return value


def _print(payload: Any) -> None:
    print(json.dumps(_dump(payload), ensure_ascii=False, indent=2, default=str))


def _need(value: str | None, flag: str, kind: str) -> str:
    if not value:
        raise _BadArgs(f"policy show {kind} needs {flag}")
    return value


def _show(args: argparse.Namespace) -> Any:
    kind = args.kind
    on = _date(getattr(args, "on", None))
    region = getattr(args, "region", None)
    if kind == "maternity-leave":
        name = _need(region, "--region", kind)
        cat = policy.load_catalogue()
        code, national, local, missing = leave_rules(name, on, catalogue=cat)
        owner, allowance = allowance_rule(code, on, catalogue=cat)
        try:
            paternity: Any = paternity_leave(code, on, catalogue=cat)
        except policy.PolicyError as exc:
            paternity = {"missing": exc.message}
        example = policy.leave_entitlement(code, policy.BirthFacts(birth_date=on, child_order=1), on, catalogue=cat)
        return {
            "kind": kind, "region": code, "on": on,
            "national_rule": national, "provincial_rule": local or {"missing": missing},
            "example_single_normal_first_birth_on_date": example,
            "paternity": paternity,
            "maternity_allowance": {"region": owner, "rule": allowance},
        }
    if kind == "contribution":
        name = _need(region, "--region", kind)
        return {"kind": kind, "on": on, "limits": policy.contribution_limits(name, on),
                "rates": policy.contribution_rates(name, on)}
    if kind == "transfer":
        origin = _need(region, "--region", kind)
        destination = _need(getattr(args, "to", None), "--to", kind)
        insurance = _need(getattr(args, "type", None), "--type", kind)
        return {"kind": kind, "on": on,
                "requirements": policy.transfer_requirements(origin, destination, insurance, on)}
    if kind == "calendar":
        year = on.year
        arrangement = workdays.operator_arrangements().get(year)
        by = ("operator notice" if arrangement is not None else
              "holidays package" if year in workdays.known_years() else "none (provisional)")
        return {"kind": kind, "on": on, "working_day": workdays.is_working_day(on),
                "arrangement_known": workdays.is_arrangement_known(year), "arrangement_from": by,
                "arrangement_provenance": arrangement.source if arrangement is not None else None,
                "how_to_enter": None if workdays.is_arrangement_known(year) else
                f"{year} 年的节假日安排尚未公布或未录入：请管理员通过 POST /policy/notices 录入（kind holiday_arrangement）"
                f"并由另一位管理员审批 (the {year} arrangement is not known: an admin enters it through "
                "POST /policy/notices and a second admin approves it)"}
    if kind == "deadlines":
        rules = policy.deadline_rules(on, region=region)
        return {"kind": kind, "on": on, "region": region or NATIONAL,
                "deadlines": {code: {"region": owner, "rule": rule} for code, (owner, rule) in rules.items()}}
    raise _BadArgs(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def _refs(value: Any) -> list[dict[str, Any]]:
    """Every rule reference inside a dumped answer."""
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if {"id", "section", "region", "content_hash"} <= item.keys():
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _with_provenance(answer: Any, layers: str) -> Any:
    """The answer plus where each rule came from (shipped file or operator notice)."""
    dumped = _dump(answer)
    cat = policy.load_catalogue()
    provenance = {ref["id"]: cat.provenance(RuleRef.model_validate(ref)) for ref in _refs(dumped)}
    return dumped | {"layers": layers, "provenance": dict(sorted(provenance.items()))}


def _install_layer(shipped_only: bool) -> tuple[str, Any]:
    """Read the operator layer from the database when one is configured; (description, engine)."""
    if shipped_only:
        return "shipped catalogue only (--shipped-only)", None
    settings = load_settings()
    if not settings.database_url:
        return SHIPPED_ONLY, None
    from sqlalchemy.exc import DBAPIError

    from db.policy_notices import NoticeLayerProvider
    from db.session import make_engine

    engine = make_engine(settings.sqlalchemy_url, pool_size=1, limits=settings.database_limits(), name="hrflow-cli")
    provider = NoticeLayerProvider(engine, min_interval=3600, described="operator notices in the database")
    try:
        layer = provider()
    except DBAPIError as exc:
        engine.dispose()
        raise _BadArgs(f"cannot read the operator notices from HRFLOW_DATABASE_URL: {str(exc).splitlines()[0]} "
                       "(use --shipped-only for the shipped catalogue)") from None
    policy_notices.install(provider)
    return f"shipped catalogue + {layer.layer.described}", engine


def run(args: argparse.Namespace) -> int:
    """0: printed the answer or the catalogue is clean; 1: catalogue problems; 2: bad arguments."""
    command = getattr(args, "policy_command", None)
    try:
        if command == "check":
            problems = policy.check_catalogue(getattr(args, "dir", None))
            _print({"ok": not problems,
                    "problems": [{"file": p.file, "rule": p.rule, "kind": p.kind, "message": p.message}
                                 for p in problems]})
            return 1 if problems else 0
        if command == "show":
            layers, engine = _install_layer(bool(getattr(args, "shipped_only", False)))
            try:
                _print(_with_provenance(_show(args), layers))
            except policy.PolicyError as exc:
                print(f"error: {exc.message} [{layers}]", file=sys.stderr)
                return 2
            finally:
                if engine is not None:
                    policy_notices.install(None)
                    engine.dispose()
            return 0
        raise _BadArgs("policy needs a command: show or check")
    except policy.CatalogueError as exc:
        for problem in exc.problems:
            print(f"policy catalogue: {problem}", file=sys.stderr)
        return 1
    except policy.PolicyError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except (_BadArgs, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
