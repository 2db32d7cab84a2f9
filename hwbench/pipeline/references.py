"""`--reference`: known networks measured beside a sweep's spaces, at the sweep's input shape.

A reference (a fixed spec, e.g. design_spaces/fixed/mobilenet_v2.yaml) is re-written with the resolution and
class count of the sweep's spaces, so that it runs on the same inputs and trains on the same data as the sampled
networks; every stage then treats it as one more network, and the analysis keeps it out of every block's
population (hwbench.space.reference).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hwbench.errors import ConfigError
from hwbench.space.design_space import DesignSpace, load_space
from hwbench.space.reference import at_shape

# A reference is compared on its own task's fronts: a classifier beside classifiers, a detector beside detectors.
TASKS = {"cnn": "classification", "vit": "classification", "det": "detection"}
EXAMPLES = {"classification": "mobilenet_v2", "detection": "ssdlite_mobilenet_v2"}


def task_of(family: str) -> str:
    """The task a family's networks perform ("" for a family no reference is compared in)."""
    return TASKS.get(family, "")


def reference_paths(value: str) -> list[Path]:
    """The files a --reference value stands for: as --space resolves it, else a network of the built-in zoo
    (design_spaces/fixed of the hwbench checkout, reached even from a folder with design spaces of its own)."""
    from hwbench.space.locate import space_paths

    try:
        return space_paths(value, "--reference")
    except ConfigError:
        zoo = Path(__file__).resolve().parents[2] / "design_spaces" / "fixed"
        builtin = zoo / f"{value.removesuffix('.yaml')}.yaml"
        if builtin.is_file():
            return [builtin]
        known = ", ".join(sorted(p.stem for p in zoo.glob("*.yaml")))
        raise ConfigError(value, "--reference", f"no such file or fixed network; the built-in ones: {known}") from None


def sweep_task(spaces: list[DesignSpace]) -> str:
    """The one task (classification or detection) of the sweep's spaces; a ConfigError when they mix tasks."""
    tasks: dict[str, list[str]] = {}
    for space in spaces:
        task = task_of(space.family)
        if not task:
            raise ConfigError(space.source, "--reference", f"{space.name} is a {space.family} space; no reference fits")
        tasks.setdefault(task, []).append(space.name)
    if len(tasks) > 1:
        seen = "; ".join(f"{task}: {', '.join(names)}" for task, names in sorted(tasks.items()))
        raise ConfigError(None, "--reference", f"the sweep mixes tasks ({seen}); give the spaces of one task")
    return next(iter(tasks))


def sweep_shape(spaces: list[DesignSpace]) -> tuple[int, int]:
    """The (resolution, classes) every space of the sweep shares; a ConfigError when they differ or vary."""
    shapes: dict[tuple[int, int], list[str]] = {}
    for space in spaces:
        source = space.fixed.arch if space.fixed is not None else space.macro
        resolution = getattr(source, "resolution", None)
        if not isinstance(resolution, int):
            raise ConfigError(
                space.source,
                "resolution",
                f"is sampled ({resolution!r}); a reference is measured at one resolution: fix it to use --reference",
            )
        shapes.setdefault((resolution, int(source.num_classes)), []).append(space.name)  # type: ignore[union-attr]
    if len(shapes) > 1:
        seen = "; ".join(f"{r} px, {c} classes: {', '.join(names)}" for (r, c), names in sorted(shapes.items()))
        raise ConfigError(
            None, "--reference", f"the sweep's spaces disagree on resolution or classes ({seen}); give spaces of one"
        )
    return next(iter(shapes))


def load_references(paths: list[Path], spaces: list[DesignSpace]) -> tuple[list[DesignSpace], list[ConfigError]]:
    """Each reference file loaded and re-written at the sweep's shape, and every fault found."""
    from hwbench.config import split_errors

    if not paths:
        return [], []
    if not spaces:
        message = (
            "a reference is added when the sweep samples: give the sweep's --space too "
            "(a later stage alone reads the references already recorded)"
        )
        return [], [ConfigError(None, "--reference", message)]
    try:
        task = sweep_task(spaces)
        resolution, classes = sweep_shape(spaces)
    except ConfigError as exc:
        return [], [exc]
    found: list[DesignSpace] = []
    errors: list[ConfigError] = []
    for path in paths:
        try:
            space = load_space(path)
            if space.fixed is None:
                raise ConfigError(
                    path, "--reference", f"{space.name} is a design space; a reference is a fixed network"
                )
            if task_of(space.family) != task:
                own = task_of(space.family) or "no"
                raise ConfigError(
                    path,
                    "--reference",
                    f"{space.name} is a {own} network ({space.family}) and the sweep's spaces are {task} spaces: "
                    f"a reference is compared on its own task's fronts (e.g. {EXAMPLES[task]})",
                )
            found.append(replace(space, fixed=at_shape(space.fixed, resolution, classes, path)))
        except ConfigError as exc:
            errors += split_errors(exc)
    names = [r.name for r in found]
    errors += [
        ConfigError(None, "--reference", f"two references share the name {n!r}")
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    return found, errors


def shape_note(references: list[DesignSpace]) -> str:
    """What the sweep says about its references: measured at the sweep's shape, and which ones that re-wrote."""
    if not references:
        return ""
    arch = references[0].fixed.arch  # type: ignore[union-attr]
    shape = (arch.resolution, arch.num_classes)  # type: ignore[attr-defined]
    changed = []
    for ref in references:
        own = load_space(ref.source).fixed.arch  # type: ignore[union-attr]
        if (own.resolution, own.num_classes) != shape:  # type: ignore[attr-defined]
            changed.append(f"{ref.name} ({own.resolution} px, {own.num_classes} classes)")  # type: ignore[attr-defined]
    text = (
        f"references {', '.join(r.name for r in references)}: measured and trained at the sweep's "
        f"{shape[0]} px and {shape[1]} classes"
    )
    return text + (f", re-written from their published shape: {', '.join(changed)}" if changed else "")
