"""Errors of the sandbox: Discord API errors and refused scenario actions."""

from __future__ import annotations

from typing import Any


class SandboxRefused(Exception):
    """A simulated person tried something Discord would not let them do."""


class ApiError(Exception):
    """A Discord JSON error response: HTTP status, Discord error code and message."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        return out


def unknown(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def invalid_form(field: str, message: str, code: str = "BASE_TYPE_REQUIRED") -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body",
                    {field: {"_errors": [{"code": code, "message": message}]}})
