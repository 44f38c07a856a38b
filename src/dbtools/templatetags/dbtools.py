"""``{% load dbtools %}{% read_only_banner %}``: a banner shown only while a mode is on."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from dbtools.context_processors import ReadOnlyContext
from dbtools.current import current_state

register = template.Library()


@register.simple_tag
def read_only_banner() -> SafeString:
    """Render ``dbtools/banner.html`` while a mode is on, and nothing otherwise."""
    state = current_state()
    if not state.active:
        return mark_safe("")
    return mark_safe(
        render_to_string("dbtools/banner.html", {"read_only": ReadOnlyContext.of(state)})
    )
