"""The settings ``make run`` runs with, for the developer's own ``manage.py`` calls next to it.

``make run`` passes its development settings (``DEBUG=true``, localstripe's
address, the public URL) as environment variables. So that ``python manage.py
…`` typed in a second terminal sees the same installation, ``make run`` also
writes them to ``var/make-run.env`` (mode 0600 in the owner-only ``var/``),
and ``manage.py`` reads that file before Django starts. Why this cannot switch
a production deployment into DEBUG:

- the file exists only where ``make run`` wrote it, under the gitignored (and
  dockerignored) ``var/``, never in the repository;
- only ``manage.py`` reads it; the production entry points (``bin/web``,
  ``bin/worker``, ``bin/beat``, ``bin/release``) never do;
- nothing is read when the environment already sets ``DEBUG``,
  ``DATABASE_URL`` or ``SECRET_KEY`` (a configured installation); otherwise
  only the names ``make run`` sets are taken, and a file that is not the
  user's own or that others may write is ignored.
"""

import os
import stat
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FILE_NAME = "make-run.env"
# What `make run` sets (the Makefile's RUN_ENV), nothing else.
NAMES = ("DEBUG", "KASSA_PORT", "LOCALSTRIPE_PORT", "KASSA_PUBLIC_URL", "STRIPE_API_BASE", "STRIPE_JS_URL")


def path() -> Path:
    """The file in this installation's var directory (``KASSA_VAR_DIR``, as settings has it)."""
    return Path(os.environ.get("KASSA_VAR_DIR") or BASE_DIR / "var") / FILE_NAME


def write() -> Path:
    """Write ``make run``'s settings from the current environment, readable and writable by the owner only."""
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.parent.chmod(0o700)
    lines = []
    for name in NAMES:
        value = os.environ.get(name)
        if value is None:
            continue
        if "\n" in value or "\r" in value:
            raise ValueError(f"{name} holds a line break")
        lines.append(f"{name}={value}\n")
    draft = target.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by `make run` for manage.py next to it (kassa/devenv.py). Never used in production.\n")
        handle.writelines(lines)
    draft.replace(target)
    return target


#: Any of these set means a configured installation (production, CI, a deliberate run): the file is not read.
CONFIGURED = ("DEBUG", "DATABASE_URL", "SECRET_KEY")


def load() -> dict[str, str]:
    """Add the file's variables to ``os.environ``; answer what was added.

    Nothing is read when the environment already configures Kassa (any of
    ``CONFIGURED`` set): a production shell that runs ``manage.py`` in a
    checkout where someone once ran ``make run`` must not pick up
    localstripe's address or development secrets.
    """
    if any(name in os.environ for name in CONFIGURED):
        return {}
    source = path()
    try:
        info = source.stat()
    except FileNotFoundError:
        return {}
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or not stat.S_ISREG(info.st_mode):
        sys.stderr.write(f"Ignoring {source}: not a file of your own that only you can write.\n")
        return {}
    added = {}
    for line in source.read_text().splitlines():
        name, sep, value = line.partition("=")
        if not sep or line.startswith("#") or name not in NAMES or name in os.environ:
            continue
        os.environ[name] = added[name] = value
    return added


if __name__ == "__main__":
    sys.stdout.write(f"Development settings for manage.py: {write()}\n")
