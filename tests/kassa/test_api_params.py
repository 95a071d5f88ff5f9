"""``kassa.api.views.validated``: parameters validated by one serializer a class and thread answer what a serializer
made for each request answers, call after call, whatever the call before left, and two threads never share one."""

import threading

from rest_framework.exceptions import ValidationError

from kassa.api import fields as f
from kassa.api import views
from kassa.api.fields import StrictSerializer
from kassa.api.views import validated


class _Address(StrictSerializer):
    city = f.String(max_length=20)
    line1 = f.String(required=False)


class _Params(StrictSerializer):
    name = f.String(max_length=10)
    count = f.Integer(required=False, min_value=1)
    address = _Address(required=False)
    tags = f.List(child=f.String(), required=False)


def _fresh(data: dict, context: dict):
    """What a serializer made for this call alone answers: its validated data, or its errors."""
    serializer = _Params(data=data, context=context)
    if serializer.is_valid():
        return ("valid", serializer.validated_data)
    return ("invalid", serializer.errors)


def _reused(data: dict, context: dict):
    try:
        return ("valid", validated(_Params, data, context))
    except ValidationError as exc:
        return ("invalid", exc.detail)


def test_each_call_answers_what_a_serializer_of_its_own_answers():
    """Valid and refused parameters, in turns, on one thread: each as a fresh serializer sees it, a refusal's errors
    never in the next answer, a value never carried over from the call before."""
    calls = [
        ({"name": "Tea", "count": "2", "address": {"city": "Lyon"}, "tags": ["a", "b"]}, {}),
        ({"name": "Tea", "colour": "red"}, {}),
        ({"name": "Tea", "currency": "eur"}, {"stripe_params": ("currency",)}),
        ({"name": "Coffee"}, {}),
        ({"name": "x" * 11, "count": "0", "address": {"city": "Lyon", "zip": "69001"}}, {}),
        ({"count": "3"}, {}),
        ({"name": "Milk", "address": {"city": "Paris", "line1": "1 rue"}}, {}),
    ]
    answers = [_reused(data, context) for data, context in calls]
    assert answers == [_fresh(data, context) for data, context in calls]
    assert [kind for kind, _ in answers] == ["valid", "invalid", "invalid", "valid", "invalid", "invalid", "valid"]
    assert answers[1][1]["colour"][0].code == "parameter_unknown"
    assert answers[2][1]["currency"][0].code == "stripe_parameter_unsupported"  # the context of its own call
    assert answers[3][1] == {"name": "Coffee"}  # nothing of the first call's count, address or tags
    assert set(answers[4][1]) == {"name", "count", "address"}  # every refusal of one call, and no other
    # and the thread keeps nothing of the last request's parameters once its call has ended
    kept = vars(views._prototypes.validating[_Params])
    assert not {"initial_data", "_validated_data", "_errors"} & set(kept)
    assert kept["_context"] == {}


def test_two_threads_validating_at_once_each_use_their_own():
    """Both threads inside validation at the same moment (a barrier in a field's check): each gets its own data."""
    barrier = threading.Barrier(2, timeout=10)

    class Waiting(_Params):
        def validate_name(self, value):
            barrier.wait()
            return value

    answers = {}

    def validate(name: str) -> None:
        answers[name] = validated(Waiting, {"name": name, "count": str(len(name))}, {})

    threads = [threading.Thread(target=validate, args=(name,)) for name in ("Tea", "Coffee")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert answers == {"Tea": {"name": "Tea", "count": 3}, "Coffee": {"name": "Coffee", "count": 6}}


def test_the_api_refuses_then_takes_then_refuses_again_on_one_thread(client, shop):
    """Requests served one after the other by this thread (Django's test client, in-process: the live server would
    serve each on a thread of its own): a refused create, a good one, a refused one, a good one, each answered as it
    alone asks."""
    auth = {"HTTP_AUTHORIZATION": f"Bearer {shop.secret_key.secret}"}

    def create(body: str):
        answer = client.post("/v1/customers", body, content_type="application/x-www-form-urlencoded", **auth)
        return answer.status_code, answer.json()

    status, body = create("name=A&colour=red")
    assert (status, body["error"]["code"], body["error"]["param"]) == (400, "parameter_unknown", "colour")
    status, body = create("name=B&email=b%40example.com&metadata[tier]=gold")
    assert (status, body["name"], body["email"], body["metadata"]) == (200, "B", "b@example.com", {"tier": "gold"})
    status, body = create("email=not+an+address")
    assert (status, body["error"]["code"], body["error"]["param"]) == (400, "email_invalid", "email")
    status, body = create("name=C")
    assert (status, body["name"], body["email"], body["metadata"]) == (200, "C", None, {})
