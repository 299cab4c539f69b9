"""View decorators: ``restriction_exempt`` lets a view answer a session whose binding changed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

__all__ = ["restriction_exempt"]

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


def restriction_exempt(view_func: ViewFunc) -> ViewFunc:
    """Never block this view (logout, health checks, webhooks), like ``csrf_exempt``.

    A request to it whose session no longer matches its binding is neither refused nor flushed;
    the binding is left as it is. Works on sync and async views; for a class-based view, wrap
    the result of ``as_view()``.
    """
    if iscoroutinefunction(view_func):

        async def _view_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            return await view_func(request, *args, **kwargs)

    else:

        def _view_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return view_func(request, *args, **kwargs)

    _view_wrapper.restriction_exempt = True  # type: ignore[attr-defined]
    return wraps(view_func)(_view_wrapper)  # type: ignore[return-value]
