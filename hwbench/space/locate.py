"""What `--space` accepts: a file, a directory of spaces, or a short name (`mbconv`, `mobilenet_v2`, `fixed/...`)."""

from __future__ import annotations

from pathlib import Path

from hwbench.errors import ConfigError


def space_paths(value: str | Path, option: str = "--space") -> list[Path]:
    """The design-space files `value` stands for (a directory: every space in it, macros excluded)."""
    from hwbench.paths import data_dir, listing, resolve
    from hwbench.registry import unknown_name_message

    path = Path(value)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.yaml") if "macros" not in p.relative_to(path).parts)
        if not found:
            raise ConfigError(str(value), option, "directory holds no design-space files (*.yaml outside macros/)")
        return found
    base = data_dir("design_spaces")
    files = listing("design_spaces")
    names = {str(p.relative_to(base).with_suffix("")): p for p in files}
    text = str(value).removesuffix(".yaml")
    if text in names:
        return [names[text]]
    by_stem = [p for p in files if p.stem == text]  # fixed specs by their short name: mobilenet_v2
    if len(by_stem) == 1:
        return by_stem
    if len(by_stem) > 1:
        choices = ", ".join(sorted(str(p.relative_to(base).with_suffix("")) for p in by_stem))
        raise ConfigError(str(value), option, f"ambiguous: {choices}; give one of these")
    if (base / text).is_dir():
        return space_paths(base / text, option)
    try:
        return [resolve(value, "design_spaces", option)]
    except ConfigError:
        message = unknown_name_message("design space", text, sorted({*names, *(p.stem for p in files)}))
        raise ConfigError(str(value), option, f"no such file or directory; {message}") from None
