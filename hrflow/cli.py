"""The ``hrflow`` command: ``dev`` for everything on embedded defaults (``dev --demo`` or ``demo``
loads the demo company into it); ``migrate``, ``worker`` and
``api`` for production; ``token``, ``audit verify``, ``schedules`` and ``deliver`` for operators;
``policy`` for the rules.

A configuration problem ends the command with one line naming the setting and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from hrflow import ops_cli, policy_cli
from hrflow.settings import ConfigurationError, Settings, load_settings, require_database, unreachable_database


def _dev(args: argparse.Namespace) -> int:
    from hrflow import dev

    return dev.run(load_settings(), demo=args.demo)


def _demo(args: argparse.Namespace) -> int:
    from hrflow import demo

    return demo.main(load_settings())


def _migrate(args: argparse.Namespace) -> int:
    from db import migrate

    settings = load_settings()
    url = settings.migration_sqlalchemy_url
    try:
        if args.down:
            migrate.downgrade(url, args.down)
        else:
            migrate.upgrade(url, "head")
            sealed = seal_plain_personal_data_at(settings, url)
            if sealed:
                print(f"sealed {sealed} rows of personal data held plain")
        print(f"database at revision {migrate.current(url) or 'base (empty)'}")
    except Exception as exc:
        if "could not" in str(exc) or "connection" in str(exc).lower():
            raise unreachable_database(exc) from None
        raise
    return 0


def seal_plain_personal_data_at(settings: Settings, url: str) -> int:
    """After an upgrade: seal the personal data still held plain (``db.sealed_fields``) and give the
    simulated agency's older records pseudonyms (``integrations.si_agency``), as the owner."""
    from sqlalchemy import text

    from db.sealed_fields import PLAIN_LEFT, seal_plain_personal_data
    from db.session import make_engine
    from hrflow.temporal import keyring_engine, sealing_sessions
    from integrations.si_agency import pseudonymise_records

    engine = make_engine(url, pool_size=2, limits=settings.database_limits(), name="hrflow-migrate")
    try:
        if settings.blind_index_key is None:
            with engine.connect() as conn:
                if not conn.scalar(text(PLAIN_LEFT)):
                    return 0  # nothing to seal yet; the API and the worker insist on the key
            settings.require_blind_index_key()
        keys_engine = keyring_engine(settings, url)
        try:
            sessions = sealing_sessions(settings, engine, keys_engine=keys_engine)
            return seal_plain_personal_data(sessions) + pseudonymise_records(sessions)
        finally:
            keys_engine.dispose()
    finally:
        engine.dispose()


def _process_count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 256):
        raise argparse.ArgumentTypeError(f"进程数须为 1 到 256 的整数 (a whole number from 1 to 256): {text!r}")
    return int(text)


def _worker(args: argparse.Namespace) -> int:
    import worker
    from hrflow import logs

    logs.configure()
    settings = load_settings()
    processes = args.processes or settings.worker_processes
    if processes > 1:
        from hrflow.worker_pool import run_pool

        return run_pool(processes, grace_seconds=settings.worker_graceful_shutdown_seconds + 10)
    asyncio.run(worker.run(settings))
    return 0


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from db.session import make_engine
    from hrflow import logs
    from hrflow.temporal import connect

    settings = load_settings()
    settings.require_jwt_secret()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        require_database(engine)
    finally:
        engine.dispose()
    asyncio.run(connect(settings))  # fail fast with one line if Temporal is not there
    settings.require_blind_index_key()
    logs.configure()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_config=None, proxy_headers=True)
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.auth import mint_token
    from domain.roles import Role

    settings = load_settings()
    try:
        role = Role(args.role)
    except ValueError:
        raise ConfigurationError(
            f"unknown role {args.role!r}; one of: {', '.join(r.value for r in Role)}"
        ) from None
    minutes = args.minutes or settings.jwt_ttl_minutes
    token = mint_token(settings.require_jwt_secret(), user=args.user, role=role,
                       employee_id=args.employee, unit=args.unit, ttl=dt.timedelta(minutes=minutes))
    if args.codec_login:
        print(f"http://127.0.0.1:{settings.api_port}/codec/login?token={token}")
    elif args.report_login:
        print(f"http://127.0.0.1:{settings.api_port}/reports/monthly/login?month={args.report_login}&token={token}")
    else:
        print(token)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from db.audit import verify_case, verify_chain
    from db.audit_anchors import DirectoryAnchors
    from db.session import make_engine, make_session_factory

    settings = load_settings()
    anchors = DirectoryAnchors(args.anchors) if args.anchors else settings.anchor_store()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        report = (verify_case(session, args.case, anchors) if args.case
                  else verify_chain(session, anchors=anchors))
    engine.dispose()
    print(json.dumps(report.__dict__, default=str))
    return 0 if report.ok else 1


def _audit_seal(args: argparse.Namespace) -> int:
    from db.audit import seal
    from db.audit_anchors import anchor_newest
    from db.session import make_engine, make_session_factory

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        sealed = seal(session)
    if (anchors := settings.anchor_store()) is not None:
        with sessions() as session:
            anchor_newest(session, anchors)
    engine.dispose()
    print(json.dumps(sealed.__dict__ if sealed else {"sealed": None, "reason": "no chain moved since the last seal"}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrflow", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run everything on embedded defaults")
    dev.add_argument("--demo", action="store_true",
                     help="once it is up, load the demo company (employees, staff, cases) through the API")
    dev.set_defaults(func=_dev)
    sub.add_parser("demo", help="load the demo company into the running `hrflow dev` (found through its dev.env)"
                   ).set_defaults(func=_demo)
    migrate = sub.add_parser("migrate", help="apply database migrations (HRFLOW_DATABASE_URL)")
    migrate.add_argument("--down", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    migrate.set_defaults(func=_migrate)
    work = sub.add_parser("worker", help="run a Temporal worker")
    work.add_argument("--processes", type=_process_count, metavar="N",
                      help="run N worker processes, one per core (default: HRFLOW_WORKER_PROCESSES, 1)")
    work.set_defaults(func=_worker)
    sub.add_parser("api", help="run the HTTP API").set_defaults(func=_api)
    token = sub.add_parser("token", help="mint a bearer token for local use")
    token.add_argument("--user", required=True)
    token.add_argument("--role", required=True)
    token.add_argument("--employee", help="the user's own employee number, if any")
    token.add_argument("--unit", help="the unit whose people she works for (a listed login: the directory's word)")
    token.add_argument("--minutes", type=int, help="lifetime (default HRFLOW_JWT_TTL_MINUTES)")
    token.add_argument("--codec-login", action="store_true",
                       help="print the link that signs the Temporal UI in for decoding")
    token.add_argument("--report-login", metavar="MONTH",
                       help="print a link that opens the monthly report page (YYYY-MM) in a browser")
    token.set_defaults(func=_token)
    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="re-walk the seals and every case's hash chain (or one case's)")
    verify.add_argument("--case", metavar="WORKFLOW_ID", help="only this case's chain, against its newest seal")
    verify.add_argument("--anchors", metavar="DIR", type=Path,
                        help="compare the seals with the anchors in DIR (default HRFLOW_AUDIT_ANCHOR_DIR)")
    verify.set_defaults(func=_audit_verify)
    audit_sub.add_parser("seal", help="fold the chains that moved into the next seal now (the schedule does"
                         " it every few minutes)").set_defaults(func=_audit_seal)
    policy_cli.add_parser(sub)
    ops_cli.add_parsers(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"hrflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = _run(args)
    if argv is None and "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        # A command that touched Temporal skips interpreter finalisation: CPython 3.11 can abort
        # (SIGABRT) when the Temporal core's native threads take the GIL while it is finalising.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
