"""One registry for every plugin point: model kinds, descriptor kinds, systems, protocols, executors.

A :class:`Registry` maps a name to a class (or factory). Built-in entries are declared as
``"name": "module:attribute"`` strings and imported only when first looked up, so a registry module never
imports the classes that register with it (they import it: no import cycle) and listing the names costs
no import. Third-party code adds entries with the :meth:`Registry.register` decorator::

    from glassfix.models.base import MODEL_KINDS

    @MODEL_KINDS.register
    class MyModel(Predictor):
        kind = "my-kind"
        ...

Unknown names raise :class:`UnknownName` (both a ``KeyError`` and a ``ValueError``, so existing callers of
either convention keep working) with the known names and the caller's hint, in one line.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar, overload

__all__ = ["Registry", "UnknownName"]

T = TypeVar("T")


class UnknownName(KeyError, ValueError):
    """A name no registry entry answers to; the message names the known entries."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Name -> class/factory of one kind of plugin point (``what``: e.g. "model kind"), lazily importing built-ins."""

    def __init__(self, what: str, builtins: Mapping[str, str] | None = None,
                 aliases: Mapping[str, str] | None = None, key: str = "kind", hint: str = "",
                 normalize: Callable[[str], str] | None = None) -> None:
        self.what = what
        self.key = key
        self.hint = hint
        self._normalize = normalize or (lambda s: s)
        self._builtins = dict(builtins or {})
        self._aliases = {self._normalize(k.lower()): v for k, v in (aliases or {}).items()}
        self._entries: dict[str, T] = {}

    # ------------------------------------------------------------------ registration
    @overload
    def register(self, obj: T) -> T: ...

    @overload
    def register(self, obj: str) -> Callable[[T], T]: ...

    def register(self, obj: Any) -> Any:
        """Decorator: ``@reg.register`` (name from the class attribute ``key``) or ``@reg.register("name")``."""
        if isinstance(obj, str):
            return lambda target: self._add(obj, target)
        name = getattr(obj, self.key, None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{getattr(obj, '__name__', obj)!r} must define a non-empty class attribute "
                            f"{self.key!r} to be registered as a {self.what}")
        return self._add(name, obj)

    def _add(self, name: str, obj: T) -> T:
        other = self._entries.get(name)
        if other is not None and getattr(other, "__qualname__", other) != getattr(obj, "__qualname__", obj):
            raise ValueError(f"{self.what} {name!r} is already registered by {getattr(other, '__name__', other)}")
        self._entries[name] = obj
        return obj

    # ------------------------------------------------------------------ lookup
    def canonical(self, name: str) -> str:
        """The registered name behind ``name`` (normalised; aliases resolved case-insensitively)."""
        key = self._normalize(str(name))
        return self._aliases.get(key.lower(), key)

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (or an alias); :class:`UnknownName` naming the known ones otherwise."""
        key = self.canonical(name)
        if key not in self._entries and key in self._builtins:
            module, _, attr = self._builtins[key].partition(":")
            mod = importlib.import_module(module)  # registers itself, or we take the attribute
            if key not in self._entries:
                self._add(key, getattr(mod, attr))
        try:
            return self._entries[key]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            hint = f"; {self.hint}" if self.hint else ""
            raise UnknownName(f"unknown {self.what} {name!r}; available: {known}{hint}") from None

    def load_all(self) -> dict[str, T]:
        """Every entry, importing the built-ins (name -> entry)."""
        for name in list(self._builtins):
            self.get(name)
        return dict(self._entries)

    def names(self, aliases: bool = False) -> list[str]:
        """Sorted registered and built-in names (no import); with ``aliases`` also the accepted aliases."""
        return sorted(set(self._entries) | set(self._builtins) | (set(self._aliases) if aliases else set()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in (set(self._entries) | set(self._builtins))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __getitem__(self, name: str) -> T:
        """Same as :meth:`get` (dict-style access)."""
        return self.get(name)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {self.names()})"
