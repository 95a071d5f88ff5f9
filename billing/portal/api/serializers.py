"""Input parameters and output shape of customer portal sessions, as Stripe names them."""

from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.fields import ID

from ...checkout.models import Locale
from .. import services
from ..models import PortalSession

LOCALE_HELP = (
    "The portal's language: auto (the payer's pick on the page's language switch, else the customer's "
    "`preferred_locales`, else their browser's), en or fr. Stripe's other locales are refused until Kassa has "
    "their translations. Unset behaves as auto."
)


class PortalSessionCreateParams(f.StrictSerializer):
    customer = f.String(help_text="The customer (`cus_…`) the portal is for: one of yours, in the key's mode.", **ID)
    return_url = f.OptionalString(
        max_length=services.URL_MAX,
        help_text='Where the portal\'s "Return to …" link leads (an absolute http(s) URL). Defaults to the '
        "default return URL of your portal settings (Dashboard: Settings, Customer portal); without either "
        "the request is refused.",
    )
    locale = f.Kind(
        choices=Locale.values,
        required=False,
        allow_blank=True,
        help_text=LOCALE_HELP,
        error_messages={
            "invalid_choice": f"`{{input}}` is not a locale Kassa supports yet; use one of: {', '.join(Locale.values)}."
        },
    )


class PortalSessionOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("billing_portal.session")
    after_expiration = f.Fixed(None, schema="object")
    configuration = serializers.CharField(
        source="configuration.public_id",
        help_text="The portal settings (`bpc_…`) the session shows: your settings for the key's mode.",
    )
    created = f.UnixTime()
    customer = serializers.CharField(source="customer.public_id", help_text="The customer's id (`cus_…`).")
    customer_account = f.Fixed(None)
    flow = f.Fixed(None, schema="object")
    livemode = serializers.BooleanField()
    locale = serializers.CharField(allow_null=True, help_text="The language asked for at creation, else null.")
    on_behalf_of = f.Fixed(None)
    return_url = serializers.CharField(
        allow_null=True, help_text='Where the portal\'s "Return to …" link leads, else null.'
    )
    url = serializers.SerializerMethodField(
        help_text="The portal's address, to send the customer to at once: it opens once, within 5 minutes; the "
        "session then lasts an hour in the browser that opened it. Null in events (the address is the "
        "customer's credential)."
    )

    def get_url(self, session: PortalSession) -> str | None:
        return services.portal_session_url(session)
