"""`hwbench spaces` and `hwbench targets` list every file."""

from tests.conftest import ROOT, run_cli


def test_spaces_and_targets_list_every_file() -> None:
    spaces = run_cli("spaces", cwd=ROOT)
    assert spaces.returncode == 0
    for name in ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext", "fixed/mobilenet_v2"):
        assert name in spaces.stdout
    assert "macros" not in spaces.stdout
    assert "det_convnext" in spaces.stdout and "detector on convnext" in spaces.stdout
    targets = run_cli("targets", cwd=ROOT)
    for name in ("cpu-onnxruntime-1t", "cpu-onnxruntime-2t", "cpu-torch-1t"):
        assert name in targets.stdout
