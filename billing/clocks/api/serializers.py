"""Input parameters and output shape of test clocks, as Stripe names them."""

import datetime

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.views import ListParams

from ..models import TestClock


def _moment(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)


class TestClockCreateParams(f.StrictSerializer):
    frozen_time = f.Timestamp(help_text="The clock's starting time (Unix seconds): its customers live on it.")
    name = f.OptionalString(max_length=300, help_text="A name for the clock, for you.")

    def validate_frozen_time(self, value):
        return _moment(value)


class TestClockAdvanceParams(f.StrictSerializer):
    frozen_time = f.Timestamp(
        help_text="The time to advance the clock to (Unix seconds): later than its current `frozen_time`, "
        "at most two intervals of the shortest subscription on the clock later (two years without one), as at Stripe."
    )

    def validate_frozen_time(self, value):
        return _moment(value)


class TestClockListParams(ListParams):
    """Cursor paging: your test clocks, newest first."""


class TestClockOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("test_helpers.test_clock")
    created = f.UnixTime()
    deletes_after = f.UnixTime(
        help_text="When the clock deletes itself: 30 days after it was made (real time, whatever its frozen "
        "time), if nothing still lives on it (see the delete operation).",
    )
    frozen_time = f.UnixTime(help_text="The time the clock's customers live at (Unix seconds).")
    livemode = serializers.BooleanField()
    name = serializers.CharField(allow_null=True, help_text="The name given at creation.")
    status = serializers.ChoiceField(
        choices=TestClock.Status.values,
        help_text="`ready`, `advancing` while the clock's customers catch up, or `internal_failure`.",
    )
    status_details = serializers.SerializerMethodField()

    @extend_schema_field(
        inline_serializer(
            "TestClockStatusDetails",
            {
                "advancing": inline_serializer(
                    "TestClockStatusDetailsAdvancing",
                    {"target_frozen_time": serializers.IntegerField(help_text="The time being advanced to.")},
                    required=False,
                    help_text="Present while advancing: `target_frozen_time`, the time being advanced to.",
                )
            },
            help_text="While advancing: `advancing.target_frozen_time`, the time being advanced to; else empty.",
        )
    )
    def get_status_details(self, clock: TestClock) -> dict:
        if clock.status == TestClock.Status.ADVANCING and clock.target_frozen_time:
            return {"advancing": {"target_frozen_time": int(clock.target_frozen_time.timestamp())}}
        return {}
