"""Invoice numbers: gap-free per merchant and mode, prefixes never reused, the next number only raised."""

import threading

import pytest
from django.db import connection, transaction

from billing.invoices import numbering
from billing.models import InvoicePrefix, InvoiceSettings
from kassa.errors import InvalidRequest
from tests import factories


def _take(merchant, livemode=False) -> str:
    with transaction.atomic():
        return numbering.number_take(merchant=merchant, livemode=livemode)


def test_a_merchant_gets_settings_with_a_prefix_from_its_name(db):
    acme = factories.merchant("Acme Tea & Co").merchant
    settings = numbering.invoice_settings_for(acme)
    assert settings.prefix == "ACMETEAC"
    assert settings.legal_name == "Acme Tea & Co"
    assert numbering.invoice_settings_for(acme).pk == settings.pk
    # Another merchant with the same name gets a prefix of its own.
    twin = factories.merchant("Acme Tea & Co").merchant
    other = numbering.invoice_settings_for(twin).prefix
    assert other != "ACMETEAC"
    assert numbering.PREFIX_PATTERN.match(other)


def test_numbers_follow_each_other_per_mode(shop):
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="SHOP")
    assert [_take(m) for _ in range(3)] == ["SHOP-0001", "SHOP-0002", "SHOP-0003"]
    # Live mode has its own series under the same prefix: a test invoice never uses up a live number.
    assert _take(m, livemode=True) == "SHOP-0001"
    assert numbering.next_number(merchant=m, livemode=False) == 4


def test_a_rolled_back_finalization_gives_its_number_back(shop):
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="SHOP")
    assert _take(m) == "SHOP-0001"

    def finalization_failing_after_its_number():
        with transaction.atomic():
            numbering.number_take(merchant=m, livemode=False)
            raise RuntimeError("the finalization failed after taking its number")

    with pytest.raises(RuntimeError):
        finalization_failing_after_its_number()
    assert _take(m) == "SHOP-0002"


def test_a_number_is_only_taken_inside_a_transaction(shop, transactional_db):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        numbering.number_take(merchant=shop.merchant, livemode=False)


def test_a_prefix_that_numbered_an_invoice_is_never_chosen_again(shop, other_shop):
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="SHOP")
    _take(m)
    numbering.invoice_prefix_set(merchant=m, prefix="SHOP2")
    assert _take(m) == "SHOP2-0001"  # a new prefix counts from 1
    with pytest.raises(InvalidRequest) as refused:
        numbering.invoice_prefix_set(merchant=m, prefix="shop")
    assert refused.value.param == "prefix"
    assert "already been used" in refused.value.message
    # Nor by another merchant, used or merely taken.
    for taken in ("SHOP", "SHOP2"):
        with pytest.raises(InvalidRequest):
            numbering.invoice_prefix_set(merchant=other_shop.merchant, prefix=taken)
    assert InvoiceSettings.objects.get(merchant=m).prefix == "SHOP2"


def test_a_prefix_taken_but_never_used_can_be_chosen_again_by_its_merchant(shop):
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="FIRST")
    numbering.invoice_prefix_set(merchant=m, prefix="SECOND")
    numbering.invoice_prefix_set(merchant=m, prefix="FIRST")
    assert _take(m) == "FIRST-0001"


@pytest.mark.parametrize("prefix", ["AB", "ABCDEFGHIJKLM", "AC-ME", "ACMÉ", ""])
def test_a_malformed_prefix_is_refused(shop, prefix):
    before = numbering.invoice_settings_for(shop.merchant).prefix
    with pytest.raises(InvalidRequest) as refused:
        numbering.invoice_prefix_set(merchant=shop.merchant, prefix=prefix)
    assert refused.value.param == "prefix"
    assert numbering.invoice_settings_for(shop.merchant).prefix == before
    assert not InvoicePrefix.objects.filter(prefix=prefix.upper()).exists() or prefix == ""


def test_the_next_number_can_be_raised_but_never_lowered(shop):
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="SHOP")
    numbering.invoice_next_number_set(merchant=m, livemode=False, next_number=1001)
    assert _take(m) == "SHOP-1001"
    with pytest.raises(InvalidRequest) as refused:
        numbering.invoice_next_number_set(merchant=m, livemode=False, next_number=5)
    assert refused.value.param == "next_number"
    assert _take(m) == "SHOP-1002"
    numbering.invoice_next_number_set(merchant=m, livemode=False, next_number=12345)
    assert _take(m) == "SHOP-12345"


def test_settings_are_checked(shop):
    m = shop.merchant
    settings = numbering.invoice_settings_update(
        merchant=m, legal_name="Shop SAS", country="fr", vat_number="fr 12 345678901", days_until_due=15
    )
    assert (settings.country, settings.vat_number, settings.days_until_due) == ("FR", "FR12345678901", 15)
    for bad in ({"country": "XX"}, {"days_until_due": 400}, {"default_locale": "de"}, {"legal_name": "x" * 201}):
        with pytest.raises(InvalidRequest) as refused:
            numbering.invoice_settings_update(merchant=m, **bad)
        assert refused.value.param == next(iter(bad))
    with pytest.raises(InvalidRequest) as refused:
        numbering.invoice_settings_update(merchant=m, logo=b"GIF89a....")
    assert refused.value.param == "logo"
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert numbering.invoice_settings_update(merchant=m, logo=png).logo_content_type == "image/png"
    settings = InvoiceSettings.objects.get(merchant=m)
    assert (settings.legal_name, settings.days_until_due, bytes(settings.logo)) == ("Shop SAS", 15, png)


def test_twenty_finalizations_at_once_get_twenty_consecutive_numbers(shop, transactional_db):
    """Each thread takes a number in its own transaction, as twenty finalizing requests would."""
    m = shop.merchant
    numbering.invoice_prefix_set(merchant=m, prefix="RACE")
    barrier, taken, errors = threading.Barrier(20), [], []

    def finalize():
        try:
            barrier.wait()
            taken.append(_take(m))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(taken) == [f"RACE-{n:04d}" for n in range(1, 21)]


def test_settings_made_in_a_batch_whose_transaction_rolls_back_are_not_handed_to_the_rest_of_the_batch(shop):
    """A renewal batch reads the merchant's settings once (kassa.batch). A merchant's first invoice
    makes them; if that invoice's transaction rolls back, so do they, and the rest of the batch must not number
    invoices under a prefix no row holds any more."""
    from kassa.batch import batch

    m = shop.merchant
    InvoiceSettings.objects.filter(merchant=m).delete()

    class Failed(Exception):
        pass

    made = []

    def first_invoice_failing_after_making_the_settings():
        with transaction.atomic():
            made.append(numbering.invoice_settings_for(m))  # made by this transaction
            assert numbering.invoice_settings_for(m).pk == made[0].pk  # read back within it
            raise Failed

    with batch():
        with pytest.raises(Failed):
            first_invoice_failing_after_making_the_settings()
        assert not InvoiceSettings.objects.filter(pk=made[0].pk).exists()
        again = numbering.invoice_settings_for(m)
        assert InvoiceSettings.objects.filter(pk=again.pk, prefix=again.prefix).exists()
        assert _take(m) == f"{again.prefix}-0001"
        assert _take(m) == f"{again.prefix}-0002"
