"""``{% copyable value "label" %}``: a value in a code box with a Copy button (merchants/widgets.py)."""

from django import template

from merchants import widgets

register = template.Library()


@register.simple_tag
def copyable(value, label=None):
    return widgets.copyable(value, label=label)


@register.simple_tag
def copy_button(value, label=None):
    return widgets.copy_button(value, label=label)
