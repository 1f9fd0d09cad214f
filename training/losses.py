"""The score-matching objectives, importable here as DESIGN.md's layout has them.

They live in `experiment.losses`: evaluation computes the eval loss too, and it must
not import training.
"""
from experiment.losses import (get_ddpm_loss_fn, get_loss_fn, get_sde_loss_fn,  # noqa: F401
                               get_smld_loss_fn)
