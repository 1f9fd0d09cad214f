"""Every NCSN++ / DDPM++ paper config: loads, validates, and builds the original's network.

The parameter count of our flax NCSNpp (from `jax.eval_shape`, no memory)
must equal the original score_sde NCSN++ for each config. The reference
counts are literals, obtained by `reference_param_count` below: an
independent walk of the original `NCSNpp.__init__` (yang-song/score_sde
models/ncsnpp.py, layerspp.py, layers.py, up_or_down_sampling.py), which
tracks channels the way the original does (`in_ch`, `hs_c`,
`input_pyramid_ch`) and adds each layer's parameters by formula; our model
instead infers every shape from its input. Counts include the Fourier
projection's fixed W (a stored parameter in the original too).
"""
import importlib
import pathlib

import jax
import pytest

import models

ROOT = pathlib.Path(__file__).resolve().parent.parent

# config path -> parameter count of the original network (see module docstring).
REFERENCE_PARAM_COUNTS = {
    'subvp/cifar10_ddpmpp_continuous.py': 61804419,
    'subvp/cifar10_ddpmpp_deep_continuous.py': 106632579,
    'subvp/cifar10_ncsnpp_continuous.py': 62693251,
    'subvp/cifar10_ncsnpp_deep_continuous.py': 107521411,
    've/bedroom_ncsnpp_continuous.py': 65574549,
    've/celeba_ncsnpp.py': 62693251,
    've/celebahq_256_ncsnpp_continuous.py': 65574549,
    've/celebahq_ncsnpp_continuous.py': 105785896,
    've/church_ncsnpp_continuous.py': 65574549,
    've/cifar10_ncsnpp.py': 62693251,
    've/cifar10_ncsnpp_continuous.py': 62758915,
    've/cifar10_ncsnpp_deep_continuous.py': 107587075,
    've/ffhq_256_ncsnpp_continuous.py': 65574549,
    've/ffhq_ncsnpp_continuous.py': 105785896,
    'vp/cifar10_ddpmpp.py': 61804419,
    'vp/cifar10_ddpmpp_continuous.py': 61804419,
    'vp/cifar10_ddpmpp_deep_continuous.py': 106632579,
    'vp/cifar10_ncsnpp.py': 62693251,
    'vp/cifar10_ncsnpp_continuous.py': 62693251,
    'vp/cifar10_ncsnpp_deep_continuous.py': 107521411,
}


def load_config(rel):
  spec = importlib.util.spec_from_file_location('cfg_' + rel.replace('/', '_')[:-3], ROOT / 'configs' / rel)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def reference_param_count(config):
  """Parameter count of the original NCSNpp, following its constructor step by step."""
  m, channels = config.model, config.data.num_channels
  nf, ch_mult, nrb = m.nf, m.ch_mult, m.num_res_blocks
  res = [config.data.image_size // 2 ** i for i in range(len(ch_mult))]

  def conv(k, cin, cout):
    return k * k * cin * cout + cout

  def gn(c):
    return 2 * c

  temb_dim = 4 * nf
  n = nf if m.embedding_type == 'fourier' else 0             # GaussianFourierProjection.W
  embed_dim = 2 * nf if m.embedding_type == 'fourier' else nf
  if m.conditional:
    n += conv(1, embed_dim, temb_dim) + conv(1, temb_dim, temb_dim)   # two Linear layers

  def resblock(cin, cout=None, up=False, down=False):
    cout = cout or cin
    total = gn(cin) + conv(3, cin, cout) + gn(cout) + conv(3, cout, cout)
    if m.conditional:
      total += conv(1, temb_dim, cout)                       # Dense_0 on the embedding
    if m.resblock_type == 'biggan':
      if cin != cout or up or down:
        total += conv(1, cin, cout)                          # Conv_2 (1x1)
    elif cin != cout:
      total += conv(1, cin, cout)                            # NIN_0
    return total

  def attn(c):
    return gn(c) + 4 * conv(1, c, c)                         # NIN_0..3

  def resample(cin, cout, with_conv):
    return conv(3, cin, cout) if with_conv else 0

  n += conv(3, channels, nf)
  hs_c = [nf]
  in_ch = nf
  pyramid_in_ch = channels
  for i in range(len(ch_mult)):
    for _ in range(nrb):
      out_ch = nf * ch_mult[i]
      n += resblock(in_ch, out_ch)
      in_ch = out_ch
      if res[i] in m.attn_resolutions:
        n += attn(in_ch)
      hs_c.append(in_ch)
    if i != len(ch_mult) - 1:
      if m.resblock_type == 'ddpm':
        n += resample(in_ch, in_ch, m.resamp_with_conv)
      else:
        n += resblock(in_ch, down=True)
      if m.progressive_input == 'input_skip':
        n += conv(1, pyramid_in_ch, in_ch)                   # Combine.Conv
        if m.progressive_combine == 'cat':
          in_ch *= 2
      elif m.progressive_input == 'residual':
        n += resample(pyramid_in_ch, in_ch, True)
        pyramid_in_ch = in_ch
      hs_c.append(in_ch)

  in_ch = hs_c[-1]
  n += resblock(in_ch) + attn(in_ch) + resblock(in_ch)
  pyramid_ch = 0
  for i in reversed(range(len(ch_mult))):
    for _ in range(nrb + 1):
      out_ch = nf * ch_mult[i]
      n += resblock(in_ch + hs_c.pop(), out_ch)
      in_ch = out_ch
    if res[i] in m.attn_resolutions:
      n += attn(in_ch)
    if m.progressive != 'none':
      if i == len(ch_mult) - 1:
        if m.progressive == 'output_skip':
          n += gn(in_ch) + conv(3, in_ch, channels)
          pyramid_ch = channels
        else:
          n += gn(in_ch) + conv(3, in_ch, in_ch)
          pyramid_ch = in_ch
      elif m.progressive == 'output_skip':
        n += gn(in_ch) + conv(3, in_ch, channels)            # pyramid upsample has no conv
        pyramid_ch = channels
      else:
        n += resample(pyramid_ch, in_ch, True)
        pyramid_ch = in_ch
    if i != 0:
      if m.resblock_type == 'ddpm':
        n += resample(in_ch, in_ch, m.resamp_with_conv)
      else:
        n += resblock(in_ch, up=True)
  assert not hs_c
  if m.progressive != 'output_skip':
    n += gn(in_ch) + conv(3, in_ch, channels)
  return n


def our_param_count(config):
  # Many configs share one architecture; trace each distinct network once.
  key = (repr(sorted((k, v) for k, v in config.model.items() if k not in _NOT_ARCHITECTURE)), config.data.image_size, config.data.num_channels,
         config.data.centered, config.training.continuous)
  if key not in _COUNT_CACHE:
    variables = jax.eval_shape(lambda rng: models.init_model(rng, config)[1], jax.random.PRNGKey(0))
    _COUNT_CACHE[key] = sum(leaf.size for leaf in jax.tree_util.tree_leaves(variables))
  return _COUNT_CACHE[key]


_COUNT_CACHE = {}
_NOT_ARCHITECTURE = ('sigma_min', 'sigma_max', 'num_scales', 'beta_min', 'beta_max', 'dropout',
                     'ema_rate')


def test_every_original_ncsnpp_config_is_covered():
  """Each ncsnpp/ddpmpp file in configs/{ve,vp,subvp} has a reference count, and vice versa."""
  found = {str(p.relative_to(ROOT / 'configs')) for sub in ('ve', 'vp', 'subvp')
           for p in (ROOT / 'configs' / sub).glob('*.py')
           if 'ncsnpp' in p.name or 'ddpmpp' in p.name}
  assert found == set(REFERENCE_PARAM_COUNTS)


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_reference_walk_gives_the_literal(rel):
  """The literal equals the constructor walk for the config as it is now (guards config edits)."""
  assert reference_param_count(load_config(rel)) == REFERENCE_PARAM_COUNTS[rel]


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_param_count_equals_original(rel):
  """Our network built from the config has exactly the original's number of parameters."""
  config = load_config(rel)
  assert config.model.name == 'ncsnpp'
  assert our_param_count(config) == REFERENCE_PARAM_COUNTS[rel]


@pytest.mark.parametrize('rel', sorted(REFERENCE_PARAM_COUNTS))
def test_config_fields(rel):
  """Configs carry the fields samplers/training read, and none the network ignores."""
  config = load_config(rel)
  for field in ('method', 'predictor', 'corrector', 'snr', 'n_steps_each', 'noise_removal',
                'probability_flow'):
    assert field in config.sampling, field
  assert config.training.sde in ('vesde', 'vpsde', 'subvpsde')
  for unused in ('normalization', 'attention_type', 'conv_size', 'sigma_begin'):
    assert unused not in config.model, unused
  if config.model.embedding_type == 'positional':
    assert 'fourier_scale' not in config.model
  else:
    assert config.training.continuous
  # VE networks divide by sigma; VP-type networks predict noise.
  assert config.model.scale_by_sigma == (config.training.sde == 'vesde')
  text = (ROOT / 'configs' / rel).read_text()
  assert f'--config configs/{rel}' in text and 'Target:' in text


def test_bad_choice_names_field_and_allowed_values():
  """An unknown option value raises ValueError naming the field and the allowed values."""
  config = load_config('ve/cifar10_ncsnpp_continuous.py')
  for field, bad, allowed in [('resblock_type', 'resnet', 'biggan'),
                              ('progressive', 'skip', 'output_skip'),
                              ('progressive_input', 'skip', 'input_skip'),
                              ('progressive_combine', 'mul', 'cat'),
                              ('embedding_type', 'sinusoid', 'positional'),
                              ('nonlinearity', 'gelu', 'swish'),
                              ('dtype', 'float16', 'bfloat16')]:
    c = load_config('ve/cifar10_ncsnpp_continuous.py')
    c.model[field] = bad
    with pytest.raises(ValueError, match=rf"model\.{field}.*{allowed}"):
      models.get_model(c)
  config.training.continuous = False
  with pytest.raises(ValueError, match='continuous'):
    models.get_model(config)
