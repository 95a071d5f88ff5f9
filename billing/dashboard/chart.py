"""The home page's chart of daily volume: an SVG drawn on the server by pygal, served by Kassa itself.

pygal is pure Python and draws without JavaScript (its tooltips script, loaded
from a CDN by default, is switched off with ``js=[]``, and its inline config
script is filtered out), so the chart works offline and under a strict CSP. The page shows it as an image from Kassa's
own URL (billing/dashboard/views.py): an image's inner styles are its own,
never subject to the page's ``style-src``.
"""

from decimal import Decimal

import pygal
from django.utils.formats import date_format
from pygal.style import Style

from kassa import money

CHARTS = 3  # currencies charted on the home page, one chart each (amounts of two currencies share no axis)

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#333333",
    foreground_subtle="#999999",
    colors=("#417690", "#f5a623", "#79aec8"),
    font_family="-apple-system, 'Segoe UI', system-ui, Roboto, 'Helvetica Neue', Arial, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    no_data_font_size=18,
)


def _without_scripts(root):
    """pygal's xml filter: drop the ``<script>`` it always writes (its config for the tooltips we do not load)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _amount(value, currency: str) -> str:
    """A bar's value as the page writes amounts ("25.00 EUR"); pygal hands it back as a float."""
    return money.format_amount(money.to_minor(Decimal(str(value)), currency), currency)


def volume_chart_svg(dates: list, amounts: list[int] | None, currency: str, *, no_data_text: str) -> bytes:
    """A bar per day of one currency's volume, in its major units (``amounts`` None: no payments in it)."""
    chart = pygal.Bar(
        js=[],  # no script, no CDN
        style=STYLE,
        width=900,
        height=280,
        show_legend=False,
        legend_at_bottom=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=5,
        margin=12,
        truncate_label=-1,  # whole dates under the bars
        print_values=False,
        no_data_text=no_data_text,
        disable_xml_declaration=False,
    )
    chart.add_xml_filter(_without_scripts)
    chart.x_labels = [date_format(d, "j M") for d in dates]  # in the reader's language
    if amounts is not None:
        chart.add(
            currency.upper(),
            [money.to_decimal(amount, currency) for amount in amounts],
            formatter=lambda value: _amount(value, currency),
        )
    return chart.render()
