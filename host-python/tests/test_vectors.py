"""Replays every conformance vector through the extension: byte for byte against `expected`
(when the vector has it), and every `checks` entry (JSON pointer -> value)."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import pytest

import broker_rules as br
from conftest import VECTORS, load_vectors

VECTOR_LIST = load_vectors()
IDS = [v["_file"] for v in VECTOR_LIST]


def canonical(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def request_of(v: Dict[str, Any]) -> str:
    return "" if v.get("input") is None else canonical(v["input"])


def expected_envelope(v: Dict[str, Any]) -> Optional[str]:
    exp = v.get("expected")
    if exp is None:
        return None
    if isinstance(exp, dict) and len(exp) == 1 and ("ok" in exp or "error" in exp):
        return canonical(exp)
    return canonical({"ok": exp})


def pointer(doc: Any, path: str) -> Any:
    for part in path.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def is_error(v: Dict[str, Any]) -> bool:
    exp = expected_envelope(v)
    if exp is not None:
        return "error" in json.loads(exp)
    return any(c["path"].startswith("/error") for c in v.get("checks", []))


def test_vectors_exist() -> None:
    assert VECTOR_LIST, f"no conformance vectors in {VECTORS}"


@pytest.mark.parametrize("v", VECTOR_LIST, ids=IDS)
def test_vector(v: Dict[str, Any]) -> None:
    got = br.call(v["call"], request_of(v))
    want = expected_envelope(v)
    if want is not None:
        assert got == want, v.get("description", v["name"])
    doc = json.loads(got)
    for c in v.get("checks", []):
        assert pointer(doc, c["path"]) == c["value"], f'{c["path"]}: {v.get("description", v["name"])}'


def _has_number_decimal(x: Any) -> bool:
    """True when trades carry numbers where the Python API converts (ints, floats)."""
    if isinstance(x, dict):
        return any((k in br._DECIMAL_KEYS and isinstance(val, (int, float)) and not isinstance(val, bool))
                   or isinstance(val, float) or _has_number_decimal(val) for k, val in x.items())
    if isinstance(x, list):
        return any(_has_number_decimal(i) for i in x)
    return isinstance(x, float)


API = [v for v in VECTOR_LIST if v["call"] in ("settle", "explain") and isinstance(v.get("input"), dict)
       and "program" in v["input"]
       and set(v["input"]) <= {"program", "trades", "registry", "options"}
       and isinstance(v["input"].get("trades", []), list)
       and all(isinstance(t, dict) for t in v["input"].get("trades", []))
       and not _has_number_decimal(v["input"].get("trades", []))
       and isinstance(v["input"].get("options") or {}, dict)
       and set((v["input"].get("options") or {})) <= {"from", "to", "lines", "strict"}
       # keyword arguments are typed: a vector with strict: "yes" has no Python-API form
       and all(isinstance(x, bool) for k, x in (v["input"].get("options") or {}).items() if k in ("lines", "strict"))]


@pytest.mark.parametrize("v", API, ids=[v["_file"] for v in API])
def test_vector_through_python_api(v: Dict[str, Any]) -> None:
    """The Pythonic API gives the JSON API's bytes, or raises the class of the same code."""
    inp = v["input"]
    opts = inp.get("options") or {}
    fn = br.settle if v["call"] == "settle" else br.explain
    kwargs: Dict[str, Any] = {"registry": inp.get("registry"), "from_": opts.get("from"), "to": opts.get("to"),
                              "strict": bool(opts.get("strict"))}
    if v["call"] == "settle":
        kwargs["lines"] = bool(opts.get("lines"))
    exp = json.loads(expected_envelope(v) or br.call(v["call"], request_of(v)))
    if "error" in exp:
        with pytest.raises(br.BrokerRulesError) as info:
            fn(inp["program"], inp.get("trades"), **kwargs)
        assert info.value.code == exp["error"]["code"]
        assert type(info.value) is br.ERRORS[exp["error"]["code"]]
    else:
        got = fn(inp["program"], inp.get("trades"), **kwargs)
        assert got.to_json() == canonical(exp["ok"])


ERROR_VECTORS = [v for v in VECTOR_LIST if is_error(v)]


@pytest.mark.parametrize("v", ERROR_VECTORS, ids=[v["_file"] for v in ERROR_VECTORS])
def test_bad_input_codes(v: Dict[str, Any]) -> None:
    """Bad-input vectors raise the exception class of the core's code, with its location."""
    env = br.call(v["call"], request_of(v))
    with pytest.raises(br.BrokerRulesError) as info:
        br._unwrap(env)
    err = json.loads(env)["error"]
    for c in v.get("checks", []):
        if c["path"] == "/error/code":
            assert info.value.code == c["value"]
    assert info.value.code == err["code"] and isinstance(info.value, br.ERRORS[err["code"]])
    assert info.value.location == err.get("location", {})
    for attr in ("field", "line", "column", "id", "position"):
        assert getattr(info.value, attr) == err.get("location", {}).get(attr)
