"""Detection post-processing on the measuring side: box coding, IoU and NMS in numpy (no torch, agent-safe)."""
