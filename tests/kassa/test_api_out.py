"""``kassa.api.fields.Out`` renders what DRF's own ``Serializer`` renders, its fast attribute read included: a
missing attribute, a related object that does not exist, a method, a dotted source and a mapping each still follow
DRF's rules."""

import enum

import pytest
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.fields import Out


class _Thing:
    name = "Tea"
    amount = 1250

    def label(self):
        return "called"

    @property
    def gone(self):
        raise ObjectDoesNotExist("no such related row")

    @property
    def broken(self):
        raise ValueError("the read itself failed")


class _Inner:
    city = "Lyon"


class DrfShape(serializers.Serializer):
    name = serializers.CharField()
    shout = serializers.SerializerMethodField()  # the serializer's method, called with the object
    whisper = serializers.SerializerMethodField(method_name="quietly")
    amount = serializers.IntegerField()
    label = serializers.CharField()  # a method: DRF calls it
    gone = serializers.CharField(allow_null=True)  # a related object that does not exist: None
    missing = serializers.CharField(required=False)  # no such attribute, not required: left out
    fallback = serializers.CharField(default="the default")  # no such attribute, a default: the default
    city = serializers.CharField(source="inner.city")  # dotted: DRF's own reading

    def get_shout(self, thing):
        return f"{thing['name'] if isinstance(thing, dict) else thing.name}!".upper()

    def quietly(self, thing):
        return {"seen": type(thing).__name__, "for": self.context.get("reader")}  # its own serializer's context


class OutShape(Out, DrfShape):
    """The same fields, rendered by ``Out`` (first in the order of its bases)."""


def test_out_renders_what_drfs_serializer_renders():
    thing = _Thing()
    thing.inner = _Inner()
    shown = OutShape(context={"reader": "me"}).to_representation(thing)
    assert shown == DrfShape(context={"reader": "me"}).to_representation(thing)
    assert shown == {
        "name": "Tea",
        "shout": "TEA!",
        "whisper": {"seen": "_Thing", "for": "me"},
        "amount": 1250,
        "label": "called",
        "gone": None,
        "fallback": "the default",
        "city": "Lyon",
    }


def test_out_renders_a_mapping_as_drf_does():
    row = {"name": "Tea", "amount": 1250, "label": "plain", "gone": None, "inner": {"city": "Lyon"}}
    assert OutShape().to_representation(row) == DrfShape().to_representation(row)


def test_a_missing_required_attribute_and_a_failing_read_raise_as_drf_raises_them():
    class Required(Out):
        absent = serializers.CharField()

    class Broken(Out):
        broken = serializers.CharField()

    with pytest.raises(AttributeError, match="absent"):
        Required().to_representation(_Thing())
    with pytest.raises(ValueError, match="the read itself failed"):
        Broken().to_representation(_Thing())


class _Status(enum.StrEnum):
    ACTIVE = "active"


class _Shown:
    text = "plain"
    status = _Status.ACTIVE  # a str of another type (as a model's choices member): DRF's str() shows its value
    count = 7
    flag = True  # a bool in an integer field: DRF's int() shows 1
    yes = True
    no = False
    one = 1  # an int in a boolean field: DRF's rule shows True
    number = "12"  # a str in an integer field: DRF's int() shows 12
    nothing = None


class DrfValues(serializers.Serializer):
    object = f.Constant("thing")
    transfer_data = f.Fixed(None)
    custom_fields = f.Fixed([])
    delinquent = f.Fixed(False)
    text = serializers.CharField()
    status = serializers.CharField()
    count = serializers.IntegerField()
    flag = serializers.IntegerField()
    yes = serializers.BooleanField()
    no = serializers.BooleanField()
    one = serializers.BooleanField()
    number = serializers.IntegerField()
    nothing = serializers.CharField(allow_null=True)


class OutValues(Out, DrfValues):
    """The same fields, rendered by ``Out``."""


def test_constants_and_plain_values_are_shown_as_drf_shows_them_whatever_their_type():
    for subject in (_Shown(), {name: getattr(_Shown, name) for name in vars(_Shown) if not name.startswith("_")}):
        shown = OutValues().to_representation(subject)
        assert shown == DrfValues().to_representation(subject)
        assert [(name, value, type(value)) for name, value in shown.items()] == [
            ("object", "thing", str),
            ("transfer_data", None, type(None)),
            ("custom_fields", [], list),
            ("delinquent", False, bool),
            ("text", "plain", str),
            ("status", "active", str),
            ("count", 7, int),
            ("flag", 1, int),
            ("yes", True, bool),
            ("no", False, bool),
            ("one", True, bool),
            ("number", 12, int),
            ("nothing", None, type(None)),
        ]
