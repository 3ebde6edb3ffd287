"""Single sign-on for the web app: leave for the provider, come back, look the login up.

Between leaving and coming back, the attempt (state, nonce, PKCE verifier, where to go after) is
kept in a cookie signed with the session secret, for ten minutes, cleared when the answer comes:
an answer with another state, for another provider or after the ten minutes is refused (and the
provider's code itself works once). The provider only says which login it vouches for; who that
is and what she may do is hrflow's directory's word (``directory_identity``), so an account the
provider knows and the directory does not is refused, not created. The first
account to sign in as a login is bound to it (``bind``): a login claim a provider lets people
change does not let one person become another.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import asdict

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from db.models import SignInBinding
from domain.constant_time import same
from hrflow.settings import ConfigurationError, Settings
from integrations.dingtalk import DingTalkApi, DingTalkSignIn
from integrations.feishu import FeishuApi, FeishuSignIn
from integrations.identity import Attempt, IdentityProvider, SignInProblem, Vouched
from integrations.oidc import OidcProvider
from integrations.wecom import WeComApi, WeComSignIn

COOKIE = "hrflow_sign_in"
ATTEMPT_UNKNOWN = "attempt_unknown"  # no kept attempt matches the answer (old, used, forged, another browser)
NOT_IN_DIRECTORY = "not_in_directory"  # the provider vouched for a login hrflow does not know (or no longer)
ACCOUNT_MISMATCH = "account_mismatch"  # another account of the provider than the one bound to the login
ATTEMPT_SECONDS = 600
# the button of each provider on the sign-in page
LABELS = {"oidc": "app.sso_oidc", "wecom": "app.sso_wecom", "dingtalk": "app.sso_dingtalk", "feishu": "app.sso_feishu"}


def providers_from(settings: Settings) -> dict[str, IdentityProvider]:
    """Every provider the settings configure, by key; a half-configured one is a configuration error."""
    providers: dict[str, IdentityProvider] = {}
    if settings.oidc_issuer:
        if not settings.oidc_client_id:
            raise ConfigurationError("HRFLOW_OIDC_ISSUER is set but HRFLOW_OIDC_CLIENT_ID is not")
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        providers["oidc"] = OidcProvider(issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
                                         client_secret=secret, scopes=settings.oidc_scopes,
                                         login_claim=settings.oidc_login_claim)
    api = wecom_api(settings)
    if api is not None:
        providers["wecom"] = WeComSignIn(api=api, login_base=settings.wecom_login_base)
    dingtalk = dingtalk_api(settings)
    if dingtalk is not None:
        providers["dingtalk"] = DingTalkSignIn(api=dingtalk, login_base=settings.dingtalk_login_base)
    feishu = feishu_api(settings)
    if feishu is not None:
        providers["feishu"] = FeishuSignIn(api=feishu, accounts_base=settings.feishu_accounts_base)
    return providers


def dingtalk_api(settings: Settings) -> DingTalkApi | None:
    """The DingTalk app the settings configure (sign-in, notifications, contacts), or None."""
    if not settings.dingtalk_app_key:
        return None
    if settings.dingtalk_app_secret is None:
        raise ConfigurationError("HRFLOW_DINGTALK_APP_KEY is set but HRFLOW_DINGTALK_APP_SECRET is not")
    return DingTalkApi(app_key=settings.dingtalk_app_key, app_secret=settings.dingtalk_app_secret.get_secret_value(),
                       agent_id=settings.dingtalk_agent_id or "", oapi_base=settings.dingtalk_oapi_base,
                       api_base=settings.dingtalk_api_base)


def feishu_api(settings: Settings) -> FeishuApi | None:
    """The Feishu app the settings configure (sign-in, cards, messages, contacts), or None."""
    if not settings.feishu_app_id:
        return None
    if settings.feishu_app_secret is None:
        raise ConfigurationError("HRFLOW_FEISHU_APP_ID is set but HRFLOW_FEISHU_APP_SECRET is not")
    return FeishuApi(app_id=settings.feishu_app_id, app_secret=settings.feishu_app_secret.get_secret_value(),
                     api_base=settings.feishu_api_base)


def wecom_api(settings: Settings) -> WeComApi | None:
    """The WeCom application the settings configure (sign-in, cards, messages), or None."""
    application = (settings.wecom_agent_id, settings.wecom_secret)
    if not settings.wecom_corp_id or application == (None, None):
        return None  # no WeCom, or its address book only (HRFLOW_WECOM_CONTACTS_SECRET)
    if not (settings.wecom_agent_id and settings.wecom_secret):
        raise ConfigurationError("HRFLOW_WECOM_AGENT_ID and HRFLOW_WECOM_SECRET go together (the WeCom application)")
    return WeComApi(corp_id=settings.wecom_corp_id, agent_id=settings.wecom_agent_id,
                    secret=settings.wecom_secret.get_secret_value(), api_base=settings.wecom_api_base)


def return_address(request: Request, key: str) -> str:
    """Where the provider sends the browser back: registered with the provider, so it is the
    configured public address when there is one (behind a proxy the request's own may differ)."""
    settings: Settings = request.app.state.settings
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/app/sign-in/{key}/callback"


def _mac(request: Request, value: str) -> str:
    secret: str = request.app.state.jwt_secret
    return hmac.new(secret.encode(), f"sign-in:{value}".encode(), hashlib.sha256).hexdigest()


def keep(request: Request, response: Response, key: str, attempt: Attempt, next_path: str) -> None:
    payload = base64.urlsafe_b64encode(json.dumps(
        {"key": key, "next": next_path, "at": int(time.time()), **asdict(attempt)}).encode()).decode()
    settings: Settings = request.app.state.settings
    response.set_cookie(COOKIE, f"{payload}.{_mac(request, payload)}", max_age=ATTEMPT_SECONDS, httponly=True,
                        samesite="lax", secure=settings.secure_cookies, path="/app/sign-in")


def taken(request: Request, key: str, state: str) -> tuple[Attempt, str] | None:
    """The attempt this answer belongs to, with where to go after; None when the cookie is
    missing, forged, old, for another provider or another state."""
    payload, _, mac = request.cookies.get(COOKIE, "").partition(".")
    if not payload or not same(mac, _mac(request, payload)):
        return None
    try:
        kept = json.loads(base64.urlsafe_b64decode(payload))
        attempt = Attempt(state=kept["state"], nonce=kept["nonce"], verifier=kept["verifier"])
        fresh = time.time() - int(kept["at"]) <= ATTEMPT_SECONDS
    except (ValueError, KeyError, TypeError):
        return None
    if not fresh or kept["key"] != key or not same(state, attempt.state):
        return None
    return attempt, str(kept.get("next") or "")


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/app/sign-in")


def bind(session: Session, key: str, vouched: Vouched) -> None:
    """The first account to sign in as a login through a provider is bound to it; another
    account claiming that login later (renamed to it at the provider) is refused."""
    bound = session.get(SignInBinding, (key, vouched.login))
    if bound is None:
        session.add(SignInBinding(provider=key, login=vouched.login, subject=vouched.subject,
                                  bound_at=dt.datetime.now(dt.UTC)))
        session.flush()
    elif bound.subject != vouched.subject:
        raise SignInProblem(ACCOUNT_MISMATCH, f"login {vouched.login!r} is bound to another {key} account")
