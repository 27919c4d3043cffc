"""The Docker image and compose file: what they promise, read from the files (always),
and built and run when a Docker engine is present (skipped with the reason otherwise)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())


def test_the_image_runs_as_a_non_root_user_with_a_data_volume_and_a_healthcheck():
    lines = [line.strip() for line in DOCKERFILE.splitlines()]
    user = [line for line in lines if line.startswith("USER ")]
    assert user == ["USER nija"]
    assert 'VOLUME ["/data"]' in lines and "NIJA_DATA_DIR=/data \\" in lines
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert 'CMD ["python", "-m", "nija_tg", "health"]' in lines
    # dependencies only from the hashed lock, the project itself without resolving
    assert "RUN pip install --require-hashes --no-deps -r requirements.lock" in lines
    assert (REPO / "requirements.lock").exists()


def test_compose_runs_bot_and_engine_on_one_volume_and_only_the_engine_holds_the_key():
    services = COMPOSE["services"]
    assert set(services) == {"bot", "engine"}
    for name, service in services.items():
        assert "nija-data:/data" in service["volumes"], name
        assert "env_file" not in service, name  # each lists what it gets
    assert "NIJA_ENGINE_KEY" in services["engine"]["environment"]
    assert "NIJA_ENGINE_KEY" not in services["bot"]["environment"]
    assert "engine" in " ".join(services["engine"]["command"])
    assert "nija_tg bot" in " ".join(services["bot"]["command"])


def _docker_engine() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "docker is installed but no Docker engine runs here"
    return None


@pytest.mark.skipif(_docker_engine() is not None, reason=str(_docker_engine()))
def test_the_image_builds_and_its_healthcheck_command_answers():
    tag = "nija-tg:test"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True, timeout=1800)
    whoami = subprocess.run(
        ["docker", "run", "--rm", tag, "id", "-u"], capture_output=True, text=True, check=True
    )
    assert whoami.stdout.strip() == "10001"
    health = subprocess.run(
        ["docker", "run", "--rm", tag, "python", "-m", "nija_tg", "health"],
        capture_output=True,
        text=True,
    )
    assert health.returncode == 1 and "never reported" in health.stdout
