"""Score networks (by name, from configs), the scoring convention, and the exact GMM oracle."""
from models import analytic
from models.registry import get_model, init_model, input_shape, model_names
from models.scoring import get_score_fn, noise_labels, output_to_score

__all__ = ['analytic', 'get_model', 'init_model', 'input_shape', 'model_names', 'get_score_fn', 'noise_labels', 'output_to_score']
