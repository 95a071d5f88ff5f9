"""The portal page's sections, and the registry through which other parts add theirs.

The page (pages.py) shows every registered section whose ``context`` answers something, in ``order``;
a form in a section posts to ``/portal/<token>/<section key>/<action>``, which calls that section's
action. The portal's own sections (details, card, invoices) register here the same way
(pages.py); subscriptions register theirs from billing/apps.py (order 10: first on the page) with a
template under ``portal/sections/`` and actions such as ``cancel`` or ``switch``. A section only
ever sees the session (``ctx.session``), whose customer is the only one it may show or change:
whatever id a form sends must be looked up among that customer's objects.
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    key: str
    #: where it sits on the page (lower first): subscriptions 10, payment method 20, details 30, invoices 40
    order: int
    #: included by portal/page.html with the context the ``context`` callable answers (as ``section``)
    template: str
    #: ``context(ctx) -> dict | None``: what the template shows, or None to leave the section out
    #: (its feature is off in the settings, or it has nothing to show)
    context: Callable
    #: ``action(ctx, data)``: a POST's handler (``data``: the form's fields); raises a KassaError to refuse
    #: (the page shows the refusal in the section)
    actions: dict[str, Callable] = field(default_factory=dict)
    #: what the page says, in the section, after each action succeeded (by action)
    confirmations: dict[str, str] = field(default_factory=dict)
    #: ``refusal(ctx, error) -> str | None``: the payer's words for an action's KassaError (by its code and
    #: param, never its English message); None leaves it to the page's own words for the common refusals
    refusal: Callable | None = None


_SECTIONS: dict[str, Section] = {}


def section_register(section: Section) -> None:
    """Add (or replace, by key) a section of the portal page; call from an AppConfig.ready()."""
    _SECTIONS[section.key] = section


def sections() -> list[Section]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def section(key: str) -> Section | None:
    return _SECTIONS.get(key)
