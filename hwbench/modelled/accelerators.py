"""Which accelerator and mapping files a modelled target uses, their hashes, and their validation.

A bad accelerator or mapping file is reported as one line naming the file and the key (ZigZag's own validators
judge the contents), when the target is loaded, before anything runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from hwbench.errors import ConfigError
from hwbench.modelled import import_zigzag, missing_reason
from hwbench.modelled.options import PRESETS


def inputs_dir() -> Path:
    """zigzag/inputs/ inside the installed wheel (where the presets live)."""
    return Path(import_zigzag().__file__).parent / "inputs"


def is_preset(accelerator: str) -> bool:
    """Whether `accelerator` names a shipped preset (rather than a file)."""
    return accelerator in PRESETS


def resolve(options: dict[str, Any], source: Path) -> tuple[Path, Path]:
    """(accelerator file, mapping file) of a target: a preset's files, or the user's, relative to the target file."""
    accelerator, mapping = options["accelerator"], options.get("mapping")
    if is_preset(accelerator):
        hardware_file, mapping_file = PRESETS[accelerator]
        acc_path = inputs_dir() / "hardware" / hardware_file
        default_mapping = inputs_dir() / "mapping" / mapping_file
    else:
        acc_path, default_mapping = _relative(accelerator, source), None
    if mapping is not None:
        return acc_path, _relative(mapping, source)
    if default_mapping is None:
        raise ConfigError(
            source, "runner_options.mapping", "an accelerator file needs its mapping file (mapping: PATH)"
        )
    return acc_path, default_mapping


def _relative(path: str, source: Path) -> Path:
    given = Path(path).expanduser()
    return given if given.is_absolute() else (source.parent / given)


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (the provenance and the key of every result modelled with it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_files(options: dict[str, Any], source: Path) -> list[ConfigError]:
    """Every fault of a target's accelerator and mapping: unknown preset, missing file, contents ZigZag refuses."""
    accelerator, mapping = options["accelerator"], options.get("mapping")
    looks_like_file = accelerator.endswith((".yaml", ".yml")) or "/" in accelerator
    if not is_preset(accelerator) and not looks_like_file:
        from hwbench.registry import unknown_name_message

        message = unknown_name_message("accelerator preset", accelerator, list(PRESETS))
        return [ConfigError(source, "runner_options.accelerator", f"{message} (or give an accelerator YAML file)")]
    errors = []
    for key, value in (("accelerator", accelerator), ("mapping", mapping)):
        if value is not None and not (key == "accelerator" and is_preset(value)):
            path = _relative(value, source)
            if not path.is_file():
                errors.append(ConfigError(source, f"runner_options.{key}", f"{path}: file not found"))
    if errors:
        return errors
    if missing_reason() is not None:
        # Without ZigZag the contents cannot be judged; the sweep records the reason as each network's error.
        return []
    try:
        acc_path, map_path = resolve(options, source)
    except ConfigError as exc:
        return [exc]
    return accelerator_errors(acc_path) + mapping_errors(map_path)


def accelerator_errors(path: Path) -> list[ConfigError]:
    """ZigZag's own validation of an accelerator file, one error per faulty key, each naming the file."""
    from zigzag.parser.accelerator_validator import AcceleratorValidator

    data = _read(path, dict)
    if isinstance(data, ConfigError):
        return [data]
    validator = AcceleratorValidator(data)
    if _quietly(validator.validate):
        try:
            _quietly(lambda: _build_accelerator(validator.normalized_data))
        except Exception as exc:  # ZigZag raises bare asserts and KeyErrors on inconsistent files
            return [ConfigError(path, None, f"ZigZag cannot build this accelerator: {_one_line(exc)}")]
        return []
    return _validator_errors(path, validator) or [ConfigError(path, None, "ZigZag refuses this accelerator file")]


def mapping_errors(path: Path) -> list[ConfigError]:
    """ZigZag's own validation of a mapping file, one error per faulty key, each naming the file."""
    from zigzag.parser.mapping_validator import MappingValidator

    data = _read(path, list)
    if isinstance(data, ConfigError):
        return [data]
    validator = MappingValidator(data)
    if _quietly(validator.validate):
        return []
    return _validator_errors(path, validator) or [ConfigError(path, None, "ZigZag refuses this mapping file")]


def _build_accelerator(data: dict[str, Any]) -> Any:
    from zigzag.parser.accelerator_factory import AcceleratorFactory

    return AcceleratorFactory(data).create()


def _read(path: Path, kind: type) -> Any:
    """The YAML contents of `path` if they are a `kind`, else a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        return ConfigError(path, where, f"malformed YAML: {getattr(exc, 'problem', None) or exc}")
    except (OSError, UnicodeDecodeError) as exc:
        return ConfigError(path, None, f"cannot read it ({exc})")
    if not isinstance(data, kind):
        want = "a mapping" if kind is dict else "a list"
        return ConfigError(path, None, f"expected {want} at the top level, got {type(data).__name__}")
    return data


def _validator_errors(path: Path, validator: Any) -> list[ConfigError]:
    """Cerberus's nested error tree as (file, dotted key, message) errors."""
    tree = getattr(getattr(validator, "validator", None), "errors", None) or getattr(validator, "errors", None)
    out: list[ConfigError] = []
    _walk(tree, [], path, out)
    return out


def _walk(node: Any, keys: list[str], path: Path, out: list[ConfigError]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(value, [*keys, f"[{key}]" if isinstance(key, int) else str(key)], path, out)
    elif isinstance(node, list):
        for value in node:
            _walk(value, keys, path, out)
    else:
        out.append(ConfigError(path, ".".join(keys).replace(".[", "[") or None, str(node)))


def _quietly(fn: Any) -> Any:
    """Run fn with ZigZag's logging silenced (its validators log every fault as an error line)."""
    from hwbench.modelled.quiet import quiet

    with quiet():
        return fn()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
