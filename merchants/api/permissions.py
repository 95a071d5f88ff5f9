"""What a key may do: secret keys everything, restricted keys what they were granted,
publishable keys only the few browser-facing calls that opt in."""

from rest_framework.permissions import BasePermission

from kassa.errors import PermissionDenied

from ..models import APIKey

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class HasResourceAccess(BasePermission):
    def has_permission(self, request, view):
        key: APIKey = request.auth
        if key.kind == APIKey.Kind.SECRET:
            return True
        if key.kind == APIKey.Kind.PUBLISHABLE:
            allowed = getattr(view, "publishable_methods", {}).get(request.method)
            if allowed is None:
                raise PermissionDenied(
                    "This API call cannot be made with a publishable API key. Please use a secret API key.",
                    code="secret_key_required",
                )
            if set(view.raw_params()) != allowed:
                raise PermissionDenied(
                    f"A publishable key can only send {', '.join(sorted(allowed))} to this endpoint, and no other "
                    "parameter. Use a secret key for anything else.",
                    code="secret_key_required",
                )
            return True
        needed = "read" if request.method in READ_METHODS else "write"
        # A view answering with another resource's data, or expanding one, needs read access to that one too.
        required = [
            (view.resource, needed),
            *((other, "read") for other in getattr(view, "also_reads", ())),
            *((other, "read") for other in sorted(view.expanded_resources())),
        ]
        for resource, level in required:
            granted = key.permissions.get(resource, "none")
            if not (granted == "write" or (granted == "read" and level == "read")):
                raise PermissionDenied(
                    f"The provided key '{key.redacted}' does not have the required permissions for this endpoint "
                    f"on account '{key.merchant.public_id}'. Having the '{resource}:{level}' permission "
                    "would allow this request to continue.",
                    code="insufficient_permissions",
                )
        return True
