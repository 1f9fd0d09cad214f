"""The train state and optimiser, importable here as DESIGN.md's layout has them.

They live in `experiment.state`: evaluation restores the same state, and it must
not import training.
"""
from experiment.state import (OPTIMIZERS, SCHEDULES, TrainState, ema_update,  # noqa: F401
                              get_optimizer, init_train_state, new_train_state)
