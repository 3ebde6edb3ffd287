"""Operator commands: ``hrflow schedules sync|list|pause|resume|trigger`` and ``hrflow deliver``.

Pausing here is the same as pausing in the Temporal UI, and ``sync`` keeps either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from hrflow.settings import ConfigurationError, load_settings


async def _client() -> Any:
    from hrflow.temporal import connect

    return await connect(load_settings())


def _schedules(args: argparse.Namespace) -> int:
    from hrflow import schedules

    async def go() -> Any:
        client = await _client()
        settings = load_settings()
        if args.action == "sync":
            return await schedules.sync(client, settings.temporal_task_queue)
        if args.action == "list":
            return await schedules.describe_all(client)
        try:
            handle = client.get_schedule_handle(schedules.known(args.schedule_id).schedule_id)
        except KeyError as exc:
            raise ConfigurationError(exc.args[0]) from None
        if args.action == "pause":
            await handle.pause(note=args.note or "paused with hrflow schedules pause")
        elif args.action == "resume":
            await handle.unpause(note=args.note or "resumed with hrflow schedules resume")
        elif args.action == "trigger":
            await handle.trigger()
        return {args.schedule_id: args.action}

    print(json.dumps(asyncio.run(go()), indent=2, ensure_ascii=False))
    # Skip interpreter finalisation, as the worker does: CPython 3.11 can abort when the Temporal
    # core's native threads touch the GIL while the interpreter is finalising.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _deliver(args: argparse.Namespace) -> int:
    from db.session import make_engine
    from hrflow.delivery import Relay
    from hrflow.temporal import sealing_sessions

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url, limits=settings.database_limits())
    stats = Relay.from_settings(sealing_sessions(settings, engine, url=settings.sqlalchemy_url), settings).drain()
    engine.dispose()
    print(json.dumps({"planned": stats.planned, "sent": stats.sent, "retrying": stats.retrying,
                      "failed": stats.failed, "errors": stats.errors[:10]}, ensure_ascii=False))
    return 0 if not stats.failed else 1


def _unbind(args: argparse.Namespace) -> int:
    """Release a login from the provider account it was bound to at its first sign-in (audited)."""
    from db import audit
    from db.models import SignInBinding
    from db.session import make_engine, make_session_factory, unit_of_work

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url, limits=settings.database_limits())
    with unit_of_work(make_session_factory(engine)) as session:
        bound = session.get(SignInBinding, (args.provider, args.login))
        if bound is not None:
            session.delete(bound)
            audit.append(session, audit.AuditEntry(actor=args.by, actor_role="admin", action="sign_in.unbound",
                                                   subject=args.login, after={"provider": args.provider,
                                                                              "reason": args.reason}))
    engine.dispose()
    print(json.dumps({"provider": args.provider, "login": args.login, "released": bound is not None}))
    return 0 if bound is not None else 1


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sched = sub.add_parser("schedules", help="Temporal Schedules: sync, list, pause, resume, trigger")
    actions = sched.add_subparsers(dest="action", required=True)
    actions.add_parser("sync", help="create missing schedules, update existing ones (keeps paused state)")
    actions.add_parser("list", help="each schedule: paused?, next and recent runs")
    for name, text in (("pause", "pause a schedule"), ("resume", "resume a paused schedule"),
                       ("trigger", "run a schedule's action now")):
        p = actions.add_parser(name, help=text)
        p.add_argument("schedule_id", help="reminder-sweep or monthly-report")
        if name != "trigger":
            p.add_argument("--note", help="why (shown in the Temporal UI)")
    sched.set_defaults(func=_schedules)
    sub.add_parser("deliver", help="send every due notification now (the worker also does this)"
                   ).set_defaults(func=_deliver)
    sign_in = sub.add_parser("sign-in", help="single sign-on bindings")
    sign_in_actions = sign_in.add_subparsers(dest="action", required=True)
    unbind = sign_in_actions.add_parser("unbind", help="release a login bound to a replaced provider account")
    unbind.add_argument("--provider", required=True, help="oidc, wecom, dingtalk or feishu")
    unbind.add_argument("--login", required=True, help="the staff login or employee number")
    unbind.add_argument("--by", required=True, help="your own login (audited)")
    unbind.add_argument("--reason", required=True, help="why (audited)")
    unbind.set_defaults(func=_unbind)
