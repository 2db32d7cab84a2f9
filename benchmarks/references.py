"""Known networks on the demo's fronts, and which block each stage prefers: the issue's figures for `--reference`.

One sweep on the demo's setup (its targets cpu-onnxruntime-1t and -2t, the built-in digits dataset, the `demo`
schedule) over the five CNN block spaces (`--n` each), the hybrid space (`--hybrid` networks: the block chosen per
stage) and the references MobileNetV2 1.0, MobileNetV2 0.5 and ResNet-18 (re-written at the spaces' resolution and
class count). Printed, from hwbench's own analysis (`hb.report_frames`): per target, reference and block, the
block's best-of-3 front latency at the reference's accuracy against the reference's latency (ratio > 1: the front is
faster) with its 95% bootstrap interval and verdict (a block is compared only where at least 9 of its networks
reach the reference's accuracy: 20 per block by default); and per target the share of the hybrid space's front networks
with block B in stage s, beside its share among all its networks. `python benchmarks/references.py [--n 20]
[--hybrid 20]`. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, save, table

BLOCKS = ("mbconv", "mbconv_se", "fused_mbconv", "resnet_bottleneck", "convnext")
REFERENCES = ("mobilenet_v2", "mobilenet_v2_050", "resnet18")
REF_FILES = [ROOT / "design_spaces" / "fixed" / f"{r}.yaml" for r in REFERENCES]
TARGETS = ("cpu-onnxruntime-1t", "cpu-onnxruntime-2t")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--hybrid", type=int, default=20)
    args = parser.parse_args()
    from hwbench.api import report_frames
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.progress import NullProgress

    folder = Path(tempfile.mkdtemp(prefix="hwbench-refs-"))
    spaces = [ROOT / "design_spaces" / f"{b}.yaml" for b in BLOCKS]
    common = {"targets": [ROOT / "targets" / f"{t}.yaml" for t in TARGETS], "store": folder / "hwbench.sqlite"}
    common |= {"report": False, "dataset": "digits", "schedule": "demo", "seed": 0}
    start = time.perf_counter()
    # One sweep for the block spaces and the references, one for the hybrid space (its own n), in one store.
    run_sweep(SweepRequest(name="blocks", spaces=spaces, n=args.n, references=REF_FILES, **common), NullProgress())
    blocks_s = time.perf_counter() - start
    hybrid = [ROOT / "design_spaces" / "hybrid.yaml"]
    run_sweep(SweepRequest(name="hybrid", spaces=hybrid, n=args.hybrid, **common), NullProgress())
    wall = time.perf_counter() - start
    refs = report_frames(["blocks"], store=common["store"])["references"]
    stages = report_frames(["hybrid"], store=common["store"])["stage_blocks"]
    columns = ["target", "reference", "block", "n", "ref_quality", "ref_ms", "front_ms", "ratio", "ci_low", "ci_high"]
    text = table(refs.to_dict("records"), [*columns, "status"])
    text += "\n\n" + table(stages.to_dict("records"), list(stages.columns))
    text += (
        f"\n\nratio = reference latency / block's best-of-3 front latency at the reference's top-1 (> 1: the front"
        f" is faster); interval: 95% bootstrap; status: compared / does not reach / too few networks. Block spaces"
        f" n={args.n} each + references {', '.join(REFERENCES)}: {blocks_s:.0f} s; hybrid n={args.hybrid}; total"
        f" {wall:.0f} s on 2 cores."
    )
    save("references", text, {"references": refs.to_dict("records"), "stage_blocks": stages.to_dict("records")})


if __name__ == "__main__":
    sys.exit(main())
