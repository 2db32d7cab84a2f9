"""Accuracy: datasets (one loader per file), short training schedules, the trainer, artifact evaluation, import.

Everything here imports torch lazily (inside functions), so listing datasets and schedules stays cheap.
"""
