"""A real OpenID Connect provider for the sign-in tests: panva's oidc-provider (npm, certified by
the OpenID Foundation) run by Node.js on a free port. ``python3 run.py test`` installs it (npm ci in
this folder). Its development login form takes any login; what the provider says about a login
(name, e-mail) comes from ``accounts``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.live_server import free_port

HERE = Path(__file__).resolve().parent
CLIENT_ID = "hrflow"
CLIENT_SECRET = "hrflow-test-client-secret-0123456789"


@contextmanager
def running_provider(redirect_uris: list[str], accounts: dict[str, dict[str, object]] | None = None,
                     id_token_ttl: int = 3600) -> Iterator[str]:
    """The provider's issuer URL while it runs, with one confidential client (``CLIENT_ID``)."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").exists():
        raise RuntimeError("the OpenID provider is not installed: run the tests with `python3 run.py test`")
    port = free_port()
    clients = [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"], "response_types": ["code"]}]
    env = {**os.environ, "IDP_PORT": str(port), "IDP_CLIENTS": json.dumps(clients),
           "IDP_ACCOUNTS": json.dumps(accounts or {}), "IDP_ID_TOKEN_TTL": str(id_token_ttl),
           "NODE_ENV": "development"}
    process = subprocess.Popen([node, str(HERE / "provider.mjs")], cwd=HERE, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    raise RuntimeError(f"the OpenID provider did not start: {output[-2000:]}") from None
                time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
