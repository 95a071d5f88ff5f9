#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    # A developer's manage.py next to `make run` sees make run's settings (kassa/devenv.py:
    # the file exists only where make run wrote it; the production bin/ scripts never read it).
    from kassa import devenv

    devenv.load()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kassa.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
