"""Reads for merchants and keys."""

import base64
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kassa.batch import shared
from kassa.errors import AuthenticationFailed, InvalidRequest, PermissionDenied

from .models import APIKey, Membership, Merchant, ProcessorCredential
from .services import hash_key


def presented_key(header: str) -> str | None:
    """The key an ``Authorization`` header presents (Bearer, or Basic with the key as user name); None if none."""
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            credentials = base64.b64decode(credentials, validate=True).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return None
    elif scheme.lower() != "bearer":
        return None
    return credentials or None


def api_key_from_authorization(header: str) -> APIKey:
    """The usable key named by an ``Authorization`` header (Bearer, or Basic with the key as user name)."""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() not in ("basic", "bearer"):
        raise AuthenticationFailed("Invalid authorization header. Use 'Authorization: Bearer YOUR_SECRET_KEY'.")
    credentials = presented_key(header)
    if credentials is None and scheme.lower() == "basic" and header.partition(" ")[2].strip():
        raise AuthenticationFailed("Invalid Basic authorization header.")
    if not credentials:
        raise AuthenticationFailed("You did not provide an API key. Use 'Authorization: Bearer YOUR_SECRET_KEY'.")
    key = _api_key_by_hash(hash_key(credentials))
    shown = credentials[:8] + "*" * 4 + credentials[-4:] if len(credentials) > 12 else "****"
    if key is None:
        raise AuthenticationFailed(f"Invalid API Key provided: {shown}", code="api_key_invalid")
    if key.status == APIKey.Status.REVOKED:
        raise AuthenticationFailed(f"This API key has been revoked: {shown}", code="api_key_expired")
    if key.status == APIKey.Status.EXPIRED:
        raise AuthenticationFailed(f"This API key has expired: {shown}", code="api_key_expired")
    if key.merchant.status != Merchant.Status.ACTIVE:
        raise PermissionDenied("This merchant account is disabled.", code="account_disabled")
    return key


@cache
def _api_key_query(vendor: str) -> tuple[str, list]:
    """The SQL and, per column, the model field's converters (what the ORM's compiler applies)."""
    q = connection.ops.quote_name
    columns, specs = [], []
    for model in (APIKey, Merchant):
        table = model._meta.db_table
        for field in model._meta.concrete_fields:
            col = field.get_col(table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            columns.append(f"{q(table)}.{q(field.column)}")
            specs.append((model, field.attname, col, converters))
    key_table, merchant_table = q(APIKey._meta.db_table), q(Merchant._meta.db_table)
    sql = (
        f"SELECT {', '.join(columns)} FROM {key_table} INNER JOIN {merchant_table} "  # noqa: S608 - names from model metadata
        f"ON {merchant_table}.{q('id')} = {key_table}.{q('merchant_id')} "
        f"WHERE {key_table}.{q('secret_hash')} = %s"
    )
    return sql, specs


def _api_key_by_hash(secret_hash: str) -> APIKey | None:
    """The key and its merchant in one indexed lookup.

    This runs on every API request, and the ORM spends about a millisecond of
    CPU compiling the equivalent query each time (measured: 1.3 ms against
    0.4 ms). So the SQL is built once from the models' metadata, and the row
    becomes model instances the way the ORM does it: each field's database
    converters, then ``from_db``.
    """
    sql, specs = _api_key_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [secret_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    values: dict = {APIKey: ([], []), Merchant: ([], [])}
    for (model, attname, col, converters), value in zip(specs, row, strict=True):
        for convert in converters:
            value = convert(value, col, connection)  # noqa: PLW2901
        values[model][0].append(attname)
        values[model][1].append(value)
    key = APIKey.from_db(connection.alias, *values[APIKey])
    key.merchant = Merchant.from_db(connection.alias, *values[Merchant])
    return key


def memberships_of(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, merchant__status=Merchant.Status.ACTIVE).select_related("merchant")


def processor_credential_for(merchant: Merchant, livemode: bool):
    """The merchant's Stripe credentials for this mode, or a clear error (never a crash); read once per batch
    inside ``kassa.batch.batch()`` (a renewal run)."""
    credential = shared(
        ("processor_credential", merchant.pk, livemode),
        lambda: ProcessorCredential.objects.filter(merchant=merchant, livemode=livemode).first(),
    )
    if credential is None:
        mode = "live" if livemode else "test"
        raise InvalidRequest(
            f"This merchant has no Stripe credentials for {mode} mode yet. "
            "An owner or admin adds them in the dashboard under Stripe credentials.",
            code="processor_not_configured",
        )
    return credential


@dataclass(frozen=True)
class PaymentsReadiness:
    """Whether payers of a merchant can pay in a mode: the key the pay page hands to Stripe.js, or why not."""

    publishable_key: str  # "" when payments are unavailable
    problem: str  # "" when payers can pay; otherwise a sentence for the merchant
    fix_url: str  # where the merchant fixes it ("" when nothing to fix, or not theirs to fix)

    @property
    def ready(self) -> bool:
        return not self.problem


def payments_readiness(*, merchant: Merchant, livemode: bool) -> PaymentsReadiness:
    """The one rule for "can this merchant take payments in this mode?".

    The hosted pay page answers 503 exactly when this says no (billing/checkout/pages.py),
    and the dashboard's banner and link-creation warning show the same answer.
    """
    mode = _("live") if livemode else _("test")
    if merchant.status != Merchant.Status.ACTIVE:
        return PaymentsReadiness("", str(_("This merchant account is disabled: payers cannot pay.")), "")
    credential = ProcessorCredential.objects.filter(merchant=merchant, livemode=livemode).first()
    if credential is None:
        return PaymentsReadiness(
            "",
            str(_("Payments are off in %(mode)s mode: no Stripe credentials for %(mode)s mode yet.") % {"mode": mode}),
            reverse("admin:merchants_processorcredential_add"),
        )
    if not credential.publishable_key:
        return PaymentsReadiness(
            "",
            str(
                _("Payments are off in %(mode)s mode: the Stripe credentials have no publishable key.") % {"mode": mode}
            ),
            reverse("admin:merchants_processorcredential_change", args=[credential.pk]),
        )
    return PaymentsReadiness(credential.publishable_key, "", "")


def processor_events_url(*, merchant, livemode: bool) -> str:
    """Where Stripe should send this merchant's events for this mode (served by webhooks/views.py).

    Here, not in webhooks: the credential's dashboard page and the demo set-up
    show it, and they sit below webhooks. Only the URL's name is shared.
    """
    path = reverse("stripe_webhook", args=[merchant.public_id, "live" if livemode else "test"])
    return settings.KASSA_PUBLIC_URL.rstrip("/") + path


def members_to_notify(*, merchant: Merchant, about: str) -> QuerySet:
    """The memberships of this merchant (only this one) that asked for an email ``about`` payments or failures."""
    flag = {"payments": "notify_payments", "failures": "notify_failures"}[about]
    return (
        Membership.objects.filter(merchant=merchant, user__is_active=True, **{flag: True})
        .exclude(user__email="")
        .select_related("user")
        .order_by("pk")
    )
