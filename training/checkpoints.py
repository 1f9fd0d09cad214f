"""Checkpoints, importable here as DESIGN.md's layout has them.

They live in `experiment.checkpoints`: evaluation reads them too, and it must not
import training.
"""
from experiment.checkpoints import (DIRS, CheckpointError, Checkpoints,  # noqa: F401
                                    has_checkpoints)
