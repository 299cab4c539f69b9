"""Counting what a request does to the session store (only in untimed passes).

SQL statements are counted on Django's cursor wrapper for every thread (ASGI runs sync code in
per-request threads); session writes are UPDATE/INSERT statements on django_session for the db
engine and ``SessionStore.save``/``asave`` calls (outermost only) for the other engines.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db.backends.utils import CursorWrapper
from django.utils.module_loading import import_string

_saving = contextvars.ContextVar("bench_saving", default=False)


@dataclass
class Counts:
    statements: int = 0
    session_writes: int = 0  # SQL on django_session (db engine)
    saves: int = 0  # SessionStore.save / asave, outermost calls
    created_by_store: int = 0  # INSERT into django_session, or save(must_create=True)

    def record_sql(self, sql: str) -> None:
        self.statements += 1
        head = sql.lstrip()[:6].upper()
        if "django_session" in sql and head in ("UPDATE", "INSERT"):
            self.session_writes += 1
            if head == "INSERT":
                self.created_by_store += 1


@contextmanager
def counting(engine: str) -> Iterator[Counts]:
    """Count SQL statements and session saves while the block runs."""
    counts = Counts()
    store: type[SessionBase] = import_string(engine + ".SessionStore")
    patched: list[tuple[type, str, Any]] = []

    def patch(owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__.get(name)
        patched.append((owner, name, original))
        setattr(owner, name, make(getattr(owner, name)))

    def sql_wrapper(original: Any) -> Any:
        @functools.wraps(original)
        def execute(self: CursorWrapper, sql: str, *args: Any, **kwargs: Any) -> Any:
            counts.record_sql(str(sql))
            return original(self, sql, *args, **kwargs)

        return execute

    def save_wrapper(original: Any) -> Any:
        @functools.wraps(original)
        def save(self: SessionBase, must_create: bool = False) -> Any:
            counts.saves += not _saving.get()
            # create() saves with must_create=True, possibly inside an outer save.
            counts.created_by_store += must_create and engine.endswith(".cache")
            token = _saving.set(True)
            try:
                return original(self, must_create)
            finally:
                _saving.reset(token)

        return save

    def asave_wrapper(original: Any) -> Any:
        @functools.wraps(original)
        async def asave(self: SessionBase, must_create: bool = False) -> Any:
            counts.saves += not _saving.get()
            # create() saves with must_create=True, possibly inside an outer save.
            counts.created_by_store += must_create and engine.endswith(".cache")
            token = _saving.set(True)
            try:
                return await original(self, must_create)
            finally:
                _saving.reset(token)

        return asave

    patch(CursorWrapper, "execute", sql_wrapper)
    patch(CursorWrapper, "executemany", sql_wrapper)
    patch(store, "save", save_wrapper)
    patch(store, "asave", asave_wrapper)
    try:
        yield counts
    finally:
        for owner, name, original in reversed(patched):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
