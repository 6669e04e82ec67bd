"""The one registry helper behind every plugin point (glassfix.core.registry)."""

import pytest

from glassfix.core.registry import Registry


class _Thing:
    kind = "thing"


def test_register_by_class_attribute_and_name():
    reg = Registry("widget kind")
    assert reg.register(_Thing) is _Thing
    assert reg.get("thing") is _Thing and reg["thing"] is _Thing and "thing" in reg

    @reg.register("other")
    def factory():
        return 1

    assert reg.get("other") is factory and reg.names() == ["other", "thing"] and len(reg) == 2


def test_builtins_are_imported_lazily_and_aliases_resolve():
    reg = Registry("system", builtins={"frac": "fractions:Fraction"}, aliases={"Fr": "frac"})
    assert reg.names() == ["frac"] and "frac" in reg and "fr" in reg
    from fractions import Fraction

    assert reg.get("FR") is Fraction and reg.canonical("fr") == "frac"
    sysreg = Registry("system", builtins={"ka3d": "fractions:Fraction"},
                      normalize=lambda s: s.lower().replace("-", "").replace("_", ""))
    assert sysreg.get("KA_3d") is Fraction and "ka-3d" in sysreg
    assert reg.load_all() == {"frac": Fraction}


def test_unknown_name_is_one_clear_line():
    reg = Registry("model kind", builtins={"a": "fractions:Fraction"}, hint="the model may need a newer glassfix")
    with pytest.raises(ValueError, match=r"unknown model kind 'b'; available: a; the model may need a newer glassfix"):
        reg.get("b")
    with pytest.raises(KeyError, match="unknown model kind 'b'"):
        reg["b"]


def test_conflicting_registration_and_missing_key_are_rejected():
    reg = Registry("model kind")
    reg.register(_Thing)

    class Thing2:
        kind = "thing"

    with pytest.raises(ValueError, match="already registered by _Thing"):
        reg.register(Thing2)
    reg.register(_Thing)  # re-registering the same class (module reload) is fine

    class NoKind:
        pass

    with pytest.raises(TypeError, match="non-empty class attribute 'kind'"):
        reg.register(NoKind)
