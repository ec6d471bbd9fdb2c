"""Check request bodies and sandbox responses against Discord's published OpenAPI description.

The description ships with the sandbox (``bot/sandbox/openapi/``, see PROVENANCE.md there);
``$HOLDSPACE_DISCORD_OPENAPI`` points at another copy, e.g. a newer one being tried out. A missing or
unreadable description is an error, never a silently skipped check. jsonschema is imported lazily;
compiled validators are cached per (operation, part) for the whole process.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV_VAR = "HOLDSPACE_DISCORD_OPENAPI"
SAMPLE = 3  # list responses: items checked
_PARAM = re.compile(r"\{[^}]+\}")
VENDORED = Path(__file__).resolve().with_name("openapi") / "openapi.json"


class SpecMissing(FileNotFoundError):
    """The description is not where it should be: the check cannot run, so nothing may pass unchecked."""


def default_spec_path() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else VENDORED


def _norm(template: str) -> str:
    return _PARAM.sub("{}", template)


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[dict[str, Any], dict[str, str], Any]:
    p = Path(path)
    if not p.is_file():
        raise SpecMissing(f"Discord's OpenAPI description is missing at {p}; restore bot/sandbox/openapi/ "
                          f"(or unset ${ENV_VAR}), or turn the check off with Sandbox(check_spec=False)")
    spec = json.loads(p.read_text())
    from jsonschema.validators import Draft202012Validator  # noqa: F401  (fail early if missing)
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    # Requests: Discord accepts integer snowflakes (discord.py sends them), the description wants
    # strings; a second resource differs only in that SnowflakeType also admits integers.
    lenient = dict(spec)
    lenient["components"] = dict(spec["components"])
    schemas = dict(spec["components"]["schemas"])
    snowflake = dict(schemas.get("SnowflakeType", {"type": "string"}))
    snowflake["type"] = ["string", "integer"]
    schemas["SnowflakeType"] = snowflake
    lenient["components"]["schemas"] = schemas
    registry = Registry().with_resources([
        ("urn:discord-openapi", Resource.from_contents(spec, default_specification=DRAFT202012)),
        ("urn:discord-openapi-requests", Resource.from_contents(lenient, default_specification=DRAFT202012)),
    ])
    paths = {_norm(k): k for k in spec.get("paths", {})}
    return spec, paths, registry


#: Leniencies, both for requests only, where Discord accepts more than its description says:
#: integer snowflakes (see _load) and permission bitsets as strings.
#: Permission bitsets: the description types them as integers, Discord documents them as strings and
#: accepts both (discord.py sends strings for overwrites and new roles), so numeric strings pass.
LENIENT_INTEGER_KEYS = frozenset({"allow", "deny", "permissions"})


def _lenient(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: int(v) if k in LENIENT_INTEGER_KEYS and isinstance(v, str) and v.isdigit() else _lenient(v)
                for k, v in body.items()}
    if isinstance(body, list):
        return [_lenient(x) for x in body]
    return body


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class SpecChecker:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path or default_spec_path())
        self.violations: list[str] = []
        self._validators: dict[tuple[str, str, str], Any] = {}
        _load(self.path)  # fail now, at construction, if the description is missing

    def _validator(self, method: str, template: str, part: str) -> Any:
        key = (method, template, part)
        if key in self._validators:
            return self._validators[key]
        validator = _compiled(self.path, method.lower(), _norm(template), part)
        self._validators[key] = validator
        return validator

    def check_request(self, method: str, template: str, body: Any) -> None:
        if body is None:
            return
        v = self._validator(method, template, "request")
        if v is not None:
            self._report(v, _lenient(body), f"request body of {method} {template}")

    def check_response(self, method: str, template: str, status: int, body: Any) -> None:
        if body is None:
            return
        v = self._validator(method, template, str(status))
        if v is None and 400 <= status < 500:
            v = self._validator(method, template, "4XX")
        if isinstance(body, list) and len(body) > SAMPLE:
            # Items of a list come from one serializer: checking a few keeps pages of 100 messages fast.
            body = body[:SAMPLE]
        if v is not None:
            self._report(v, body, f"{status} response of {method} {template}")

    def _report(self, validator: Any, body: Any, what: str) -> None:
        errors = list(validator.iter_errors(body))
        if errors:
            from jsonschema.exceptions import best_match

            for top in sorted(errors, key=lambda e: len(list(e.absolute_path)))[:5]:
                err = best_match([top]) if top.context else top
                loc = "/".join(str(x) for x in err.absolute_path)
                self.violations.append(f"{what}: at '{loc}': {err.message[:300]}")


@lru_cache(maxsize=1024)
def _compiled(path: str, method: str, norm_template: str, part: str) -> Any:
    spec, paths, registry = _load(path)
    spec_path = paths.get(norm_template)
    if spec_path is None:
        return None
    op = spec["paths"][spec_path].get(method)
    if op is None:
        return None
    resource = "urn:discord-openapi-requests" if part == "request" else "urn:discord-openapi"
    base = f"{resource}#/paths/{_escape(spec_path)}/{method}"
    if part == "request":
        content = (op.get("requestBody") or {}).get("content", {})
        if "application/json" not in content:
            return None
        pointer = f"{base}/requestBody/content/application~1json/schema"
    else:
        resp = op.get("responses", {}).get(part)
        if resp is None or "application/json" not in resp.get("content", {}):
            return None
        pointer = f"{base}/responses/{part}/content/application~1json/schema"
    from jsonschema.validators import Draft202012Validator

    return Draft202012Validator({"$ref": pointer}, registry=registry)
