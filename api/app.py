"""The FastAPI application: routers, error shape, request ids, body limits, codec CORS, lifespan.

``create_app`` takes ready-made parts (tests pass their own engine and Temporal client); without
them the lifespan connects using the settings. The API holds no state of its own: run as many
replicas as needed behind a load balancer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from api import docs, errors, web
from api.auth import listed_in_directory
from api.body_limit import BodyLimit
from api.request_context import RequestContext
from api.routes import (
    access_log,
    approval_routes,
    audit,
    base_adjustments,
    cases,
    delegations,
    employee_import,
    employee_sync,
    employees,
    erasures,
    evidence,
    health,
    inbox,
    maternity,
    me,
    non_compete,
    notifications,
    offboarding,
    organisation,
    personal_export,
    policies,
    policy_notices,
    receivables,
    reports,
    resignations,
    schedules,
    si_changes,
    staff,
    tasks,
    transfer_materials,
    transfer_stats,
    transfers,
    unit_import,
    unit_sync,
)
from api.routes import codec as codec_routes
from api.transactions import size_threads
from api.web.sso import dingtalk_api, feishu_api
from api.workflow_calls import bounded_updates
from db.policy_notices import NoticeLayerProvider
from db.session import make_engine
from domain.policy import notices as policy_notices_layer
from hrflow.codec import EncryptionCodec
from hrflow.settings import ConfigurationError, Settings
from hrflow.temporal import codec_from, connect, keyring_engine, sealing_sessions
from integrations.dingtalk import DingTalkContacts
from integrations.feishu import FeishuContacts
from integrations.hr_master import ExportFileMaster, HrMaster
from integrations.wecom import WeComApi, WeComContacts


class CodecCORS:
    """CORS for the Temporal UI's origin on ``/codec`` only; the rest of the API stays same-origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["POST", "OPTIONS"],
            allow_headers=["content-type", "x-namespace", "authorization"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/codec/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# What may be cached: the web app's style sheet and icon, the local API documentation's scripts.
CACHEABLE = ("/static/", f"{docs.ASSETS}/")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    temporal: Client | None = None,
    codec: PayloadCodec | None = None,
) -> FastAPI:
    jwt_secret = settings.require_jwt_secret()
    payload_codec = codec or codec_from(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.sqlalchemy_url, pool_size=settings.database_pool_size,
                                                limits=settings.database_limits(), name="hrflow-api")
        # One keyring per process: the payload codec's when it has one (one key cache, one pool).
        keyring = payload_codec.keyring if isinstance(payload_codec, EncryptionCodec) else None
        keys_engine = None if keyring else keyring_engine(settings, app.state.engine.url.render_as_string(hide_password=False))
        app.state.session_factory = sealing_sessions(settings, app.state.engine, keyring=keyring, keys_engine=keys_engine)
        size_threads(app, app.state.engine.pool.size())  # one thread per connection, never more
        client = temporal if temporal is not None else await connect(settings, codec=payload_codec)
        app.state.temporal = bounded_updates(client, settings.temporal_update_wait_seconds)
        # The catalogue's operator layer (approved notices), on a connection of its own.
        layer_engine = make_engine(app.state.engine.url.render_as_string(hide_password=False), pool_size=1,
                                   limits=settings.database_limits(), name="hrflow-api-policy")
        app.state.policy_layer = NoticeLayerProvider(layer_engine)
        try:
            await anyio.to_thread.run_sync(app.state.policy_layer)  # read once now; until it succeeds a pin answers 503, never shipped-only
        except DBAPIError as exc:
            logging.getLogger("hrflow.api").warning("policy notices not read yet: %s", str(exc).splitlines()[0])
        policy_notices_layer.install(app.state.policy_layer)
        try:
            yield
        finally:
            policy_notices_layer.install(None)
            layer_engine.dispose()
            if keys_engine is not None:
                keys_engine.dispose()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="hrflow",
        version="0.1.0",
        description="人力资源流程编排：产假、离职、跨省转移和社保变更，每个案件都是一个持久的 Temporal 工作流。"
        "除 `/health` 和 `/evidence/public-key` 外，每个接口都需要 `hrflow token` 签发的令牌（点 Authorize 填入）；"
        "每个错误都答 `{\"error\": 代码, \"detail\": ...}`。\n\n"
        "HR process orchestration: maternity leave, offboarding, cross-province transfers and "
        "social-insurance changes, each case a durable Temporal workflow. Every operation but `/health` and "
        "`/evidence/public-key` needs a token from `hrflow token` (click Authorize); every error answers "
        "`{\"error\": code, \"detail\": ...}`.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by api.docs: FastAPI's own pages load from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.jwt_secret = jwt_secret
    app.state.codec = payload_codec
    app.state.directory = listed_in_directory
    app.state.hr_master = hr_master(settings)
    errors.install(app)

    for module in (health, me, employee_import, employee_sync, unit_import, unit_sync, organisation, delegations, approval_routes, employees, cases, inbox, si_changes, base_adjustments, maternity, receivables, offboarding, non_compete,
                   transfer_materials, transfer_stats, transfers, audit, evidence, policies, policy_notices, notifications, staff, tasks, reports,
                   resignations, schedules, access_log, personal_export, erasures, codec_routes):
        # transfer_stats before transfers: /transfers/statistics is not a workflow id
        app.include_router(module.router)
    web.install(app)
    docs.install(app)
    app.add_middleware(RequestContext, cacheable=CACHEABLE)
    app.add_middleware(CodecCORS, origins=settings.ui_origins)
    app.add_middleware(BodyLimit, limit_for=lambda scope: body_limit(settings, scope))
    return app


def hr_master(settings: Settings) -> HrMaster | None:
    """The HR master the syncs read: the export file, or the WeCom, Feishu or DingTalk address book; one."""
    masters = (settings.hr_master_export, settings.wecom_contacts_secret, settings.feishu_contacts,
               settings.dingtalk_contacts)
    if sum(map(bool, masters)) > 1:
        raise ConfigurationError("set one of HRFLOW_HR_MASTER_EXPORT, HRFLOW_WECOM_CONTACTS_SECRET,"
                                 " HRFLOW_FEISHU_CONTACTS and HRFLOW_DINGTALK_CONTACTS: the register follows one master")
    if settings.dingtalk_contacts:
        dingtalk = dingtalk_api(settings)
        if dingtalk is None:
            raise ConfigurationError("HRFLOW_DINGTALK_CONTACTS is set but HRFLOW_DINGTALK_APP_KEY is not")
        return DingTalkContacts(dingtalk)
    if settings.feishu_contacts:
        feishu = feishu_api(settings)
        if feishu is None:
            raise ConfigurationError("HRFLOW_FEISHU_CONTACTS is set but HRFLOW_FEISHU_APP_ID is not")
        return FeishuContacts(feishu)
    if settings.hr_master_export:
        return ExportFileMaster(settings.hr_master_export)
    if settings.wecom_contacts_secret:
        if not settings.wecom_corp_id:
            raise ConfigurationError("HRFLOW_WECOM_CONTACTS_SECRET is set but HRFLOW_WECOM_CORP_ID is not")
        return WeComContacts(WeComApi(corp_id=settings.wecom_corp_id, agent_id=settings.wecom_agent_id or "",
                                      secret=settings.wecom_contacts_secret.get_secret_value(),
                                      api_base=settings.wecom_api_base))
    return None


def body_limit(settings: Settings, scope: Scope) -> int:
    """JSON bodies are small; multipart uploads may carry one document plus form overhead."""
    content_type = dict(scope["headers"]).get(b"content-type", b"")
    if content_type.startswith(b"multipart/"):
        return settings.max_upload_bytes + 64 * 1024
    return settings.max_body_bytes
