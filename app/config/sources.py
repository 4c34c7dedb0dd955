"""Where settings come from: JSON files, then `__` environment variables, later wins.

The result is one tree with lower-case keys (keys are case-insensitive) and, for every
value, where it came from, so errors and `tokenidp config show` can say so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config.schema import SECTIONS, closest, unknown_setting_warnings
from app.errors import ConfigError

MAX_NESTING = 16


@dataclass
class RawConfig:
    """The merged tree, each leaf's origin (`tokenoptions:issuer` → source), and warnings."""

    tree: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def merge(self, document: dict[str, Any], *, source: str) -> None:
        self.warnings += unknown_setting_warnings(document, source=source)
        lowered = _lower_keys(document, source=source, depth=0)
        _check_section_shapes(lowered, source=source)
        _merge(self.tree, lowered)
        for path in _value_paths(lowered):
            self.origins[path] = source


def read_sources(config_dir: Path, environment: str, environ: Mapping[str, str]) -> RawConfig:
    """`appsettings.json`, `appsettings.{Environment}.json`, then `Section__Key` variables."""
    raw = RawConfig()
    for name in ("appsettings.json", f"appsettings.{environment}.json"):
        path = config_dir / name
        if path.is_file():
            raw.merge(_read_settings_file(path), source=str(path))
            raw.files.append(str(path))
    for name, value in sorted(environ.items()):
        parts = name.split("__")
        if len(parts) < 2 or not _names_a_section(parts[0]):
            continue
        document: Any = value
        for part in reversed(parts):
            document = {part: document}
        raw.merge(document, source=f"${name}")
    return raw


def _names_a_section(name: str) -> bool:
    """`TokenOptions__…` is ours, and so is a near miss like `TokenOption__…` (to warn of it)."""
    return name.lower() in {section.lower() for section in SECTIONS} or bool(
        closest(name, SECTIONS) and len(name) > 4
    )


def _read_settings_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(path.name, f"cannot read {path}: {reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            path.name, f"not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(path.name, f"{path} is nested too deeply to be settings") from None
    if not isinstance(document, dict):
        raise ConfigError(
            path.name,
            f"the top level of {path} must be an object of sections "
            f'({{"TokenOptions": {{…}}}}), not {_json_type(document)}',
        )
    return document


def _lower_keys(node: Any, *, source: str, depth: int) -> Any:
    """Case-insensitive keys; lists become index-keyed dicts so variables can address items."""
    if depth > MAX_NESTING:
        raise ConfigError(source, f"nested more than {MAX_NESTING} levels deep")
    if isinstance(node, dict):
        return {
            str(key).lower(): _lower_keys(value, source=source, depth=depth + 1)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return {
            str(index): _lower_keys(value, source=source, depth=depth + 1)
            for index, value in enumerate(node)
        }
    return node


def _check_section_shapes(document: dict[str, Any], *, source: str) -> None:
    """Each source's sections are objects (`Clients` a list), before a later source hides it."""
    for name in SECTIONS:
        value = document.get(name.lower())
        if value is None or isinstance(value, dict):
            continue
        kind = "a list of clients" if name == "Clients" else "an object of settings"
        raise ConfigError(name, f"expected {kind} in {source}, got {_json_type(value)}")


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _value_paths(node: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict):
            paths += _value_paths(value, f"{path}:")
    return paths


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
