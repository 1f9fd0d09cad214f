"""The eval run: sample quality and likelihoods of a trained model, and what they need.

This package is what `main.py`'s `sample`, `likelihood`, `eval`, `fid_stats`
and controllable-generation modes run:
- `evaluation.runs`: the modes that read a trained model (sample, likelihood,
  eval: loss, bits/dim, FID / IS / KID or the digits Frechet distance).
- `evaluation.metrics`: Frechet distance, feature statistics and their exact
  merge, KID, Inception Score on host arrays of features or logits (float64
  numpy); re-exported here.
- `evaluation.inception`: the FID Inception-v3 network in Flax
  (`load_params`, `inception_features`).
- `evaluation.fid_stats`: the datasets' reference statistics for FID / KID.
- `evaluation.digits_classifier`: the built-in digits' own feature network and
  `digits_frechet_distance` (not an FID).
- `evaluation.baselines`: exact bits/dim of simple density models of the digits.
- `evaluation.controllable`: inpainting, colorization, class-conditional sampling.

Two subpackages have other roles and are used by nothing here:
- `evaluation.tables`: the paper-table reproduction (the paper's rows, and
  `python -m evaluation.tables.reproduce`, which puts our runs beside them).
- `evaluation.tools`: one-off tools, e.g. the weight converter
  `python -m evaluation.tools.convert_inception` (pytorch-fid's FID Inception
  weights -> our .npz; weights are never downloaded).

Submodules other than `metrics` are imported on demand, so importing this
package stays cheap.
"""
from evaluation.metrics import (RunningStatistics, feature_statistics, frechet_distance,
                                inception_score, inception_score_from_probs,
                                kernel_inception_distance)

__all__ = ['RunningStatistics', 'feature_statistics', 'frechet_distance', 'inception_score',
           'inception_score_from_probs', 'kernel_inception_distance']
