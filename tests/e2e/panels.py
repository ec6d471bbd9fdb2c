"""Finding a panel's buttons by their label (panel custom ids are random per panel)."""

from __future__ import annotations

from typing import Any

from bot.sandbox.world import Message


def button_id(message: Message, label: str) -> str:
    """The custom id of the button labelled ``label`` on ``message``."""

    def walk(components: list[dict[str, Any]]) -> str | None:
        for component in components:
            if component.get("label") == label and "custom_id" in component:
                return str(component["custom_id"])
            found = walk(component.get("components", []))
            if found:
                return found
        return None

    found = walk(message.components)
    if found is None:
        raise LookupError(f"no button labelled {label!r}")
    return found
