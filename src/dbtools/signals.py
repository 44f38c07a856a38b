"""Signals dbtools sends."""

from django.dispatch import Signal

#: Sent in each process when it sees a new runtime state in the store, with keyword
#: arguments ``state`` (the new :class:`dbtools.state.State`) and ``previous``.
mode_changed = Signal()
