"""Outbound URLs may not reach Kassa's own network (server-side request forgery).

Two checks, because a name can resolve differently at delivery time than
when it was saved (DNS rebinding):

- ``url_check`` when an endpoint is saved: the scheme, and every address the
  host resolves to now (an unresolvable name is let through: it may exist
  later, and the delivery-time check still applies);
- ``addresses_for`` at every delivery: resolve, refuse if *any* address is
  not public, and connect to the vetted address itself (never resolving
  again), with the host name kept for TLS and the ``Host`` header.

Live mode: ``https`` only, public (globally routable) addresses only. Test
mode: ``http`` too; loopback only when ``KASSA_WEBHOOKS_ALLOW_LOOPBACK`` is on
(the default in development, off in production), for a receiver on the
developer's own machine. Private, link-local (cloud metadata), multicast and
reserved addresses are refused in every mode.
"""

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from django.conf import settings

from kassa.errors import InvalidRequest

logger = logging.getLogger(__name__)


class Refused(InvalidRequest):
    """The URL or the address it resolves to may not be called."""

    default_code = "url_invalid"


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a connection would reach: IPv6 forms that carry an IPv4 address (mapped,
    IPv4-compatible, NAT64, 6to4, Teredo) are judged by that IPv4 address."""
    address = ipaddress.ip_address(raw.split("%", maxsplit=1)[0])
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in network for network in (*_NAT64, _IPV4_COMPATIBLE)) and not address.is_loopback:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, livemode: bool) -> bool:
    if address.is_loopback:
        return not livemode and settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK
    return address.is_global and not address.is_multicast


def _split(url: str, *, livemode: bool):
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused("The URL must be an absolute http(s) URL.", param="url")
    if livemode and parts.scheme != "https":
        raise Refused("A live-mode webhook endpoint must use https.", param="url")
    if parts.username or parts.password:
        raise Refused("The URL may not contain a user name or password.", param="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("The URL's port is not valid.", param="url") from None
    return parts, port


def _resolve(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _refuse_unsafe(host: str, addresses: list[str], *, livemode: bool) -> None:
    for raw in addresses:
        address = _address(raw)
        if not _allowed(address, livemode=livemode):
            where = "a loopback" if address.is_loopback else "a private or reserved"
            # The resolved address is logged, never shown: merchants must not map Kassa's internal names.
            logger.warning("Refused webhook URL host %s: it resolves to %s", host, raw)
            raise Refused(
                f"Webhook URLs may not point at {where} address: {host}. Use a public address"
                + ("." if livemode else " (or allow loopback for test mode in development)."),
                param="url",
            )


def url_check(url: str, *, livemode: bool) -> None:
    """Refuse a URL that is unsafe now; names that do not resolve yet are checked again at delivery."""
    parts, port = _split(url, livemode=livemode)
    try:
        addresses = _resolve(parts.hostname, port)
    except OSError:
        return
    _refuse_unsafe(parts.hostname, addresses, livemode=livemode)


def addresses_for(url: str, *, livemode: bool):
    """``(urlsplit parts, port, addresses)`` for a delivery, every address vetted; raises Refused or OSError."""
    parts, port = _split(url, livemode=livemode)
    addresses = _resolve(parts.hostname, port)
    _refuse_unsafe(parts.hostname, addresses, livemode=livemode)
    return parts, port, addresses
