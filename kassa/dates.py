"""Calendar days in the current (viewer's) time zone, for periods people choose: "today", "the last 7 days"."""

from datetime import date, datetime, time

from django.utils import timezone


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone (made from the date, so right across DST)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
