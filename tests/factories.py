"""Test data made through the same services the product uses."""

from itertools import count

from django.contrib.auth import get_user_model

from merchants import services
from merchants.models import Membership

_seq = count(1)


def merchant(name: str = "Shop", **kwargs) -> services.MerchantCreated:
    n = next(_seq)
    return services.merchant_create(
        name=name, owner_email=f"owner{n}@{name.lower()}.test", owner_password="pw", **kwargs
    )


def live_secret_key(merchant) -> str:
    return services.api_key_create(merchant=merchant, livemode=True, kind="secret").secret


def restricted_key(merchant, permissions: dict, livemode: bool = False) -> str:
    return services.api_key_create(
        merchant=merchant, livemode=livemode, kind="restricted", permissions=permissions
    ).secret


def staff(merchant, role: str = Membership.Role.OWNER, email: str | None = None):
    email = email or f"{role}{next(_seq)}@{merchant.name.lower().replace(' ', '')}.test"
    membership = services.membership_add(merchant=merchant, email=email, role=role)
    user = membership.user
    user.set_password("pw")
    user.save()
    return user


def platform_staff():
    User = get_user_model()
    return User.objects.create_superuser(username=f"root{next(_seq)}", email="root@kassa.test", password="pw")
