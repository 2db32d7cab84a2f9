"""YAML loading and pydantic validation with errors that name the file and the key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hwbench.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_SUFFIX = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKMGT]?)\s*$")


class Strict(BaseModel):
    """Base for config models: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, None, "file not found" if not path.exists() else "not a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, where, f"malformed YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise ConfigError(path, None, f"expected a mapping at the top level, got {type(data).__name__}")
    return data


class ConfigErrors(ConfigError):
    """Several faults of one input, reported together: one line each (file: key: message)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        unique: dict[str, ConfigError] = {}
        for err in errors:
            for one in split_errors(err):
                unique.setdefault(str(one), one)
        self.errors = list(unique.values())
        first = self.errors[0]
        super().__init__(first.source, first.key, first.message)
        self.args = ("\n".join(unique),)

    def __str__(self) -> str:
        return self.args[0]


def raise_errors(errors: list[ConfigError]) -> None:
    """Raise the collected faults (one as itself, several as ConfigErrors); nothing when the list is empty."""
    if len(errors) == 1 and not isinstance(errors[0], ConfigErrors):
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)


def split_errors(exc: ConfigError) -> list[ConfigError]:
    """The single faults inside a ConfigError (itself, or each of a ConfigErrors)."""
    return list(getattr(exc, "errors", [exc]))


def validation_errors(model: type[BaseModel], data: Any, source: str | Path | None, prefix: str = "") -> list:
    """Every fault pydantic finds in `data` as a ConfigError with its key path (empty when valid)."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [_one_error(model, err, source, prefix) for err in exc.errors()]
    return []


def parse_model(model: type[M], data: Any, source: str | Path | None, prefix: str = "") -> M:
    """Validate `data` as `model`; every error becomes one line of a ConfigError with its key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise_errors([_one_error(model, err, source, prefix) for err in exc.errors()])
        raise  # unreachable: a ValidationError has at least one error


def _one_error(model: type[BaseModel], err: Any, source: str | Path | None, prefix: str) -> ConfigError:
    """One pydantic error as a ConfigError naming the key path."""
    loc = ".".join(str(p) for p in (*([prefix] if prefix else []), *err["loc"]))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key" + _known_keys_hint(model, err["loc"])
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif "input" in err:
        msg = f"{msg} (got {err['input']!r})"
    return ConfigError(source, loc or None, msg)


def _known_keys_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Suggest the valid keys of the model that owns the offending key."""
    import difflib

    owner: Any = model
    for part in loc[:-1]:
        field = getattr(owner, "model_fields", {}).get(part) if isinstance(part, str) else None
        if field is None:
            return ""
        owner = _model_type(field.annotation)
        if owner is None:
            return ""
    names = sorted(getattr(owner, "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid keys: {', '.join(names)}" if names else hint


def _model_type(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as `X | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_type(arg)
        if found is not None:
            return found
    return None


def quantity(value: Any) -> float:
    """Parse 300, 3e8, "300M" or "1.5G" into a float; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number such as 300M, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"expected a number such as 300M or 1.5G, got {value!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]
