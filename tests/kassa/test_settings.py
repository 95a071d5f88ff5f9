"""Settings from the environment: production refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

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


# --- a development install's own secrets ----------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_development_install_makes_its_own_secrets_readable_by_its_owner_only(tmp_path):
    var = tmp_path / "var"
    # The embedded default database (SQLite under var/), whatever database this test run uses.
    sqlite = f"sqlite:///{var / 'kassa.sqlite3'}"
    migrated = _manage("migrate", "--noinput", DEBUG="true", KASSA_VAR_DIR=str(var), DATABASE_URL=sqlite)
    assert migrated.returncode == 0, migrated.stderr
    key_file = var / "development-encryption-key"
    Fernet(key_file.read_text().strip())  # a real Fernet key, not the public all-zero one
    assert key_file.read_text().strip() != "A" * 43 + "="
    assert _mode(var) == 0o700
    for name in ("development-encryption-key", "development-secret-key", "kassa.sqlite3"):
        assert _mode(var / name) == 0o600, name

    # The next start uses the same keys; another install gets others.
    first = key_file.read_text()
    again = _manage("check", DEBUG="true", KASSA_VAR_DIR=str(var), DATABASE_URL=sqlite)
    assert again.returncode == 0, again.stderr
    assert key_file.read_text() == first
    other = tmp_path / "other"
    _manage("check", DEBUG="true", KASSA_VAR_DIR=str(other), DATABASE_URL=f"sqlite:///{other / 'kassa.sqlite3'}")
    assert (other / "development-encryption-key").read_text() != first


@pytest.mark.parametrize(
    ("keys", "development"),
    [("", True), ("A" * 43 + "=", True), (Fernet.generate_key().decode(), False)],
    ids=["generated", "public", "configured"],
)
def test_live_stripe_keys_are_refused_while_a_development_key_encrypts(tmp_path, keys, development):
    code = (
        "import django; django.setup()\n"
        "from tests import factories\n"
        "from kassa.errors import InvalidRequest\n"
        "from merchants import services\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "shop = factories.merchant('Live')\n"
        "services.processor_credential_set(merchant=shop.merchant, livemode=False, secret_key='sk_test_ok')\n"
        "try:\n"
        "    services.processor_credential_set(merchant=shop.merchant, livemode=True, secret_key='sk_live_x1')\n"
        "except InvalidRequest as exc:\n"
        "    print('refused', exc.code, exc.message)\n"
        "else:\n"
        "    print('stored')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("KASSA_ENCRYPTION_KEYS", "DATABASE_URL", "SECRET_KEY")}
    env.update(DEBUG="true", KASSA_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="kassa.settings")
    if keys:
        env["KASSA_ENCRYPTION_KEYS"] = keys
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    if development:
        assert result.stdout.startswith("refused encryption_key_development"), result.stdout
        assert "KASSA_ENCRYPTION_KEYS" in result.stdout
    else:
        assert result.stdout.strip() == "stored"


def test_data_stored_with_the_old_public_key_still_opens(settings):
    """Installs made before per-install keys keep working: the public key still decrypts."""
    old = Fernet(settings.PUBLIC_DEVELOPMENT_FERNET_KEY).encrypt(b"sk_test_from_before").decode()
    keys = _manage("shell", "-c", f"from kassa import crypto; print(crypto.decrypt({old!r}))", DEBUG="true")
    assert keys.stdout.strip().splitlines()[-1] == "sk_test_from_before", keys.stderr


def test_email_url_sends_through_that_mail_server(tmp_path):
    """EMAIL_URL (smtp://…) is the mail server Kassa's emails go through: a tiny SMTP sink receives one."""
    import socket
    import threading

    received = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 sink\r\n")
            in_data = False
            for raw in reader:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if in_data:
                    if line == ".":
                        in_data = False
                        conn.sendall(b"250 queued\r\n")
                    else:
                        received.append(line)
                    continue
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    conn.sendall(b"250 sink\r\n")
                elif verb == "DATA":
                    in_data = True
                    conn.sendall(b"354 go on\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    result = _manage(
        "sendtestemail",
        "ops@shop.test",
        DEBUG="true",
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        KASSA_VAR_DIR=str(tmp_path),
    )
    thread.join(10)
    server.close()
    assert result.returncode == 0, result.stderr
    assert "To: ops@shop.test" in received


@pytest.mark.parametrize(("debug", "required"), [("false", "True"), ("true", "False")])
def test_platform_staff_need_two_factor_login_whenever_debug_is_off(tmp_path, debug, required):
    """KASSA_REQUIRE_2FA_PLATFORM defaults to on in production; make run's demo logins work without it."""
    show = "from django.conf import settings; print(settings.KASSA_REQUIRE_2FA_PLATFORM)"
    env = {"DEBUG": debug, "SECRET_KEY": "x" * 60, "KASSA_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    result = _manage("shell", "-c", show, KASSA_VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == required


@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="PostgreSQL only: its prepared statements",
)
@pytest.mark.parametrize(("variable", "prepared"), [(None, True), ("false", False)])
def test_on_postgresql_a_statement_run_again_and_again_is_prepared_unless_switched_off(db, variable, prepared):
    """DATABASE_PREPARED_STATEMENTS, on by default: PostgreSQL plans a statement Kassa keeps running once per
    connection, not on every run (README, Configuration); off, for a connection pooler that cannot keep them."""
    from tests.conftest import database_url_for_subprocess

    code = (
        "from django.db import connection\n"
        "from merchants.models import Merchant\n"
        "for pk in range(6): Merchant.objects.filter(pk=pk).first()\n"
        "with connection.cursor() as cursor:\n"
        '    cursor.execute("SELECT count(*) FROM pg_prepared_statements"\n'
        "        \" WHERE statement LIKE '%merchants_merchant%'\")\n"
        "    print(cursor.fetchone()[0])\n"
    )
    env = {"DEBUG": "true", "DATABASE_URL": database_url_for_subprocess()}
    if variable is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = variable
    result = _manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) == (1 if prepared else 0)
