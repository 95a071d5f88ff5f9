"""Outbound URLs cannot reach Kassa's own network: refused when saved, and again when delivering."""

import pytest

from webhooks import ssrf
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.services import delivery, endpoints


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "must use https"),
        ("https://127.0.0.1/hook", "loopback address: 127.0.0.1"),
        ("https://10.0.0.1/hook", "private or reserved address: 10.0.0.1"),
        ("https://localhost/hook", "loopback address: localhost."),
        ("https://[::1]/hook", "loopback address: ::1"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/hook", "private or reserved"),  # NAT64 of 169.254.169.254
        ("https://[2002:a00:1::]/hook", "private or reserved"),  # 6to4 of 10.0.0.1
        ("https://[::7f00:1]/hook", "loopback"),  # IPv4-compatible 127.0.0.1
        ("https://169.254.169.254/latest/meta-data", "private or reserved address: 169.254.169.254"),
        ("https://100.64.0.1/hook", "private or reserved"),
        ("https://0.0.0.0/hook", "private or reserved"),
        ("https://192.168.1.10/hook", "private or reserved"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("ftp://example.com/hook", "absolute http(s) URL"),
    ],
)
def test_live_mode_refuses_anything_but_https_to_public_addresses(url, why):
    with pytest.raises(ssrf.Refused) as refused:
        ssrf.url_check(url, livemode=True)
    assert why in refused.value.message
    assert refused.value.param == "url"


def test_live_mode_accepts_a_public_https_address():
    ssrf.url_check("https://93.184.215.14/hook", livemode=True)


def test_test_mode_allows_loopback_only_when_the_setting_is_on(settings):
    settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK = True
    ssrf.url_check("http://127.0.0.1:9000/hook", livemode=False)
    ssrf.url_check("http://localhost:9000/hook", livemode=False)
    with pytest.raises(ssrf.Refused):
        ssrf.url_check("http://10.0.0.1/hook", livemode=False)  # private networks: never
    with pytest.raises(ssrf.Refused):
        ssrf.url_check("https://127.0.0.1/hook", livemode=True)  # live mode: never
    settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(ssrf.Refused):
        ssrf.url_check("http://127.0.0.1:9000/hook", livemode=False)


def test_production_settings_turn_loopback_off():
    """The setting defaults to DEBUG: off wherever DEBUG is off."""
    import subprocess
    import sys

    code = (
        "from django.conf import settings; import django; django.setup(); print(settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "kassa.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "KASSA_ENCRYPTION_KEYS": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_address_is_checked_again_at_delivery(db, shop, receiver, settings):
    """A URL that was fine when saved but now leads to loopback (DNS rebinding, a changed setting) gets nothing."""
    url = receiver.plan("/inside")
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK = False
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    attempt = DeliveryAttempt.objects.get(delivery__endpoint=endpoint)
    assert attempt.status_code is None
    assert attempt.error.startswith("Blocked: Webhook URLs may not point at a loopback address")
    assert receiver.received("/inside") == []
    assert Delivery.objects.get(endpoint=endpoint).status == Delivery.Status.PENDING  # retried on schedule


def test_a_live_endpoint_whose_name_now_resolves_to_loopback_gets_nothing(db, shop, receiver):
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=True, url="https://93.184.215.14/hook", enabled_events=["*"]
    )
    # As if its DNS record had been changed after saving: the name now leads to this machine.
    type(endpoint).objects.filter(pk=endpoint.pk).update(url=f"https://localhost:{receiver.server.server_address[1]}/x")
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    attempt = DeliveryAttempt.objects.get(delivery__endpoint=endpoint)
    assert "loopback address: localhost." in attempt.error
    assert "127.0.0.1" not in attempt.error  # the resolved address is not shown to the merchant
    assert receiver.requests == []
