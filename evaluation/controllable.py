"""`main.py --mode inpaint | colorize | conditional`: controllable generation from a trained model.

    python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits --mode inpaint
    python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits --mode train_classifier
    python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits --mode conditional
    python main.py --config configs/digits/ddpmpp_vp.py --workdir runs/digits --mode controllable

`--mode controllable` is the three above in one command (train_classifier
resumes, or returns at once when the classifier is trained; then inpaint,
conditional, and colorize for RGB models).

The score model is the EMA parameters of the newest checkpoint in WORKDIR;
the classifier (conditional) those of `classifier.workdir` (default
WORKDIR/classifier), which must have been trained for this config (dataset,
SDE, architecture: `models.classifier.check_identity`). The sampler is the
one `config.sampling` describes: 'pc' (its predictor, corrector, snr,
n_steps_each, probability_flow, noise_removal) or 'ode' (rtol, atol,
ode_solver, noise_removal); `samplers.get_pc_inpainter` etc. do the work.

Fields (`config.controllable`):
  mask          inpainting mask: center | left_half | random_pixels:P | a PNG (`utils.masks`)
  labels        conditional: 'all' or comma-separated class indices (`utils.masks.parse_labels`)
  scale         conditional: guidance scale (1: the paper's method; 0: unconditional)
  num_samples   images to inpaint / colorize (the first of the split) or samples to draw
  images        '' = the test split of config.data; or an .npz whose `images` are
                (n, H, W, C) in [0, 1] (inpaint, colorize)
  baseline      also draw unconditional samples and score them the same way

Outputs in WORKDIR/controllable/: MODE.npz (all arrays, model space), MODE.png
(inpaint: one row per image, input | masked | result | truth, where input is
the mask, white = known, and masked the observation with the unknown pixels
grey; colorize: grey input | result | truth; conditional: the samples, one
grid row per `num_classes` samples, i.e. one class per row for labels='all')
and MODE.json, the figures:
  inpaint      rmse_masked: RMS error on the unknown pixels against the truth,
               in [0, 1] image units; for the digits' test split also class_accuracy,
               the fraction of results the independent digits classifier labels as
               the truth's class; baseline: the same for unconditional samples
  colorize     rmse: RMS error against the truth; grey_error: max |channel mean of
               the result - the given grey|; baseline: the grey image as the answer;
               for the tinted digits (DIGITS_RGB) also tint_accuracy, the fraction of
               results whose tint (`data.digits_rgb.tint_index`) is the true one, beside
               the grey image's and a random tint's (baseline_random_tint: rmse too)
  conditional  for the digits, accuracy: the fraction of samples that the
               independent digits classifier (evaluation/digits_classifier.py)
               labels as asked; baseline: unconditional samples against the same labels
"""
import json
import math
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import models
import samplers
import sde_lib
from models import classifier as classifier_lib
from experiment import checkpoints as ckpt_lib, run_config
from utils import atomic, masks, plots

MODES = ('inpaint', 'colorize', 'conditional')
_MODE_KEYS = {'inpaint': 0x1A1, 'colorize': 0x1A2, 'conditional': 0x1A3}


def _fail_early(mode, config):
  """The checks of the request itself (the config's shape)."""
  if mode not in MODES:
    raise ValueError(f"mode={mode!r}; allowed: {', '.join(MODES)}")
  shape = models.input_shape(config)
  if mode == 'colorize' and (len(shape) != 3 or shape[-1] != 3):
    raise ValueError(
        f"--mode colorize needs a 3-channel (RGB) model; this config's model has "
        f"config.data.num_channels={shape[-1] if len(shape) == 3 else None} (shape {shape}): "
        "nothing to colour. allowed: data.num_channels=3")
  if len(shape) != 3:
    raise ValueError(f"--mode {mode} is for image models; the config's data has shape {shape}")


def modes_for(config):
  """The modes a config's model allows: colorize only for RGB models."""
  rgb = models.input_shape(config)[-1] == 3
  return tuple(m for m in MODES if m != 'colorize' or rgb)


def _read_ema(directory, init_fn, what):
  """(EMA parameters, step) of the newest checkpoint in `directory`; no training state built."""
  abstract = jax.eval_shape(init_fn, jax.random.PRNGKey(0))
  with ckpt_lib.Checkpoints(directory, async_save=False, read_only=True) as ckpts:
    return ckpts.read(abstract, 'ema_params', what)


def _score_model(config, workdir):
  run_config.check(config, workdir)
  sde = sde_lib.get_sde(config)
  model = models.get_model(config)
  params, step = _read_ema(workdir, lambda rng: models.init_model(rng, config)[1], 'score model')
  return sde, models.get_score_fn(sde, model, continuous=config.training.continuous), params, step


def _classifier(config, directory, sde):
  """(logit_fn, EMA parameters) of the classifier trained in `directory`."""
  model = classifier_lib.get_classifier(config)
  params, _ = _read_ema(directory, lambda rng: classifier_lib.init_classifier(rng, config)[1],
                        'classifier')
  return classifier_lib.get_logit_fn(sde, model), params


def _images(config, n):
  """The first n images (model space, float32) to inpaint / colorize."""
  import data  # pylint: disable=import-outside-toplevel
  shape = models.input_shape(config)
  path = config.controllable.images
  if path:
    if not os.path.isfile(path):
      raise FileNotFoundError(f"config.controllable.images={path!r} does not exist")
    with np.load(path) as f:
      if 'images' not in f.files:
        raise ValueError(f"config.controllable.images={path!r} has no array 'images' "
                         f"(it has {f.files})")
      images = np.asarray(f['images'], np.float32)
    if images.ndim != 4 or images.shape[1:] != shape:
      raise ValueError(f"config.controllable.images={path!r} holds images of shape "
                       f"{images.shape}; allowed: (n,) + {shape}, the model's shape")
    if images.min() < 0 or images.max() > 1:
      raise ValueError(f"config.controllable.images={path!r} holds values in "
                       f"[{images.min()}, {images.max()}]; allowed: [0, 1]")
    return np.asarray(data.get_data_scaler(config)(images[:n]))
  ds = data.get_dataset(config, 'test', evaluation=True, uniform_dequantization=False)
  xs, count = [], 0
  for x, mask in ds.epoch_batches():
    xs.append(x[mask])
    count += int(mask.sum())
    if count >= n:
      break
  return np.concatenate(xs)[:n]


def _sampler_args(config, sde):
  s = config.sampling
  eps = s.get('eps', samplers.default_eps(sde))
  if s.method == 'pc':
    return 'pc', dict(predictor=s.predictor, corrector=s.corrector, snr=s.snr,
                      n_steps=s.n_steps_each, probability_flow=s.probability_flow,
                      denoise=s.noise_removal, eps=eps)
  if s.method == 'ode':
    return 'ode', dict(rtol=s.get('rtol', 1e-5), atol=s.get('atol', 1e-5),
                       solver=s.get('ode_solver', 'dopri5'), denoise=s.noise_removal, eps=eps)
  raise ValueError(f"config.sampling.method={s.method!r}: controllable generation runs on the "
                   "PC samplers and the probability-flow ODE; allowed: pc, ode")


def _in_rounds(fn, n, batch, key):
  """fn(key, index array of one round) -> (x, nfe) over ceil(n / batch) rounds; (x[:n], nfe)."""
  out, nfes = [], []
  for r in tqdm.trange(math.ceil(n / batch), desc='rounds', disable=jax.process_index() != 0):
    idx = np.minimum(np.arange(r * batch, (r + 1) * batch), n - 1)   # last round padded
    x, nfe = fn(jax.random.fold_in(key, r), idx)
    out.append(np.asarray(jax.device_get(x)))
    nfes.append(int(nfe))
  return np.concatenate(out)[:n], float(np.mean(nfes))


def _rmse(a, b, where=None):
  err = np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))
  return float(np.sqrt(err[where].mean() if where is not None else err.mean()))


def _unconditional(config, sde, score_fn, params, n, batch, key):
  sampler = samplers.get_sampler(config, sde, score_fn, (batch,) + models.input_shape(config))
  return _in_rounds(lambda k, idx: sampler(k, params), n, batch, key)[0]


def run(mode, config, workdir):
  """Runs `mode` (MODES); writes WORKDIR/controllable/MODE.{npz,png,json}; returns the record."""
  _fail_early(mode, config)
  c = config.controllable
  n = c.num_samples
  # The inputs first, so that a bad request fails before any network is read.
  if mode in ('inpaint', 'colorize'):
    truth = _images(config, n)
    n = len(truth)   # the split may hold fewer
  if mode == 'inpaint':
    mask = masks.make_mask(c.mask, truth.shape, seed=config.seed)
  if mode == 'colorize':
    gray = np.repeat(truth.mean(-1, keepdims=True), 3, axis=-1)
  if mode == 'conditional':
    labels = masks.parse_labels(c.labels, n, config.classifier.num_classes)
    classifier_dir = classifier_lib.classifier_workdir(config, workdir)
    classifier_lib.check_identity(config, classifier_dir)
  batch = min(n, config.eval.batch_size)
  shape = (batch,) + models.input_shape(config)
  sde, score_fn, params, step = _score_model(config, workdir)
  kind, kwargs = _sampler_args(config, sde)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), _MODE_KEYS[mode])
  import data  # pylint: disable=import-outside-toplevel
  to_image = lambda x: np.clip(np.asarray(data.get_data_inverse_scaler(config)(x)), 0., 1.)
  record = {'mode': mode, 'step': step, 'num_samples': n, 'sampling': dict(kwargs, method=kind),
            'command': 'python main.py ' + ' '.join(sys.argv[1:]) if sys.argv else ''}
  base_key = jax.random.fold_in(key, 0xBA5E)
  if mode == 'inpaint':
    inpaint = (samplers.get_pc_inpainter if kind == 'pc' else samplers.get_ode_inpainter)(
        sde, score_fn, shape, **kwargs)
    x, nfe = _in_rounds(lambda k, idx: inpaint(k, params, truth[idx], mask[idx]), n, batch, key)
    unknown = mask == 0
    record.update(mask=c.mask, nfe=nfe, rmse_masked=_rmse(to_image(x), to_image(truth), unknown))
    observed = np.where(mask == 1, to_image(truth), 0.5)
    panels = [mask, observed, to_image(x), to_image(truth)]
    arrays = dict(truth=truth, mask=mask, result=x)
    if c.baseline:
      u = _unconditional(config, sde, score_fn, params, n, batch, base_key)
      record['baseline'] = {'what': 'unconditional samples',
                            'rmse_masked': _rmse(to_image(u), to_image(truth), unknown)}
      arrays['baseline'] = u
    if config.data.dataset == 'DIGITS' and not c.images:
      # Does the completed digit keep its class? The independent classifier against the labels.
      from data import digits  # pylint: disable=import-outside-toplevel
      from evaluation import digits_classifier  # pylint: disable=import-outside-toplevel
      true_labels = digits.load_split('test')[1][:n]
      record['class_accuracy'] = float(np.mean(digits_classifier.classify(to_image(x))
                                               == true_labels))
      if c.baseline:
        record['baseline']['class_accuracy'] = float(np.mean(
            digits_classifier.classify(to_image(u)) == true_labels))
  elif mode == 'colorize':
    colorize = (samplers.get_pc_colorizer if kind == 'pc' else samplers.get_ode_colorizer)(
        sde, score_fn, shape, **kwargs)
    x, nfe = _in_rounds(lambda k, idx: colorize(k, params, gray[idx]), n, batch, key)
    record.update(nfe=nfe, rmse=_rmse(to_image(x), to_image(truth)),
                  grey_error=float(np.max(np.abs(x.mean(-1) - gray[..., 0]))))
    panels = [to_image(gray), to_image(x), to_image(truth)]
    arrays = dict(truth=truth, gray=gray, result=x)
    if c.baseline:
      record['baseline'] = {'what': 'the grey image as the answer',
                            'rmse': _rmse(to_image(gray), to_image(truth))}
    if config.data.dataset == 'DIGITS_RGB' and not c.images:
      record.update(_tint_figures(config, to_image(x), to_image(gray), to_image(truth),
                                  c.baseline))
  else:
    logit_fn, classifier_params = _classifier(config, classifier_dir, sde)
    make = (samplers.get_pc_conditional_sampler if kind == 'pc'
            else samplers.get_ode_conditional_sampler)
    sample = make(sde, score_fn, logit_fn, shape, scale=float(c.scale), **kwargs)
    x, nfe = _in_rounds(lambda k, idx: sample(k, params, classifier_params,
                                              jnp.asarray(labels[idx])), n, batch, key)
    record.update(labels=c.labels, scale=float(c.scale), nfe=nfe)
    panels = None
    arrays = dict(samples=x, labels=labels)
    if config.data.dataset == 'DIGITS':
      from evaluation import digits_classifier  # pylint: disable=import-outside-toplevel
      record['accuracy'] = float(np.mean(digits_classifier.classify(to_image(x)) == labels))
      if c.baseline:
        u = _unconditional(config, sde, score_fn, params, n, batch, base_key)
        accuracy = float(np.mean(digits_classifier.classify(to_image(u)) == labels))
        record['baseline'] = {'what': 'unconditional samples against the same labels',
                              'accuracy': accuracy}
        arrays['baseline'] = u
  _write(os.path.join(workdir, 'controllable', mode), arrays, record, panels, to_image(x),
         config.classifier.num_classes if 'classifier' in config else 10)
  print(json.dumps(record))
  return record


def _tint_figures(config, result, gray, truth, baseline):
  """The known answer of the tinted digits (`data.digits_rgb`): the fraction of results whose
  tint is the true one (the digit's class), and with `baseline` the grey image and a random
  tint of it (gray * TINTS[k], k uniform: the right channel mean, a chance colour) scored
  the same way. Images in [0, 1]."""
  from data import digits_rgb  # pylint: disable=import-outside-toplevel
  tints = digits_rgb.load_split('test')[1][:len(result)]
  out = {'tint_accuracy': float(np.mean(digits_rgb.tint_index(result) == tints))}
  if baseline:
    rng = np.random.default_rng(config.seed)
    random_tint = digits_rgb.TINTS[rng.integers(0, len(digits_rgb.TINTS), len(result))]
    random = np.clip(gray * random_tint[:, None, None, :].astype(np.float64), 0., 1.)
    out['baseline_grey_tint_accuracy'] = float(np.mean(digits_rgb.tint_index(gray) == tints))
    out['baseline_random_tint'] = {
        'what': 'the grey image times a random tint',
        'rmse': _rmse(random, truth),
        'tint_accuracy': float(np.mean(digits_rgb.tint_index(random) == tints))}
  return out


def _write(prefix, arrays, record, panels, images, per_row):
  """prefix.npz (arrays), prefix.png (panels side by side per example, or a grid), prefix.json."""
  if jax.process_index() != 0:
    return
  atomic.save_npz(prefix + '.npz', **arrays)
  if panels is None:
    plots.save_image_grid(prefix + '.png', images, nrow=per_row)
  else:
    rows = min(len(images), 16)
    tiles = np.stack([p[:rows] for p in panels], axis=1).reshape((-1,) + images.shape[1:])
    plots.save_image_grid(prefix + '.png', tiles, nrow=len(panels))
  atomic.write_json(prefix + '.json', record)
  record.update(npz=prefix + '.npz', png=prefix + '.png')
