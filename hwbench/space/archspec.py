"""ArchSpec: one concrete architecture, canonical JSON and a content-derived arch_id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hwbench.config import load_yaml, parse_model
from hwbench.errors import ConfigError
from hwbench.space.published import Published


@dataclass(frozen=True)
class ArchSpec:
    """A validated architecture of some family; sampled and fixed architectures share this format."""

    arch: BaseModel
    canonical_json: str = field(init=False, repr=False)
    arch_id: str = field(init=False)

    def __post_init__(self) -> None:
        text = json.dumps(self.arch.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "canonical_json", text)
        object.__setattr__(self, "arch_id", hashlib.sha256(text.encode()).hexdigest()[:16])

    @property
    def family(self) -> str:
        """Model family, e.g. "cnn" or "vit"."""
        return self.arch.family  # type: ignore[attr-defined]

    @property
    def block(self) -> str:
        """Registered block name."""
        return self.arch.block  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return json.loads(self.canonical_json)

    @classmethod
    def from_dict(cls, data: Any, source: str | Path | None = None, prefix: str = "arch") -> ArchSpec:
        """Validate a dict through its family's schema."""
        from hwbench.space.families import get_family

        if not isinstance(data, dict):
            raise ConfigError(source, prefix, f"expected a mapping, got {type(data).__name__}")
        if "family" not in data:
            raise ConfigError(source, f"{prefix}.family", "required key is missing")
        family = get_family(str(data["family"]), source, f"{prefix}.family")
        return cls(parse_model(family.arch_model, data, source, prefix))

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        """Rebuild from canonical JSON (as stored)."""
        return cls.from_dict(json.loads(text))


class ArchFile(BaseModel):
    """A fixed-architecture file: a name, a description, one `arch` mapping and, for a reference network, its
    published complexity (checked by the tests)."""

    name: str | None = None
    description: str = ""
    arch: dict[str, Any]
    published: Published | None = None

    model_config = {"extra": "forbid", "frozen": True}


def load_arch(path: str | Path) -> tuple[ArchFile, ArchSpec]:
    """Load a fixed-architecture YAML file."""
    data = load_yaml(path)
    file = parse_model(ArchFile, data, path)
    return file, ArchSpec.from_dict(file.arch, path)
