"""Exceptions: one class per stable error code of the engine (``E_...``)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "BrokerRulesError",
    "ParseError",
    "FieldError",
    "DecimalError",
    "TimeError",
    "InvalidValueError",
    "DuplicateIdError",
    "ProgramError",
    "ExprError",
    "DecimalOverflowError",
    "DivisionByZeroError",
    "InexactError",
    "UnknownProgramError",
    "RegistryError",
    "OptionsError",
    "UnknownValueError",
    "PartialStateError",
    "InternalError",
    "ERRORS",
    "error_from",
]


class BrokerRulesError(Exception):
    """An error reported by the engine, with its stable ``code`` and where it is."""

    code: str = "E_INTERNAL"

    def __init__(self, message: str, location: Optional[Mapping[str, Any]] = None, *, code: Optional[str] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message: str = message
        self.location: Dict[str, Any] = dict(location or {})

    @property
    def help(self) -> str:
        """One sentence on what to do about it (the engine's help for ``code``)."""
        from . import _native

        return _native.error_help(self.code)

    @property
    def field(self) -> Optional[str]:
        v = self.location.get("field")
        return None if v is None else str(v)

    @property
    def line(self) -> Optional[int]:
        v = self.location.get("line")
        return None if v is None else int(v)

    @property
    def column(self) -> Optional[int]:
        v = self.location.get("column")
        return None if v is None else int(v)

    @property
    def id(self) -> Optional[str]:
        v = self.location.get("id")
        return None if v is None else str(v)

    @property
    def position(self) -> Optional[int]:
        v = self.location.get("position")
        return None if v is None else int(v)

    def to_dict(self) -> Dict[str, Any]:
        """The error as the engine's JSON shape: ``{"code", "message", "location"?}``."""
        d: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.location:
            d["location"] = dict(self.location)
        return d

    def __str__(self) -> str:
        s = f"{self.code}: {self.message}"
        if self.id is not None:
            s += f" (trade {self.id})"
        if self.field is not None:
            s += f" [field {self.field}]"
        if self.line is not None:
            s += f" at line {self.line}"
            if self.column is not None:
                s += f", column {self.column}"
        if self.position is not None:
            s += f" at position {self.position}"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.location!r})"

    def __reduce__(self) -> Any:
        # Pickles with its code and location (errors cross processes: Dask workers, Spark
        # executors).
        return (_rebuild, (type(self), self.message, self.location, self.code))


def _rebuild(cls: Type[BrokerRulesError], message: str, location: Dict[str, Any], code: str) -> BrokerRulesError:
    return cls(message, location, code=code)


class ParseError(BrokerRulesError):
    """E_PARSE: malformed JSON, CSV or NDJSON."""

    code = "E_PARSE"


class FieldError(BrokerRulesError):
    """E_FIELD: a field is missing, unknown, or of the wrong type."""

    code = "E_FIELD"


class DecimalError(BrokerRulesError):
    """E_DECIMAL: a malformed decimal, or a binary float where a decimal belongs."""

    code = "E_DECIMAL"


class TimeError(BrokerRulesError):
    """E_TIME: a timestamp is not RFC 3339."""

    code = "E_TIME"


class InvalidValueError(BrokerRulesError, ValueError):
    """E_VALUE: a well-formed value out of range (negative notional, ...)."""

    code = "E_VALUE"


class DuplicateIdError(BrokerRulesError):
    """E_DUPLICATE_ID: two different trades share one id."""

    code = "E_DUPLICATE_ID"


class ProgramError(BrokerRulesError):
    """E_PROGRAM: not a valid program."""

    code = "E_PROGRAM"


class ExprError(BrokerRulesError):
    """E_EXPR: an expression does not parse or type-check (see ``position``)."""

    code = "E_EXPR"


class DecimalOverflowError(BrokerRulesError, OverflowError):
    """E_OVERFLOW: a value left the range of a 96-bit decimal."""

    code = "E_OVERFLOW"


class DivisionByZeroError(BrokerRulesError, ZeroDivisionError):
    """E_DIV_ZERO: a formula divided by zero."""

    code = "E_DIV_ZERO"


class InexactError(BrokerRulesError):
    """E_INEXACT: a result cannot be held exactly; the engine never rounds silently."""

    code = "E_INEXACT"


class UnknownProgramError(BrokerRulesError, LookupError):
    """E_UNKNOWN_PROGRAM: no built-in program has that id."""

    code = "E_UNKNOWN_PROGRAM"


class RegistryError(BrokerRulesError):
    """E_REGISTRY: the broker registry is inconsistent."""

    code = "E_REGISTRY"


class OptionsError(BrokerRulesError):
    """E_OPTIONS: invalid options, scenario or request."""

    code = "E_OPTIONS"


class UnknownValueError(BrokerRulesError):
    """E_UNKNOWN_VALUE: strict mode met a value the program does not know."""

    code = "E_UNKNOWN_VALUE"


class PartialStateError(BrokerRulesError):
    """E_PARTIAL: a partial settlement state is corrupt, truncated, or from another program,
    options, registry or engine version."""

    code = "E_PARTIAL"


class InternalError(BrokerRulesError):
    """E_INTERNAL: a bug in broker-rules (a caught panic included); please report it."""

    code = "E_INTERNAL"


ERRORS: Dict[str, Type[BrokerRulesError]] = {
    c.code: c
    for c in (
        ParseError,
        FieldError,
        DecimalError,
        TimeError,
        InvalidValueError,
        DuplicateIdError,
        ProgramError,
        ExprError,
        DecimalOverflowError,
        DivisionByZeroError,
        InexactError,
        UnknownProgramError,
        RegistryError,
        OptionsError,
        UnknownValueError,
        PartialStateError,
        InternalError,
    )
}


def error_from(err: Mapping[str, Any]) -> BrokerRulesError:
    """The exception for an engine error object ``{"code", "message", "location"?}``."""
    code = str(err.get("code", "E_INTERNAL"))
    cls = ERRORS.get(code, BrokerRulesError)
    return cls(str(err.get("message", "")), err.get("location") or {}, code=code)
