"""The reference zoo (design_spaces/fixed/): every network's counted complexity agrees with its published one."""

from pathlib import Path

import pytest

from hwbench.config import quantity
from hwbench.models.complexity import complexity
from hwbench.space.archspec import load_arch
from hwbench.space.published import agrees, tolerance

FIXED = Path(__file__).resolve().parents[2] / "design_spaces" / "fixed"
REFERENCES = sorted(p for p in FIXED.glob("*.yaml") if load_arch(p)[0].published is not None)


def test_the_zoo_holds_the_issue_references() -> None:
    names = {p.stem for p in REFERENCES}
    assert {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v2_050", "convnext_tiny"} <= names
    assert {"efficientnet_v2_s", "deit_tiny", "deit_small"} <= names


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.stem)
def test_counted_complexity_matches_the_published(path: Path) -> None:
    file, spec = load_arch(path)
    assert file.published is not None and file.published.source
    cx = complexity(spec)
    for key, counted in (("macs", cx.macs), ("params", cx.params)):
        published = getattr(file.published, key)
        off = counted / quantity(published) - 1
        assert agrees(published, counted), (
            f"{path.name}: {key} counted {counted:,} vs published {published} ({off:+.2%})"
        )


@pytest.mark.parametrize(
    ("published", "allowed"),
    [
        (11689512, 116895.12),  # exact figure: 1 %
        ("1.81G", 18.1e6),  # 1 % is wider than half of 0.01G
        ("1.3G", 0.05e9),  # printed to 0.1G, it only says 1.25G-1.35G: wider than 1 %
        ("97M", 0.97e6),
        ("5.7M", 57e3),  # 1 % (57k) is wider than half of 0.1M
    ],
)
def test_tolerance_is_one_percent_or_the_printed_precision(published: str | int, allowed: float) -> None:
    assert tolerance(published) == pytest.approx(allowed)


def test_a_count_two_percent_off_disagrees() -> None:
    assert agrees("4.09G", 4_089_184_256) and not agrees("4.09G", int(4.09e9 * 1.02))
    assert not agrees(11689512, 11689512 * 98 // 100)
