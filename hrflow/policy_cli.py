"""``hrflow policy show|check``: read the policy catalogue from the command line.

``show`` prints the rule in force for a region and date with its figures and source as JSON, so an
HR officer can see exactly what a case would pin; ``check`` validates the catalogue files (exit 1
when there are problems, for CI). Bad arguments and unknown regions exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from domain.policy import (
    BirthFacts,
    CatalogueError,
    PolicyError,
    check_catalogue,
    contribution_limits,
    contribution_rates,
    deadline_rules,
    leave_entitlement,
    load_catalogue,
    transfer_requirements,
)
from domain.policy.maternity import allowance_rule, maternity_rules, paternity_leave
from domain.policy.regions import NATIONAL

KINDS = ("maternity-leave", "contribution", "transfer", "deadlines")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``policy show`` and ``policy check`` on the main CLI's subparsers."""
    parser = subparsers.add_parser("policy", help="show or check the statutory policy catalogue")
    sub = parser.add_subparsers(dest="policy_command", required=True)
    show = sub.add_parser("show", help="the rule in force for a region and date, as JSON")
    show.add_argument("kind", choices=KINDS)
    show.add_argument("--region", help="province or city, Chinese or pinyin (origin for transfer)")
    show.add_argument("--on", help="date YYYY-MM-DD (default today)")
    show.add_argument("--to", dest="to", help="destination province (transfer)")
    show.add_argument("--type", dest="type", help="pension, medical, unemployment or housing_fund (transfer)")
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
        cat = load_catalogue()
        code, national, local = maternity_rules(name, on, catalogue=cat)
        owner, allowance = allowance_rule(code, on, catalogue=cat)
        try:
            paternity: Any = paternity_leave(code, on, catalogue=cat)
        except PolicyError as exc:
            paternity = {"missing": exc.message}
        example = leave_entitlement(code, BirthFacts(birth_date=on, child_order=1), on, catalogue=cat)
        return {
            "kind": kind, "region": code, "on": on,
            "national_rule": national, "provincial_rule": local,
            "example_single_normal_first_birth_on_date": example,
            "paternity": paternity,
            "maternity_allowance": {"region": owner, "rule": allowance},
        }
    if kind == "contribution":
        name = _need(region, "--region", kind)
        return {"kind": kind, "on": on, "limits": contribution_limits(name, on),
                "rates": contribution_rates(name, on)}
    if kind == "transfer":
        origin = _need(region, "--region", kind)
        destination = _need(getattr(args, "to", None), "--to", kind)
        insurance = _need(getattr(args, "type", None), "--type", kind)
        return {"kind": kind, "on": on,
                "requirements": transfer_requirements(origin, destination, insurance, on)}
    if kind == "deadlines":
        rules = deadline_rules(on, region=region)
        return {"kind": kind, "on": on, "region": region or NATIONAL,
                "deadlines": {code: {"region": owner, "rule": rule} for code, (owner, rule) in rules.items()}}
    raise _BadArgs(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def run(args: argparse.Namespace) -> int:
    """0: printed the answer or the catalogue is clean; 1: catalogue problems; 2: bad arguments."""
    command = getattr(args, "policy_command", None)
    try:
        if command == "check":
            problems = check_catalogue(getattr(args, "dir", None))
            _print({"ok": not problems,
                    "problems": [{"file": p.file, "rule": p.rule, "kind": p.kind, "message": p.message}
                                 for p in problems]})
            return 1 if problems else 0
        if command == "show":
            _print(_show(args))
            return 0
        raise _BadArgs("policy needs a command: show or check")
    except CatalogueError as exc:
        for problem in exc.problems:
            print(f"policy catalogue: {problem}", file=sys.stderr)
        return 1
    except PolicyError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except _BadArgs as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
