"""Start the what-if page in a Streamlit server (``ooh-sim app``).

Streamlit is an optional extra (``pip install 'ooh-sim[app]'``): this module does not import it,
it runs ``python -m streamlit run page.py`` with settings for a meeting room — bound to
127.0.0.1 unless told otherwise, headless (no browser opened on the server), no usage statistics,
small uploads, no error details on the page.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ooh_sim.app.logic import MAX_UPLOAD_BYTES
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario

PAGE = Path(__file__).with_name("page.py")
SCENARIO_ENV = "OOH_SIM_APP_SCENARIO"  # the page reads it (page.SCENARIO_ENV)


def streamlit_available() -> bool:
    return importlib.util.find_spec("streamlit") is not None


def default_scenario() -> Path:
    """The shipped baseline: ./scenarios/baseline.yaml, else the one beside the package."""
    here = Path("scenarios/baseline.yaml")
    return here if here.is_file() else Path(__file__).resolve().parents[2] / here


def command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The Streamlit command line (without the environment that names the scenario)."""
    upload_mb = max(1, MAX_UPLOAD_BYTES // 1_000_000)
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PAGE),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(upload_mb),
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--global.developmentMode",
        "false",
        "--theme.base",
        "light",
    ]


def launch(scenario: Path | None, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Check the scenario (bad input: InputError, before any server starts), then serve the page
    until interrupted. On POSIX the server replaces this process, so stopping this process's id
    stops the server."""
    path = Path(scenario) if scenario is not None else default_scenario()
    load_scenario(path)  # a bad scenario is the usual one-line error, not a broken page
    if not 0 < port < 65536:
        raise InputError(f"must be a port number 1-65535, got {port}", path="--port")
    env = dict(os.environ, **{SCENARIO_ENV: str(path.resolve())})
    argv = command(host, port)
    print(f"ooh-sim app: http://{host}:{port}  (scenario {path}; Ctrl-C stops it)", flush=True)
    if os.name == "posix":
        os.execve(argv[0], argv, env)  # never returns
    return subprocess.call(argv, env=env)
