"""`hwbench build`: complexity of one architecture, as text or JSON; a missing file is a one-line error."""

from pathlib import Path

from tests.conftest import ROOT, run_cli


def test_build_prints_complexity() -> None:
    out = run_cli("build", "design_spaces/fixed/mobilenet_v2.yaml", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "MACs 300.8 M" in out.stdout and "params 3.505 M" in out.stdout and "activations" in out.stdout


def test_build_json_from_a_space() -> None:
    import json

    out = run_cli("build", "design_spaces/convnext.yaml", "--json", "--seed", "3", cwd=ROOT)
    data = json.loads(out.stdout)
    assert data["arch"]["block"] == "convnext" and data["macs"] > 0 and len(data["arch_id"]) == 16


def test_missing_file(tmp_path: Path) -> None:
    out = run_cli("build", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert out.returncode == 2 and "nope.yaml: file not found" in out.stderr
