"""Single sign-on against a real OpenID provider (panva's oidc-provider, started by the test) and
the WeCom simulator: the login the provider vouches for is looked up in hrflow's directory, and a
forged, replayed, stale or foreign answer signs nobody in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from db.models import AuditEvent, StaffMember
from integrations.identity import INVALID, REFUSED, Attempt, SignInProblem
from integrations.oidc import OidcProvider
from tests.idp import CLIENT_ID, CLIENT_SECRET, running_provider
from tests.live_server import serving_in_a_thread
from tests.processes.support import add_employee
from tests.simulators.wecom import SimulatedWeCom

BASE = "http://hrflow.test"
CALLBACK = f"{BASE}/app/sign-in/oidc/callback"
ACCOUNTS = {"hr.li": {"name": "Mallory Admin", "preferred_username": "hr.li", "email": "x@evil.example"},
            "E1001": {"preferred_username": "E1001"},
            "stranger": {"preferred_username": "stranger"},
            "gone": {"preferred_username": "gone.zhang"},
            "nameless": {"name": "无登录名"},
            "mallory": {"preferred_username": "hr.li", "name": "Mallory"}}  # another account, renamed to hr.li


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with running_provider([CALLBACK], ACCOUNTS) as url:
        yield url


@pytest.fixture(scope="module")
def wecom() -> Iterator[tuple[SimulatedWeCom, str]]:
    sim = SimulatedWeCom(members={"hr.li": "李娜", "E1001": "王芳"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
async def web(settings, engine, session_factory, temporal_env, codec, issuer, wecom) -> AsyncIterator[httpx.AsyncClient]:
    sim, wecom_url = wecom
    sim.outage = False
    add_employee(session_factory, "E1001", name="王芳")
    with session_factory.begin() as s:
        s.add(StaffMember(user_id="hr.li", display_name="李娜", role="hr_specialist", level=1, email="hr.li@example.cn"))
        s.add(StaffMember(user_id="gone.zhang", display_name="张离", role="hr_specialist", level=1, active=False))
    configured = settings.model_copy(update={
        "oidc_issuer": issuer, "oidc_client_id": CLIENT_ID, "oidc_client_secret": SecretStr(CLIENT_SECRET),
        "wecom_corp_id": sim.corp_id, "wecom_agent_id": sim.agent_id, "wecom_secret": SecretStr(sim.secret),
        "wecom_api_base": wecom_url, "wecom_login_base": wecom_url})
    app = create_app(configured, engine=engine, temporal=temporal_env.client, codec=codec)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client):
        yield client


async def _provider_answer(start: str, login: str) -> str:
    """Through the provider's own pages as a browser would (its login form, then consent): the
    address it sends the browser back to."""
    async with httpx.AsyncClient(timeout=10) as idp:
        url = start
        for _ in range(12):
            answer = await idp.get(url)
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["location"])
                if url.startswith(BASE):
                    return url
                continue
            page = answer.text
            action = unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
            prompt = re.search(r'name="prompt" value="(\w+)"', page).group(1)  # type: ignore[union-attr]
            body = {"prompt": prompt, "login": login, "password": "any"} if prompt == "login" else {"prompt": prompt}
            posted = await idp.post(urljoin(url, action), data=body)
            assert posted.status_code in (302, 303), posted.text[:300]
            url = urljoin(url, posted.headers["location"])
            if url.startswith(BASE):
                return url
    raise AssertionError("the provider never sent the browser back")


async def _sign_in(web: httpx.AsyncClient, login: str, next_path: str = "") -> tuple[httpx.Response, str]:
    leave = await web.get("/app/sign-in/oidc" + (f"?next={next_path}" if next_path else ""))
    assert leave.status_code == 303
    back = await _provider_answer(leave.headers["location"], login)
    return await web.get(back.removeprefix(BASE)), back


def _signed_in(events: list[AuditEvent]) -> list[tuple[str, str, object]]:
    return [(e.actor, e.actor_role, e.after) for e in events if e.action == "session.signed_in"]


def test_every_refusal_is_worded_in_both_languages() -> None:
    from api.web import sso
    from api.web.texts import Texts
    from integrations import identity

    codes = [identity.UNAVAILABLE, identity.REFUSED, identity.INVALID, identity.NO_LOGIN,
             sso.ATTEMPT_UNKNOWN, sso.NOT_IN_DIRECTORY, sso.ACCOUNT_MISMATCH]
    for lang in ("zh", "en"):
        for code in codes:
            words = Texts(lang)(f"app.sso_{code}")
            assert words.strip(), (lang, code)  # a missing text raises KeyError


async def test_the_directory_says_who_signed_in_not_the_provider(web, session_factory) -> None:
    back, _ = await _sign_in(web, "hr.li", next_path="/app/cases")
    assert back.status_code == 303 and back.headers["location"] == "/app/cases"
    assert "hrflow_session" in web.cookies and "hrflow_sign_in" not in web.cookies
    home = await web.get("/app", follow_redirects=True)
    assert home.status_code == 200
    assert "<strong>hr.li</strong>（人事专员）" in home.text  # the directory's role for the login
    assert "Mallory" not in home.text and "evil" not in home.text  # nothing the provider said of her
    with session_factory() as s:
        assert _signed_in(list(s.scalars(select(AuditEvent)))) == [("hr.li", "hr_specialist", {"via": "oidc"})]


async def test_an_account_renamed_to_someone_elses_login_is_refused(web, database_url, monkeypatch) -> None:
    assert (await _sign_in(web, "hr.li"))[0].status_code == 303  # her account is bound to her login
    web.cookies.clear()
    taken, _ = await _sign_in(web, "mallory")
    assert taken.status_code == 403 and "已绑定到该登录服务的另一个账号" in taken.text
    assert "hrflow_session" not in web.cookies

    from hrflow import cli  # IT releases the login (her account was replaced, say): the next account binds

    monkeypatch.setenv("HRFLOW_DATABASE_URL", database_url)
    assert cli.main(["sign-in", "unbind", "--provider", "oidc", "--login", "hr.li", "--by", "it.zhou",
                     "--reason", "账号更换"]) == 0
    assert (await _sign_in(web, "mallory"))[0].status_code == 303


async def test_an_employee_signs_in_with_her_employee_number(web) -> None:
    back, _ = await _sign_in(web, "E1001")
    assert back.status_code == 303
    assert "<strong>E1001</strong>（员工）" in (await web.get("/app", follow_redirects=True)).text


@pytest.mark.parametrize("login,words", [
    ("stranger", "未在 hrflow 人员名录"),  # the provider knows her, the directory does not
    ("gone", "未在 hrflow 人员名录"),  # a deactivated login
    ("nameless", "没有给出您的账号"),  # no login claim at all
])
async def test_who_the_directory_does_not_know_is_refused(web, session_factory, login: str, words: str) -> None:
    back, _ = await _sign_in(web, login)
    assert back.status_code == 403 and words in back.text
    assert "hrflow_session" not in web.cookies
    with session_factory() as s:
        assert _signed_in(list(s.scalars(select(AuditEvent)))) == []


async def test_a_replayed_or_forged_answer_signs_nobody_in(web) -> None:
    leave = await web.get("/app/sign-in/oidc")
    kept = web.cookies["hrflow_sign_in"]
    back = await _provider_answer(leave.headers["location"], "hr.li")
    query = parse_qs(urlsplit(back).query)
    forged = await web.get("/app/sign-in/oidc/callback", params={"code": query["code"][0], "state": "guessed"})
    assert forged.status_code == 403 and "已失效" in forged.text
    web.cookies.set("hrflow_sign_in", kept, path="/app/sign-in")
    first = await web.get(back.removeprefix(BASE))
    assert first.status_code == 303
    web.cookies.clear()
    replayed = await web.get(back.removeprefix(BASE))  # the same answer again, without the attempt
    assert replayed.status_code == 403 and "hrflow_session" not in web.cookies
    web.cookies.set("hrflow_sign_in", kept, path="/app/sign-in")
    again = await web.get(back.removeprefix(BASE))  # with the attempt copied back: the code is spent
    assert again.status_code == 403 and "未确认您的身份" in again.text
    assert "hrflow_session" not in web.cookies


async def test_a_cancelled_sign_in_says_so(web) -> None:
    await web.get("/app/sign-in/oidc")
    state = parse_qs(urlsplit((await web.get("/app/sign-in/oidc")).headers["location"]).query)["state"][0]
    answer = await web.get("/app/sign-in/oidc/callback", params={"error": "access_denied", "state": state})
    assert answer.status_code == 403 and "未确认您的身份" in answer.text


async def test_an_open_redirect_is_not_offered(web) -> None:
    back, _ = await _sign_in(web, "hr.li", next_path="https://evil.example/")
    assert back.headers["location"] == "/app"


async def test_the_provider_checks_hold_against_the_real_provider(issuer) -> None:
    """The ID token's nonce, PKCE's verifier and RFC 9207's issuer, each on a real answer."""
    provider = OidcProvider(issuer=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)

    async def answer() -> tuple[Attempt, dict[str, str]]:
        attempt = Attempt()
        back = await _provider_answer(await provider.authorization_url(attempt, CALLBACK), "hr.li")
        return attempt, {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}

    attempt, query = await answer()
    assert query["state"] == attempt.state and query["iss"] == issuer
    with pytest.raises(SignInProblem) as wrong_nonce:
        await provider.login(query, Attempt(state=attempt.state, verifier=attempt.verifier), CALLBACK)
    assert wrong_nonce.value.code == INVALID and "nonce" in wrong_nonce.value.detail

    attempt, query = await answer()
    with pytest.raises(SignInProblem) as wrong_verifier:
        await provider.login(query, Attempt(state=attempt.state, nonce=attempt.nonce), CALLBACK)
    assert wrong_verifier.value.code == REFUSED

    attempt, query = await answer()
    with pytest.raises(SignInProblem) as foreign:
        await provider.login({**query, "iss": "http://127.0.0.1:1"}, attempt, CALLBACK)
    assert foreign.value.code == INVALID
    assert (await provider.login(query, attempt, CALLBACK)).login == "hr.li"  # the code was not spent on the refusal


async def test_an_expired_id_token_is_refused() -> None:
    # 4 s: a loaded machine (the suite on 2 cores) must not let it expire before the first check
    with running_provider([CALLBACK], ACCOUNTS, id_token_ttl=4) as issuer:
        provider = OidcProvider(issuer=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                clock_skew_seconds=0)
        attempt = Attempt()
        back = await _provider_answer(await provider.authorization_url(attempt, CALLBACK), "hr.li")
        query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        id_token = await provider.exchange(query, attempt, CALLBACK)
        assert (await provider.verified_claims(id_token, attempt.nonce))["preferred_username"] == "hr.li"
        await asyncio.sleep(5.2)
        with pytest.raises(SignInProblem) as expired:
            await provider.verified_claims(id_token, attempt.nonce)
        assert expired.value.code == INVALID and "Expired" in expired.value.detail


async def test_an_unreachable_provider_is_a_clear_page() -> None:
    provider = OidcProvider(issuer="http://127.0.0.1:1", client_id=CLIENT_ID, client_secret=None, timeout=2)
    with pytest.raises(SignInProblem) as down:
        await provider.authorization_url(Attempt(), CALLBACK)
    assert down.value.code == "provider_unavailable"


# ---------------------------------------------------------------- WeCom
async def _wecom_sign_in(web: httpx.AsyncClient, sim: SimulatedWeCom, userid: str) -> httpx.Response:
    leave = await web.get("/app/sign-in/wecom")
    assert leave.status_code == 303
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(leave.headers["location"])
        assert page.status_code == 200 and "企业微信" in page.text
        state = parse_qs(urlsplit(leave.headers["location"]).query)["state"][0]
        redirect = parse_qs(urlsplit(leave.headers["location"]).query)["redirect_uri"][0]
        confirmed = await browser.post(urljoin(leave.headers["location"], "/wwlogin/sso/confirm"),
                                       data={"redirect_uri": redirect, "state": state, "userid": userid})
    assert confirmed.status_code == 302
    return await web.get(confirmed.headers["location"].removeprefix(BASE))


async def test_wecom_sign_in_keeps_its_token_and_renews_it_when_wecom_says_expired(web, wecom) -> None:
    sim, _ = wecom
    before = sim.calls["/cgi-bin/gettoken"]
    assert (await _wecom_sign_in(web, sim, "E1001")).status_code == 303
    assert "<strong>E1001</strong>（员工）" in (await web.get("/app", follow_redirects=True)).text
    web.cookies.clear()
    assert (await _wecom_sign_in(web, sim, "hr.li")).status_code == 303
    assert sim.calls["/cgi-bin/gettoken"] - before == 1  # one token for both sign-ins (this app's first)
    sim.expire_tokens()
    web.cookies.clear()
    assert (await _wecom_sign_in(web, sim, "hr.li")).status_code == 303  # 42001, a new token, asked again
    assert sim.calls["/cgi-bin/gettoken"] - before == 2


async def test_wecom_refusals(web, wecom) -> None:
    sim, _ = wecom
    visitor = await _wecom_sign_in(web, sim, "not-a-member")  # WeCom answers with an openid only
    assert visitor.status_code == 403 and "不是本企业成员" in visitor.text
    code = sim.issue_code("hr.li")
    leave = await web.get("/app/sign-in/wecom")
    state = parse_qs(urlsplit(leave.headers["location"]).query)["state"][0]
    kept = web.cookies["hrflow_sign_in"]
    assert (await web.get("/app/sign-in/wecom/callback", params={"code": code, "state": state})).status_code == 303
    web.cookies.clear()
    web.cookies.set("hrflow_sign_in", kept, path="/app/sign-in")
    replay = await web.get("/app/sign-in/wecom/callback", params={"code": code, "state": state})
    assert replay.status_code == 403 and "hrflow_session" not in web.cookies  # 40029: the code is spent
    sim.outage = True
    down = await _wecom_sign_in(web, sim, "hr.li")
    assert down.status_code == 502 and "暂时无法连接" in down.text and "hrflow_session" not in web.cookies


async def test_an_oidc_answer_is_not_taken_as_a_wecom_one(web) -> None:
    leave = await web.get("/app/sign-in/oidc")
    state = parse_qs(urlsplit(leave.headers["location"]).query)["state"][0]
    crossed = await web.get("/app/sign-in/wecom/callback", params={"code": "x", "state": state})
    assert crossed.status_code == 403 and "hrflow_session" not in web.cookies
