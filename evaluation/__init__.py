"""Sample-quality evaluation: FID / KID / IS and the digits Frechet distance.

- `evaluation.metrics`: Frechet distance, feature statistics, KID, Inception
  Score on host arrays of features or logits (float64 numpy); re-exported here.
- `evaluation.inception`: the FID Inception-v3 network in Flax
  (`load_params`, `inception_features`); weights converted from pytorch-fid's
  file by `python -m evaluation.convert_inception`, never downloaded.
- `evaluation.digits_classifier`: the built-in digits' own feature network and
  `digits_frechet_distance` (not an FID).
- `evaluation.runs`: the `main.py` modes that read a trained model.

Submodules other than `metrics` are imported on demand, so importing this
package stays cheap.
"""
from evaluation.metrics import (RunningStatistics, feature_statistics, frechet_distance,
                                inception_score, inception_score_from_probs,
                                kernel_inception_distance)

__all__ = ['RunningStatistics', 'feature_statistics', 'frechet_distance', 'inception_score',
           'inception_score_from_probs', 'kernel_inception_distance']
