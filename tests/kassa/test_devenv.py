"""`make run`'s settings reach the developer's own manage.py, and never a production entry point."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRETS = ("SECRET_KEY", "KASSA_ENCRYPTION_KEYS")


def _environment(var: Path, **extra) -> dict:
    """A newcomer's second terminal: nothing of make run's, no secrets, the install's var directory."""
    dropped = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", *PRODUCTION_SECRETS)
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("STRIPE_")}
    return {**env, "KASSA_VAR_DIR": str(var), **extra}


def _run(args, env, timeout=120):
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def make_run_var(tmp_path):
    """The var directory after `make run` wrote its settings (the Makefile's first step, with RUN_ENV)."""
    var = tmp_path / "var"
    run_env = {
        "DEBUG": "true",
        "KASSA_PORT": "8600",
        "LOCALSTRIPE_PORT": "8620",
        "KASSA_PUBLIC_URL": "http://127.0.0.1:8600",
        "STRIPE_API_BASE": "http://127.0.0.1:8620",
        "STRIPE_JS_URL": "http://127.0.0.1:8620/js.stripe.com/v3/",
    }
    written = _run([sys.executable, "-m", "kassa.devenv"], _environment(var, **run_env))
    assert written.returncode == 0, written.stderr
    env_file = var / "make-run.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert var.stat().st_mode & 0o777 == 0o700
    assert "DEBUG=true" in env_file.read_text()
    return var


def test_the_readme_s_manage_py_commands_work_next_to_make_run(make_run_var):
    env = _environment(make_run_var)
    assert _run([sys.executable, "manage.py", "migrate", "--noinput"], env).returncode == 0
    # As the README writes it (python, not .venv/bin/python: make run's PATH has the venv first).
    created = _run(
        [
            sys.executable,
            "manage.py",
            "merchant_create",
            "--name",
            "Acme",
            "--owner-email",
            "boss@acme.example",
            "--json",
        ],
        env,
    )
    assert created.returncode == 0, created.stderr
    assert '"secret_key": "sk_test_' in created.stdout
    shown = _run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.DEBUG, s.STRIPE_API_BASE)",
        ],
        env,
    )
    assert shown.stdout.strip().splitlines()[-1] == "True http://127.0.0.1:8620", shown.stderr


def test_without_make_run_s_file_manage_py_is_production_as_before(tmp_path):
    result = _run([sys.executable, "manage.py", "check"], _environment(tmp_path / "var"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_environment_wins_over_the_file(make_run_var):
    result = _run([sys.executable, "manage.py", "check"], _environment(make_run_var, DEBUG="false"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize("setting", ["DATABASE_URL", "SECRET_KEY"])
def test_a_configured_environment_reads_nothing_from_the_file(make_run_var, setting):
    """A production shell in a checkout where `make run` once ran: not even localstripe's address is taken."""
    value = "sqlite:////tmp/configured.sqlite3" if setting == "DATABASE_URL" else "s" * 60
    result = _run([sys.executable, "manage.py", "check"], _environment(make_run_var, **{setting: value}))
    assert result.returncode != 0
    assert "must be set when DEBUG is off" in result.stderr


def test_a_file_others_may_write_is_ignored(make_run_var):
    (make_run_var / "make-run.env").chmod(0o622)
    result = _run([sys.executable, "manage.py", "check"], _environment(make_run_var))
    assert "Ignoring" in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_only_make_run_s_own_names_are_taken(make_run_var):
    (make_run_var / "make-run.env").write_text("DEBUG=true\nDATABASE_URL=sqlite:////tmp/elsewhere.sqlite3\n")
    shown = _run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.DATABASES['default']['NAME'])",
        ],
        _environment(make_run_var),
    )
    assert shown.stdout.strip().splitlines()[-1] == str(make_run_var / "kassa.sqlite3"), shown.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["bin/release"],
        ["bin/web"],
        ["bin/worker"],
        ["bin/beat"],
    ],
    ids=lambda c: c[0],
)
def test_production_entry_points_never_read_the_file(make_run_var, tmp_path, command):
    """With make run's file present and no secrets, each production process still refuses to start."""
    bin_dir = str(Path(sys.executable).parent)
    env = _environment(
        make_run_var,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        BIND="127.0.0.1:0",
        WEB_WORKERS="1",
        BEAT_SCHEDULE_FILE=str(tmp_path / "beat-schedule"),
    )
    result = _run(command, env, timeout=60)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "SECRET_KEY must be set when DEBUG is off" in result.stdout + result.stderr
