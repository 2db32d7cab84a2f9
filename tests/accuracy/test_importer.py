"""import-accuracy's optional eval_images column: the evaluation set size behind each accuracy."""

from pathlib import Path

import pytest

from hwbench.accuracy.importer import read_accuracy_csv
from hwbench.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acc.csv"
    path.write_text(text)
    return path


def test_eval_images_is_read_per_network_and_optional(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "arch_id,dataset,metric,value,eval_images\na,imnet,top1,0.7,50000\na,imnet,top5,0.9,50000\nb,imnet,top1,0.6,\n",
    )
    records = {r.arch_id: r for r in read_accuracy_csv(path, "s", {"a", "b"})}
    assert records["a"].eval_images == 50000 and records["b"].eval_images is None


@pytest.mark.parametrize(
    ("cell", "message"),
    [("many", "eval_images: not a whole number: 'many'"), ("0", "eval_images: 0 is not a positive number")],
)
def test_bad_eval_images_name_the_line(tmp_path: Path, cell: str, message: str) -> None:
    path = _write(tmp_path, f"arch_id,dataset,metric,value,eval_images\na,imnet,top1,0.7,{cell}\n")
    with pytest.raises(ConfigError, match=f"acc.csv line 2: {message}"):
        read_accuracy_csv(path, "s", {"a"})


def test_eval_images_must_agree_across_a_networks_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "arch_id,dataset,metric,value,eval_images\na,d,top1,0.7,100\na,d,top5,0.9,200\n")
    with pytest.raises(ConfigError, match="line 3: eval_images: 200 differs from 100"):
        read_accuracy_csv(path, "s", {"a"})
