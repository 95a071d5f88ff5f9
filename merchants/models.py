"""Merchants, their staff, their API keys and their processor credentials.

API keys are stored as SHA-256 hashes: a key is 190 bits of randomness, so a
fast hash is as safe as a slow one and lets authentication be one indexed
lookup. Only publishable keys, which are public by design, keep their
plaintext. Processor secrets are encrypted with MultiFernet (kassa/crypto.py)
and shown again only as a hint (prefix and last four characters).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kassa.ids import public_id
from kassa.mail import LANGUAGE_CHOICES


def _merchant_id() -> str:
    return public_id("acct", 16)


class Merchant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DISABLED = "disabled", _("Disabled")

    public_id = models.CharField(_("ID"), max_length=40, unique=True, default=_merchant_id, editable=False)
    name = models.CharField(max_length=200, verbose_name=_("name"))
    support_email = models.EmailField(blank=True, verbose_name=_("support email"))
    default_currency = models.CharField(max_length=3, default="usd", verbose_name=_("default currency"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    require_two_factor = models.BooleanField(
        _("Require two-factor authentication"),
        default=False,
        help_text=_("Members must log in with a code from an authenticator app. Only an owner can change this."),
    )
    receipts_enabled = models.BooleanField(
        _("Email receipts to payers"),
        default=True,
        help_text=_(
            "Payers who gave their email get a receipt when they pay and when they are refunded, "
            "with your name and support email."
        ),
    )
    created = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created"))

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        DEVELOPER = "developer", _("Developer")
        VIEWER = "viewer", _("Viewer")

    user = models.ForeignKey(  # indexed by membership_unique_user_merchant
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
        db_index=False,
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("merchant")
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER, verbose_name=_("role"))
    # Emails to this member about this merchant (merchants/emails.py); a new owner gets both switched on.
    notify_payments = models.BooleanField(_("Email me when a payment succeeds"), default=False)
    notify_failures = models.BooleanField(_("Email me when a payment or a refund fails"), default=False)
    # One email a morning about the day before (billing/dashboard/summaries.py), beside or instead of the above.
    notify_daily = models.BooleanField(_("Email me a summary of each day's payments"), default=False)
    language = models.CharField(_("Email language"), max_length=8, choices=LANGUAGE_CHOICES, default="en")
    created = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created"))

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [models.UniqueConstraint(fields=["user", "merchant"], name="membership_unique_user_merchant")]
        ordering = ["merchant__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) at {self.merchant}"


class APIKey(models.Model):
    class Kind(models.TextChoices):
        SECRET = "secret", _("Secret")
        RESTRICTED = "restricted", _("Restricted")
        PUBLISHABLE = "publishable", _("Publishable")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRING = "expiring", _("Expiring")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")

    PREFIXES = {Kind.SECRET: "sk", Kind.RESTRICTED: "rk", Kind.PUBLISHABLE: "pk"}

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("merchant")
    )
    livemode = models.BooleanField(default=False, verbose_name=_("live mode"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    name = models.CharField(max_length=100, blank=True, verbose_name=_("name"))
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, verbose_name=_("prefix"))
    last4 = models.CharField(max_length=4, editable=False, verbose_name=_("last 4"))
    # Only for publishable keys, which are public by design (pages embed them).
    publishable_token = models.CharField(max_length=120, blank=True, editable=False)
    # Restricted keys: {"customers": "write", "products": "read", ...}; absent means none.
    permissions = models.JSONField(default=dict, blank=True, verbose_name=_("permissions"))
    created = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created"))
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last used at"))
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("expires at"))
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("revoked at"))
    rolled_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rolled_to",
        editable=False,
        verbose_name=_("rolled from"),
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return self.redacted

    @property
    def redacted(self) -> str:
        return f"{self.prefix}…{self.last4}"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at is not None:
            return self.Status.EXPIRING if self.expires_at > timezone.now() else self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def usable(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.EXPIRING)


class ProcessorCredential(models.Model):
    """A merchant's Stripe keys for one mode, encrypted at rest."""

    merchant = models.ForeignKey(  # indexed by processor_credential_one_per_mode
        Merchant,
        on_delete=models.CASCADE,
        related_name="processor_credentials",
        verbose_name=_("merchant"),
        db_index=False,
    )
    livemode = models.BooleanField(default=False, verbose_name=_("live mode"))
    # Public by design: the hosted pages hand it to Stripe.js in the payer's browser.
    publishable_key = models.CharField(max_length=255, blank=True, verbose_name=_("publishable key"))
    secret_key_ciphertext = models.TextField(editable=False)
    secret_key_hint = models.CharField(max_length=40, editable=False, verbose_name=_("secret key hint"))
    webhook_secret_ciphertext = models.TextField(blank=True, editable=False)
    webhook_secret_hint = models.CharField(
        max_length=40, blank=True, editable=False, verbose_name=_("webhook secret hint")
    )
    created = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created"))
    updated = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("updated"))
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last checked at"))
    last_check_ok = models.BooleanField(null=True, editable=False, verbose_name=_("last check ok"))
    last_check_message = models.CharField(
        max_length=300, blank=True, editable=False, verbose_name=_("last check message")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode"], name="processor_credential_one_per_mode")
        ]
        verbose_name = _("Stripe credentials")
        verbose_name_plural = _("Stripe credentials")

    def __str__(self) -> str:
        mode = _("live") if self.livemode else _("test")
        return str(_("Stripe %(mode)s credentials of %(merchant)s") % {"mode": mode, "merchant": self.merchant})


class IdempotencyKey(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, for replay within 24 h.

    On the hot path of every write (stripe-python sends a key with every
    POST): one insert when the request starts, one update when it ends.
    ``status_code`` is null while the first request is still running.
    """

    merchant = models.ForeignKey(  # indexed by idempotency_key_unique_per_scope
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    livemode = models.BooleanField()
    # Whose records these are inside the merchant and mode (merchants.idempotency.key_scope):
    # a key never replays, nor learns of, a record made by a key of another kind.
    key_scope = models.CharField(max_length=40, default="secret")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "key_scope", "key"], name="idempotency_key_unique_per_scope"
            )
        ]

    def __str__(self) -> str:
        return self.key


class MerchantScoped(models.Model):
    """What every API object has: a public id, its merchant, its mode, created and metadata."""

    public_id = models.CharField(_("ID"), max_length=64, unique=True, editable=False)
    # Indexed by each model's own index that leads with it (its list's (merchant, livemode, -id), or one of its own):
    # a second index of the column alone would only be written to (tests/kassa/test_schema.py).
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant"), db_index=False
    )
    livemode = models.BooleanField(default=False, editable=False, verbose_name=_("live mode"))
    created = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created"))
    metadata = models.JSONField(default=dict, blank=True, verbose_name=_("metadata"))

    class Meta:
        abstract = True
        indexes = []

    def __str__(self) -> str:
        return self.public_id


class EmailTaskOwed(models.Model):
    """An email task owed: written in the transaction of the change that calls for it, deleted when the task has run
    to its end (merchants.emails.email_task_queue). A task the broker could not take at the commit, or that was
    lost after it, is queued again by beat's sweeper (``email_tasks_sweep``); the ``EmailSent`` ledger keeps a task
    run twice from sending anything twice. ``key``: the task's name and arguments, hashed (they are matched on it
    when the task ends)."""

    task = models.CharField(max_length=100)
    args = models.JSONField()
    key = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    #: Times the sweeper queued it again: each waits twice as long as the one before.
    requeued = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("email owed")
        verbose_name_plural = _("emails owed")
        # Matched by equality only (a hash): a plain index, not the pattern index db_index adds on PostgreSQL.
        indexes = [models.Index(fields=["key"], name="email_task_owed_key")]

    def __str__(self) -> str:
        return self.task


class EmailSent(models.Model):
    """One email Kassa sent (or is sending), by a key naming what it is about: never two for one key.

    The key says what the email is for (``receipt:pi_…``, ``notice.payment_failed:pi_…:member:42``,
    ``invitation:member:42``); its unique constraint makes a retried task or a duplicate webhook a
    no-op. The row is claimed (``sending``) and committed before the mail server is called, and
    deleted again if the call fails, so a retry may send it; a worker killed mid-send leaves the claim
    and the email is not sent again (at most once: a second receipt is worse than a missing one).
    No message body is kept: receipts name amounts and cards, invitations carry one-time links.
    """

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")

    key = models.CharField(max_length=200, unique=True)
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    recipient = models.EmailField(max_length=254)
    language = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    created = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("email sent")
        verbose_name_plural = _("emails sent")

    def __str__(self) -> str:
        return self.key
