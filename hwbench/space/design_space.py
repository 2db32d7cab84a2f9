"""Design-space files: a block space (macro + block + block knobs), a detector space (a CNN block space +
a detector macro) or a fixed architecture (a space of one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from hwbench.config import Strict, load_yaml, parse_model, raise_errors, validation_errors
from hwbench.errors import ConfigError, UnknownNameError
from hwbench.space.archspec import ArchFile, ArchSpec
from hwbench.space.constraints import Constraints
from hwbench.space.families import get_family
from hwbench.space.knobs import hybrid_knob_errors, knob_errors
from hwbench.space.samplers import Param


class SpaceFile(Strict):
    """A block space: its macro (a file name, or the macro itself inline), its block and the block's knobs."""

    name: str | None = None
    description: str = ""
    macro: str | dict[str, Any]
    block: str
    block_params: dict[str, Param] = {}


class DetSpaceFile(Strict):
    """A detector space: its backbone CNN block space (a file) and its detector macro (a file or inline)."""

    name: str | None = None
    description: str = ""
    backbone: str
    detector: str | dict[str, Any] = {}


@dataclass(frozen=True)
class DesignSpace:
    """A loaded design space; `fixed` is set for a file that names one architecture."""

    name: str
    description: str
    source: Path
    family: str
    block: str
    macro: BaseModel | None = None
    block_params: dict[str, Param] = field(default_factory=dict)
    fixed: ArchSpec | None = None

    @property
    def constraints(self) -> Constraints:
        """Complexity windows from the macro (none for a fixed architecture)."""
        return getattr(self.macro, "constraints", None) or Constraints()

    def draw(self, rng: np.random.Generator) -> ArchSpec:
        """Draw one architecture (no constraint check)."""
        if self.fixed is not None:
            return self.fixed
        family = get_family(self.family)
        data = family.draw(self.macro, self.block, self.block_params, rng)  # type: ignore[arg-type]
        return ArchSpec.from_dict(data, self.source)


def load_space(path: str | Path) -> DesignSpace:
    """Load and validate a design-space file (block space or fixed architecture); every fault is reported."""
    path = Path(path)
    data = load_yaml(path)
    if "arch" in data:
        return _load_fixed(path, data)
    if "backbone" in data or "detector" in data:
        return _load_det(path, data)
    if "block" not in data and "stages" in data:
        raise ConfigError(path, None, "this is a macro file; pass a block space that names it in `macro:`")
    errors = [_macro_key_error(e, path) for e in validation_errors(SpaceFile, data, path)]
    macro, macro_errors = _load_macro(path, data.get("macro"))
    errors += macro_errors
    family = getattr(macro, "family", None)
    if family == "det":
        where = "under `detector:` in a detector space, next to `backbone:` (a CNN block space file)"
        raise ConfigError(path, "macro", f"{data.get('macro')!r} is a detector macro: name it {where}")
    errors += _block_errors(path, family, data.get("block"), data.get("block_params"))
    raise_errors(errors)
    space = SpaceFile.model_validate(data)
    result = DesignSpace(
        name=space.name or path.stem,
        description=space.description or getattr(macro, "description", ""),
        source=path,
        family=str(family),
        block=space.block,
        macro=macro,
        block_params=dict(space.block_params),
    )
    _check_draw(result)
    return result


def _load_fixed(path: Path, data: dict[str, Any]) -> DesignSpace:
    """A file with an `arch:` mapping: a space of one architecture."""
    file = parse_model(ArchFile, data, path)
    spec = ArchSpec.from_dict(file.arch, path)
    return DesignSpace(
        name=file.name or path.stem,
        description=file.description,
        source=path,
        family=spec.family,
        block=spec.block,
        fixed=spec,
    )


def _macro_key_error(err: ConfigError, path: Path) -> ConfigError:
    """A macro key written at the top level of a space file: say where it belongs."""
    from hwbench.space.cnn import CNNMacro
    from hwbench.space.vit import ViTMacro

    macro_keys = set(CNNMacro.model_fields) | set(ViTMacro.model_fields)
    if err.message.startswith("unknown key") and err.key in macro_keys:
        where = "under `macro:` (the macro inline, as a mapping) or in the macro file that `macro:` names"
        return ConfigError(path, err.key, f"{err.key!r} is a macro key: put it {where}")
    return err


def _load_macro(
    path: Path, value: Any, key: str = "macro", only: str | None = None
) -> tuple[BaseModel | None, list[ConfigError]]:
    """The macro named by `key:` (a file relative to the space) or written inline as a mapping; `only`: the
    family it must be (its schema then reports a wrong `family:`)."""
    if isinstance(value, dict):  # inline: the same keys as a macro file, errors under `<key>.`
        source, prefix, macro_data = path, key, value
    elif isinstance(value, str):
        source, prefix = (path.parent / value).resolve(), ""
        if not source.exists():
            return None, [ConfigError(path, key, f"{key} file {value!r} not found (looked in {path.parent})")]
        try:
            macro_data = load_yaml(source)
        except ConfigError as exc:
            return None, [exc]
    else:
        return None, []  # missing or wrong type: already reported by the schema
    key = f"{prefix}.family" if prefix else "family"
    try:
        family = get_family(only or str(macro_data.get("family", "")), source, key)
    except ConfigError as exc:
        return None, [exc]
    errors = validation_errors(family.macro_model, macro_data, source, prefix)
    if errors:
        return None, errors
    macro = family.macro_model.model_validate(macro_data)
    return macro, []


def _block_errors(path: Path, family: str | None, block: Any, block_params: Any) -> list[ConfigError]:
    """The block exists (in the macro's family, or in any family when the macro is unusable) and its knobs fit."""
    from hwbench.blocks import block_names, get_block
    from hwbench.registry import unknown_name_message

    if not isinstance(block, str):
        return []
    names = block_names(family, composite=True) if family else sorted({*block_names("cnn", True), *block_names("vit")})
    if block not in names:
        return [ConfigError(path, "block", unknown_name_message(f"{family or 'known'} block", block, names))]
    if not isinstance(block_params, dict):
        return []
    if get_block(block).composite is not None:
        return hybrid_knob_errors(path, block_params)
    return knob_errors(path, block, block_params)


def _check_draw(space: DesignSpace) -> None:
    """Draw once with a throwaway generator so structural errors show at load time, not mid-sweep."""
    try:
        space.draw(np.random.default_rng(0))
    except ConfigError:
        raise
    except (ValueError, UnknownNameError) as exc:
        raise ConfigError(space.source, None, str(exc)) from None


def _load_det(path: Path, data: dict[str, Any]) -> DesignSpace:
    """A detector space: the backbone CNN block space and the detector macro, checked together."""
    from hwbench.space.detection import DetBackbone, DetSpaceMacro, backbone_faults

    if _names_vit_backbone(path, data):  # a ViT backbone: the det_vit family (hwbench.space.det_vit)
        return _load_det_vit(path, data)
    errors = validation_errors(DetSpaceFile, data, path)
    backbone, backbone_errors = _load_backbone(path, data.get("backbone"))
    value = data.get("detector", {})
    macro, macro_errors = _load_macro(path, value, "detector", only="det")
    errors += backbone_errors + macro_errors
    source, prefix = (path, "detector.") if isinstance(value, dict) else ((path.parent / str(value)).resolve(), "")
    if macro is not None and backbone is not None:
        faults = backbone_faults(macro, backbone.macro)  # type: ignore[arg-type]
        errors += [ConfigError(source, prefix + key, f"{msg} (backbone {backbone.source.name})") for key, msg in faults]
    raise_errors(errors)
    assert macro is not None and backbone is not None  # no errors: both loaded
    space = DetSpaceFile.model_validate(data)
    held = DetBackbone(space=backbone.name, macro=backbone.macro, block_params=backbone.block_params)  # type: ignore[arg-type]
    joined = DetSpaceMacro.model_validate({**dict(macro), "backbone": held})
    return detector_space(path, space, macro, "det", backbone.block, joined, dict(backbone.block_params))


def detector_space(
    path: Path, file: Any, macro: Any, family: str, block: str, joined: Any, block_params: dict[str, Any]
) -> DesignSpace:
    """A detector space (either family) from its file, detector macro and the macro joined with its backbone;
    drawn once so structural errors show at load time."""
    result = DesignSpace(
        name=file.name or path.stem,
        description=file.description or getattr(macro, "description", ""),
        source=path,
        family=family,
        block=block,
        macro=joined,
        block_params=block_params,
    )
    _check_draw(result)
    return result


def _load_backbone(path: Path, value: Any) -> tuple[DesignSpace | None, list[ConfigError]]:
    """The CNN block space named by `backbone:` (a file relative to the detector space)."""
    if not isinstance(value, str):
        return None, []  # missing or wrong type: reported by the schema
    source = (path.parent / value).resolve()
    if not source.is_file():
        return None, [
            ConfigError(path, "backbone", f"backbone space file {value!r} not found (looked in {path.parent})")
        ]
    try:
        backbone = load_space(source)
    except ConfigError as exc:
        return None, [exc]
    if backbone.family != "cnn" or backbone.fixed is not None:
        kind = "a fixed architecture" if backbone.fixed is not None else f"a {backbone.family} space"
        return None, [ConfigError(path, "backbone", f"{value!r} is {kind}; a detector needs a CNN block space")]
    return backbone, []


def _names_vit_backbone(path: Path, data: dict[str, Any]) -> bool:
    """Whether a detector space file's `backbone:` names a ViT block space (then _load_det_vit loads it)."""
    value = data.get("backbone")
    if not isinstance(value, str) or not (path.parent / value).is_file():
        return False
    backbone = load_yaml(path.parent / value)
    macro = backbone.get("macro")
    if isinstance(macro, dict):
        return macro.get("family") == "vit"
    if isinstance(macro, str) and (path.parent / macro).is_file():
        return load_yaml(path.parent / macro).get("family") == "vit"
    return False


def _load_det_vit(path: Path, data: dict[str, Any]) -> DesignSpace:
    """A ViT detector space: the ViT block space, the shared detector macro, overrides, checked together."""
    from hwbench.space.det_vit import DetViTBackbone, DetViTSpaceFile, DetViTSpaceMacro

    file = parse_model(DetViTSpaceFile, data, path)
    backbone = load_space((path.parent / file.backbone).resolve())
    macro, errors = _load_macro(path, data.get("detector", {}), "detector", only="det")
    raise_errors(errors)
    assert macro is not None
    params = {**backbone.block_params, **file.block_params}
    held = DetViTBackbone(space=backbone.name, macro=backbone.macro, block_params=params)  # type: ignore[arg-type]
    joined = DetViTSpaceMacro.model_validate({**dict(macro), "backbone": held, "pruning": file.pruning})
    return detector_space(path, file, macro, "det_vit", backbone.block, joined, params)
