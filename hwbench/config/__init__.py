"""Configuration files: YAML in, validated frozen models out."""

from hwbench.config.loading import (
    ConfigErrors,
    Strict,
    load_yaml,
    parse_model,
    quantity,
    raise_errors,
    split_errors,
    validation_errors,
)

__all__ = [
    "ConfigErrors",
    "Strict",
    "load_yaml",
    "parse_model",
    "quantity",
    "raise_errors",
    "split_errors",
    "validation_errors",
]
