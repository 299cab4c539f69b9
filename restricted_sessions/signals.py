"""The ``session_restricted`` signal, sent for each detected change of a bound session."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["session_restricted"]

# Sent once for each detected change of a bound session, before the session is ended (or, with
# REPORT_ONLY, instead). Arguments: request, reason ("ip", "ua", "dpop", "dbsc" or "refused"),
# stored (the bound value, hashed with STORE="hashed"), current (the request's value), enforced
# (bool). docs/api.rst describes each.
# A receiver that raises is logged and never stops the flush or the response.
session_restricted = Signal()
