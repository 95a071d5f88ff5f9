"""Settings from the environment: production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "KASSA_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "KASSA_ENCRYPTION_KEYS"])
def test_missing_secrets_stop_start_up_naming_the_variable(missing):
    env = {"DEBUG": "false", "SECRET_KEY": "x" * 60, "KASSA_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    del env[missing]
    result = _manage("check", **env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k" + "3xq_Zr8#pL0-vWm!a9@TnB2$yHc5^eJu7&dKs4*fGi6(oQ1)lR" * 2,
        KASSA_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="kassa.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_development_encryption_key_is_refused_in_production():
    result = _manage(
        "check", DEBUG="false", SECRET_KEY="s" * 60, KASSA_ENCRYPTION_KEYS="A" * 43 + "=", ALLOWED_HOSTS="kassa.example"
    )
    assert result.returncode != 0
    assert "kassa.E002" in result.stderr
