"""Kassa's errors: a stable machine code plus a message meant for people.

Services raise these; the API renders them in Stripe's error shape
(``{"error": {"type", "code", "message", "param"}}``) with Stripe's status
codes, so that Stripe's SDKs raise the matching exception class; the
dashboard shows the message. Stripe's codes are used where Stripe has one:
https://docs.stripe.com/error-codes
"""


class KassaError(Exception):
    status = 400
    type = "invalid_request_error"
    default_code: str | None = None

    def __init__(
        self, message: str, *, code: str | None = None, param: str | None = None, status: int | None = None, **extra
    ):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.extra = extra

    def as_dict(self) -> dict:
        body = {"type": self.type, "message": self.message}
        if self.code:
            body["code"] = self.code
        if self.param:
            body["param"] = self.param
        body.update(self.extra)
        return body


class InvalidRequest(KassaError):
    pass


class ResourceMissing(KassaError):
    status = 404
    default_code = "resource_missing"


class AuthenticationFailed(KassaError):
    status = 401
    type = "authentication_error"


class PermissionDenied(KassaError):
    status = 403
    type = "permission_error"


class IdempotencyMismatch(KassaError):
    type = "idempotency_error"
    default_code = "idempotency_key_in_use"


class IdempotencyConflict(KassaError):
    """A request with the same key is still running (409; the SDKs retry it)."""

    status = 409
    type = "idempotency_error"
    default_code = "idempotency_key_in_use"


class RateLimited(KassaError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit"


class CardError(KassaError):
    status = 402
    type = "card_error"


class ProcessorError(KassaError):
    """The processor failed or refused for a reason that is not the payer's card."""

    status = 500
    type = "api_error"
