"""API authentication by key: the key decides the merchant and the mode."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from kassa.errors import AuthenticationFailed

from .. import selectors, services


class APIKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            raise AuthenticationFailed(
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
            )
        key = selectors.api_key_from_authorization(header)
        services.api_key_touch(api_key=key)
        return (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="Kassa"'


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Tells drf-spectacular how keys are sent: Bearer, or Basic with the key as user name."""

    target_class = APIKeyAuthentication
    name = ["bearerAuth", "basicAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "A secret (sk_…) or restricted (rk_…) key."},
            {"type": "http", "scheme": "basic", "description": "The key as user name, no password."},
        ]

    def get_security_requirement(self, auto_schema):
        # Either scheme, not both (a list of names would mean both at once).
        return [{"bearerAuth": []}, {"basicAuth": []}]
