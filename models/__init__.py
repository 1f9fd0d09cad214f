"""Score networks (by name, from configs), the scoring convention, and the exact GMM oracle.

`models.pretrained` (the original code's released networks) is imported on first use, so
`python -m models.pretrained` runs it once and `import models` stays light.
"""
import importlib
from models import analytic
from models.registry import get_model, init_model, input_shape, model_names
from models.scoring import get_score_fn, noise_labels, output_to_score

__all__ = ['analytic', 'get_model', 'init_model', 'input_shape', 'model_names', 'get_score_fn', 'noise_labels', 'output_to_score', 'pretrained']


def __getattr__(name):
  if name == 'pretrained':
    return importlib.import_module('models.pretrained')
  raise AttributeError(f"module 'models' has no attribute {name!r}")
