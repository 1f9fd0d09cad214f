"""The experiment layer: what training and evaluation both build from a config.

`Experiment(config)` holds the SDE, the network, its score function, the
losses, the optimiser, the abstract train state and its shardings, the data
sources (toy or image: `data` decides) and the inverse scaler.
`experiment.checkpoints` reads and writes a run's checkpoints,
`experiment.run_config` records a run's config and refuses commands with
another, `experiment.state` is the train state. `training/` and `evaluation/`
both sit on this layer and never import each other (see architecture.md).
"""
from experiment.core import Experiment, abstract, eval_snapshots, make_eval_step, make_mesh

__all__ = ['Experiment', 'abstract', 'eval_snapshots', 'make_eval_step', 'make_mesh']
