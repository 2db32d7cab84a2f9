"""Failures to convert are reported per block, with how the failed networks differ in size."""

import pandas as pd

from hwbench.analysis.conversion import failure_notes


def test_failures_are_counted_per_block_and_sized() -> None:
    frame = pd.DataFrame(
        {
            "target": ["npu"] * 4 + ["cpu"] * 4,
            "group": ["a", "a", "b", "b"] * 2,
            "arch_id": ["a0", "a1", "b0", "b1"] * 2,
            "status": ["ok", "export_error", "ok", "ok"] + ["ok"] * 4,
            "macs": [1e8, 9e8, 2e8, 3e8] * 2,
        }
    )
    notes = failure_notes(frame)
    assert len(notes) == 1 and notes[0].startswith("On npu, 1 of 4 networks failed to convert or run (a 1/2)")
    assert "900M MACs against 200M" in notes[0] and "not missing at random" in notes[0]
