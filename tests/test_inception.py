"""The Flax FID Inception against pytorch-fid's network, through the weight converter.

Needs torch, torchvision and pytorch-fid (skipped without them). pytorch-fid's
network is built with random weights and randomised BatchNorm statistics
(nothing is downloaded), its state_dict is converted by
`python -m evaluation.tools.convert_inception`, and both networks see the same images.
"""
import importlib.metadata
import importlib.util
import os
import sys
import types

import jax.numpy as jnp
import numpy as np
import pytest

from evaluation import inception
from evaluation.tools import convert_inception


def _import_pytorch_fid_inception():
  """pytorch_fid.inception, importable with the CPU torch wheel.

  PyPI's torchvision wheel is built against the CUDA torch; with the CPU torch
  its compiled ops cannot load and `import torchvision` raises. pytorch-fid
  only needs torchvision's pure-Python Inception blocks, so in that case the
  package is registered without running its __init__ (which registers the ops).
  """
  pytest.importorskip('torch')
  if any(importlib.util.find_spec(name) is None for name in ('torchvision', 'pytorch_fid')):
    pytest.skip('needs torchvision and pytorch-fid')
  try:
    import torchvision  # noqa: F401
  except Exception:  # pylint: disable=broad-except
    for name in [n for n in sys.modules if n == 'torchvision' or n.startswith('torchvision.')]:
      del sys.modules[name]
    package = types.ModuleType('torchvision')
    package.__path__ = list(importlib.util.find_spec('torchvision').submodule_search_locations)
    package.__version__ = importlib.metadata.version('torchvision')
    sys.modules['torchvision'] = package
  import torchvision.models.inception  # noqa: F401  pylint: disable=import-outside-toplevel
  import pytorch_fid.inception  # pylint: disable=import-outside-toplevel
  return pytorch_fid.inception


def _randomise_batch_norm(torch, net, wrapper, rng):
  """Non-trivial BatchNorm parameters and statistics at a sane activation scale: random
  affine parameters; running statistics estimated on random images (a training-mode
  pass, cumulative average), then perturbed, so none is the trivial 0 / 1."""
  bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
  noise = lambda draw: torch.from_numpy(draw.astype(np.float32))
  with torch.no_grad():
    for bn in bns:
      bn.weight.copy_(noise(rng.uniform(0.5, 1.5, bn.num_features)))
      bn.bias.copy_(noise(rng.normal(0., 0.2, bn.num_features)))
      bn.reset_running_stats()
      bn.momentum = None  # cumulative average over the calibration pass
    wrapper.train()
    wrapper(torch.rand(4, 3, 96, 96, generator=torch.Generator().manual_seed(1)))
    wrapper.eval()
    for bn in bns:
      bn.running_var.mul_(noise(rng.uniform(0.8, 1.25, bn.num_features)))
      bn.running_mean.add_(noise(rng.normal(0., 0.1, bn.num_features)) * bn.running_var.sqrt())


@pytest.fixture(scope='module')
def torch_and_converted(tmp_path_factory):
  """(torch, pytorch-fid wrapper, full torch network, our converted params)."""
  pfi = _import_pytorch_fid_inception()
  import torch  # pylint: disable=import-outside-toplevel
  torch.manual_seed(0)
  built = {}
  original = pfi.fid_inception_v3

  def build_without_download():
    # pytorch-fid's own constructor with the weight download replaced by "keep the init".
    saved = pfi.load_state_dict_from_url, pfi.torchvision.models.Inception3.load_state_dict
    pfi.load_state_dict_from_url = lambda *args, **kwargs: None
    pfi.torchvision.models.Inception3.load_state_dict = lambda self, state_dict, *a, **k: None
    try:
      built['net'] = original()
    finally:
      pfi.load_state_dict_from_url, pfi.torchvision.models.Inception3.load_state_dict = saved
    return built['net']

  pfi.fid_inception_v3 = build_without_download
  try:
    wrapper = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
  finally:
    pfi.fid_inception_v3 = original
  net = built['net']
  _randomise_batch_norm(torch, net, wrapper, np.random.default_rng(0))
  net.eval()

  directory = tmp_path_factory.mktemp('inception')
  src = os.fspath(directory / 'random_fid_inception.pth')
  dst = os.fspath(directory / 'converted.npz')
  torch.save(net.state_dict(), src)
  convert_inception.main([src, dst])
  return torch, wrapper, net, inception.load_params(dst)


def _torch_reference(torch, wrapper, net, images01):
  """pytorch-fid's pool3 and the graph's logits (its fc on pool3), in float32."""
  with torch.no_grad():
    x = torch.from_numpy(np.ascontiguousarray(images01.transpose(0, 3, 1, 2), dtype=np.float32))
    pool3 = wrapper(x)[0].flatten(1)
    logits = net.fc(pool3)
  return pool3.numpy(), logits.numpy()


def test_features_match_pytorch_fid(torch_and_converted):
  """pool3 (2048) and logits (1008) equal pytorch-fid's to float32 round-off, for a
  non-square float image batch (upsampled) and a 299 x 299 uint8 batch (not resized):
  this checks the conversion (BatchNorm folding, kernel layout), every block's
  structure and pooling, the bilinear resize and the [0, 1] -> [-1, 1] scaling."""
  torch, wrapper, net, params = torch_and_converted
  rng = np.random.default_rng(0)
  small = rng.uniform(size=(2, 32, 48, 3)).astype(np.float32)
  full = rng.integers(0, 256, size=(2, 299, 299, 3), dtype=np.uint8)
  for images, images01 in [(small, small), (full, full / 255.)]:
    pool3, logits = inception.inception_features(params, images)
    assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
    assert pool3.dtype == jnp.float32 and logits.dtype == jnp.float32
    ref_pool3, ref_logits = _torch_reference(torch, wrapper, net, images01)
    assert np.std(ref_pool3) > 1e-2 and np.std(ref_logits) > 1e-2  # a non-degenerate check
    for got, ref in [(pool3, ref_pool3), (logits, ref_logits)]:
      np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=2e-5 * np.abs(ref).max())


def test_float64_input_gives_float32_features(torch_and_converted):
  """The network runs in float32 whatever the input dtype (x64 is on in tests), and the
  features of a float64 batch equal those of the same batch in float32."""
  _, _, _, params = torch_and_converted
  images = np.random.default_rng(1).uniform(size=(2, 32, 48, 3))
  pool64, logits64 = inception.inception_features(params, images)
  pool32, logits32 = inception.inception_features(params, images.astype(np.float32))
  assert pool64.dtype == jnp.float32 and logits64.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(pool64), np.asarray(pool32), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('in_hw', [(32, 32), (28, 40), (299, 299), (300, 512)])
def test_resize_matches_torch_interpolate(in_hw):
  """Our resize equals torch's bilinear interpolate (align_corners=False, no antialias),
  upsampling and downsampling, non-square; then the [0, 1] -> [-1, 1] scaling. Equal up
  to float32 rounding of the source coordinate (~eps32 * size, so 1e-5 here)."""
  torch = pytest.importorskip('torch')
  images = np.random.default_rng(2).uniform(size=(2,) + in_hw + (3,)).astype(np.float32)
  ref = torch.nn.functional.interpolate(torch.from_numpy(images.transpose(0, 3, 1, 2)),
                                        size=(299, 299), mode='bilinear', align_corners=False)
  ref = 2. * ref.numpy().transpose(0, 2, 3, 1) - 1.
  np.testing.assert_allclose(np.asarray(inception.preprocess(images)), ref, rtol=0, atol=1e-5)


def test_grayscale_and_uint8_inputs():
  """A 1-channel image is the 3-channel image with equal channels; uint8 v means v / 255."""
  gray = np.random.default_rng(3).integers(0, 256, size=(2, 8, 8, 1), dtype=np.uint8)
  rgb01 = np.repeat(gray, 3, axis=-1).astype(np.float32) / 255.
  np.testing.assert_allclose(np.asarray(inception.preprocess(gray)),
                             np.asarray(inception.preprocess(rgb01)), atol=1e-6)


def test_bad_images_rejected():
  """Wrong rank, channel count or dtype: ValueError saying what is allowed."""
  params = None  # never reached: the images are checked first
  with pytest.raises(ValueError, match='NHWC'):
    inception.inception_features(params, np.zeros((2, 3, 32, 32), np.float32))
  with pytest.raises(ValueError, match='uint8 in \\[0, 255\\] or floating point'):
    inception.inception_features(params, np.zeros((2, 32, 32, 3), np.int32))


def test_missing_weights_error_says_how_to_get_them(tmp_path):
  """Without the weight file: FileNotFoundError giving pytorch-fid's URL and the
  conversion command."""
  for path in [None, '', os.fspath(tmp_path / 'absent.npz')]:
    with pytest.raises(FileNotFoundError) as info:
      inception.load_params(path)
    message = str(info.value)
    assert inception.FID_WEIGHTS_URL in message
    assert 'python -m evaluation.tools.convert_inception' in message


def test_converter_rejects_foreign_state_dict():
  """A state_dict that is not the FID Inception's (missing or extra keys): ValueError
  naming a key. A well-formed one converts with BatchNorm folded in."""
  good = {}
  for path, shape in inception.flatten_params(inception.param_shapes()).items():
    module, leaf = path.rsplit('/', 1)
    name = module.replace('/', '.')
    if module == 'fc':
      good[f'fc.{"weight" if leaf == "kernel" else "bias"}'] = np.zeros(shape.shape[::-1])
    elif leaf == 'kernel':
      kh, kw, cin, cout = shape.shape
      good[f'{name}.conv.weight'] = np.zeros((cout, cin, kh, kw))
      for stat in ('weight', 'bias', 'running_mean', 'running_var'):
        good[f'{name}.bn.{stat}'] = np.ones(cout)
  converted = convert_inception.convert_state_dict(good)
  np.testing.assert_allclose(np.asarray(converted['Mixed_7c']['branch_pool']['bias']),
                             1. - 1. / np.sqrt(1. + 1e-3), rtol=1e-6)  # beta - mean * scale
  with pytest.raises(ValueError, match='Mixed_6e.branch1x1.bn.running_var'):
    convert_inception.convert_state_dict(
        {k: v for k, v in good.items() if k != 'Mixed_6e.branch1x1.bn.running_var'})
  with pytest.raises(ValueError, match='does not use'):
    convert_inception.convert_state_dict({**good, 'Mixed_8a.conv.weight': np.zeros(1)})
