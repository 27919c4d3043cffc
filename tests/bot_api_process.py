"""The fake Bot API server in a child process, for tests that run the real programs
(supervisord, the CLI) as child processes too."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PYTHON, REPO, TEST_TOKEN


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def run_fake_bot_api(tmp_path: Path, token: str = TEST_TOKEN) -> Iterator[str]:
    """Start the fake Bot API on a free port; yields its base URL; stops it after."""
    port_file = tmp_path / "bot-api.port"
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "tests.fakes.telegram_api",
            "--port",
            "0",
            "--token",
            token,
            "--port-file",
            str(port_file),
        ],
        cwd=REPO,
    )
    try:
        port = wait_for(
            lambda: port_file.exists() and port_file.read_text().strip(), 15, "fake API"
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
