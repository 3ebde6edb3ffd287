#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python 3.11: make ``.venv``, install, then run.

    python3 run.py dev     # the whole service on embedded defaults (hrflow dev)
    python3 run.py check   # the lint and type gate: ruff, then mypy (strict), as configured in pyproject.toml
    python3 run.py test    # the test suite (extra arguments go to pytest)

The virtual environment is reinstalled only when pyproject.toml changes. The tests also need
Debian's Chromium (pages are checked in a real browser) and Node.js (the sign-in tests start a real
OpenID provider, whose npm packages ``test`` installs into tests/idp): when they are missing and this
runs as root on Debian, ``test`` installs them with apt-get; otherwise it says what to install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".hrflow-installed"
CHROMIUM = Path(os.environ.get("HRFLOW_CHROMIUM", "/usr/bin/chromium"))
SYSTEM_PACKAGES = ["chromium", "fonts-noto-cjk"]  # the browser, and glyphs for Chinese labels
NODE_PACKAGES = ["nodejs", "npm"]  # the tests' OpenID provider (tests/idp) runs on Node.js
IDP = ROOT / "tests" / "idp"


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py runs on whatever python3 the machine has
        sys.exit(f"hrflow needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing hrflow and its dependencies into .venv", flush=True)
    subprocess.run(
        [str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"],
        check=True,
    )
    STAMP.write_text(wanted)


def ensure_system_packages() -> None:
    """Debian's Chromium (pages are tested in a real browser) and Node.js (for the tests' OpenID
    provider), installed with apt-get when missing and this runs as root on Debian."""
    missing = ([] if CHROMIUM.exists() else SYSTEM_PACKAGES) + ([] if shutil.which("npm") else NODE_PACKAGES)
    if not missing:
        return
    if os.name != "posix" or os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        sys.exit(f"the tests need Debian's packages {' '.join(missing)}"
                 " (or HRFLOW_CHROMIUM set to a Chromium binary, and node and npm on the PATH)")
    print(f"installing {' '.join(missing)} with apt-get (a real browser, and the tests' OpenID provider)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_test_idp() -> None:
    """The OpenID provider the sign-in tests start (panva's oidc-provider), at its locked version."""
    stamp = IDP / "node_modules" / ".hrflow-installed"
    wanted = hashlib.sha256((IDP / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("installing the tests' OpenID provider (npm ci in tests/idp)", flush=True)
    subprocess.run([shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                   check=True, cwd=IDP, stdout=subprocess.DEVNULL)
    stamp.write_text(wanted)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("dev", "check", "test"):
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "dev":
        args = [str(BIN / "hrflow"), "dev", *rest]
    elif command == "check":
        os.chdir(ROOT)
        if subprocess.run([str(BIN / "ruff"), "check", "."], check=False).returncode != 0:
            return 1
        args = [str(BIN / "mypy")]  # the packages and the strictness are in pyproject.toml
    else:
        ensure_system_packages()
        ensure_test_idp()
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    os.chdir(ROOT)
    os.execv(args[0], args)


if __name__ == "__main__":
    sys.exit(main())
