"""The config schema (utils/config_checks.py) is the one home of every choice's allowed values.

Checks that (1) the schema imports nothing of the project (it sits below what it
validates), (2) every registry that implements a choice registers exactly the
schema's names and the modules' public tuples are the schema's own objects,
(3) validation and the implementers' error messages list the same tuple, and
(4) the shared scalar checks (utils/checks.py) refuse bools as numbers.
"""
import subprocess
import sys

import numpy as np
import pytest

from utils import checks, config_checks

PROJECT_PACKAGES = ('configs', 'data', 'evaluation', 'experiment', 'likelihood', 'models',
                    'samplers', 'sde_lib', 'training', 'main')


def test_schema_imports_nothing_of_the_project():
  """Importing utils.config_checks in a fresh interpreter loads no project module but utils."""
  code = ("import sys; from utils import config_checks; "
          "print(sorted({m.split('.')[0] for m in sys.modules}))")
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                       cwd=str(__import__('pathlib').Path(__file__).resolve().parents[1]))
  loaded = set(eval(out.stdout))  # pylint: disable=eval-used
  assert not loaded & set(PROJECT_PACKAGES), loaded & set(PROJECT_PACKAGES)


def _registries():
  import data
  import likelihood.divergence
  import models.classifier
  import models.config_utils
  import models.layers
  import models.refinenet
  import models.registry
  import samplers
  import sde_lib
  from data import toy
  from utils import ode_solvers
  return [
      ('model.name', tuple(models.registry._MODELS)),  # pylint: disable=protected-access
      ('training.sde', sde_lib.SDE_NAMES),
      ('sampling.method', samplers.METHODS),
      ('sampling.predictor', tuple(samplers.PREDICTORS)),
      ('sampling.corrector', tuple(samplers.CORRECTORS)),
      ('sampling.ode_solver', tuple(ode_solvers.SOLVERS)),
      ('sampling.ode_solver', tuple(samplers.SOLVERS)),
      ('sampling.order', samplers.DPM_ORDERS),
      ('sampling.dpm_method', samplers.DPM_METHODS),
      ('sampling.dpm_predict', samplers.PREDICTIONS),
      ('sampling.schedule', samplers.SCHEDULES),
      ('data.dataset', tuple(toy.TOY_DATASETS) + tuple(data.IMAGE_DATASETS)),
      ('classifier.name', models.classifier.CLASSIFIER_NAMES),
      ('eval.likelihood_estimator', likelihood.divergence.ESTIMATORS),
      ('model.nonlinearity', tuple(models.layers.ACTIVATIONS)),
      ('model.dtype', tuple(models.config_utils.DTYPES)),
      ('model.interpolation', tuple(models.refinenet.INTERPOLATIONS)),
  ]


@pytest.mark.parametrize('field,names', _registries(), ids=lambda v: v if isinstance(v, str) else '')
def test_registry_names_equal_schema_names(field, names):
  """Each implementation registers exactly the names the schema allows for its field."""
  assert sorted(map(str, names)) == sorted(map(str, config_checks.CHOICES[field]))


def test_public_tuples_are_the_schema_objects():
  """The modules' public tuples are the schema's objects, not copies that could drift."""
  import data
  import models
  import models.ncsnpp
  import samplers
  import sde_lib
  from data import toy
  assert samplers.METHODS is config_checks.SAMPLING_METHODS
  assert samplers.DPM_ORDERS is config_checks.DPM_ORDERS
  assert samplers.DPM_METHODS is config_checks.DPM_METHODS
  assert samplers.PREDICTIONS is config_checks.DPM_PREDICTIONS
  assert samplers.SCHEDULES is config_checks.NOISE_SCHEDULES
  assert sde_lib.SDE_NAMES is config_checks.SDE_NAMES
  assert data.IMAGE_DATASETS is config_checks.IMAGE_DATASETS
  assert toy.TOY_DATASETS is config_checks.TOY_DATASETS
  assert models.model_names() == config_checks.MODEL_NAMES
  for name in ('RESBLOCK_TYPES', 'PROGRESSIVE', 'PROGRESSIVE_INPUT', 'PROGRESSIVE_COMBINE',
               'EMBEDDING_TYPES'):
    assert getattr(models.ncsnpp, name) is getattr(config_checks, name)


def test_registering_a_name_outside_the_schema_fails():
  """check_registered refuses a registry that holds a name the schema lacks."""
  config_checks.check_registered('predictors', {'none': 1}, config_checks.PREDICTORS)
  with pytest.raises(AssertionError, match=r"predictors \['leapfrog'\] registered"):
    config_checks.check_registered('predictors', {'leapfrog': 1}, config_checks.PREDICTORS)


def _toy_config():
  from configs.toy import gmm_vp
  return gmm_vp.get_config()


@pytest.mark.parametrize('field', sorted(config_checks.CHOICES))
def test_every_choice_is_validated_with_its_allowed_values(field):
  """Setting any choice field to a value outside its tuple is a ConfigError that names the
  field, the value and every allowed value, in the schema's order."""
  config = _toy_config()
  section, name = field.split('.')
  if section not in config:
    config[section] = {}
  bad = 'not-a-choice' if isinstance(config_checks.CHOICES[field][0], str) else 7
  with config.unlocked():
    config[section][name] = bad
  with pytest.raises(config_checks.ConfigError) as err:
    config_checks.validate(config)
  allowed = ', '.join(map(str, config_checks.CHOICES[field]))
  assert str(err.value) == f"config.{field}={bad!r} is not allowed; allowed: {allowed}"


def test_a_bool_is_not_an_integer_choice():
  """sampling.order=True is refused although True == 1 in Python."""
  config = _toy_config()
  with config.unlocked():
    config.sampling.order = True
  with pytest.raises(config_checks.ConfigError, match='config.sampling.order=True'):
    config_checks.validate(config)


def test_implementers_error_messages_list_the_schema_tuple():
  """The code behind a choice fails with the schema's wording and tuple too."""
  import ml_collections
  import models
  import samplers
  import sde_lib
  config = _toy_config()
  config.model.name = 'unet'
  with pytest.raises(ValueError) as err:
    models.get_model(config)
  assert str(err.value) == config_checks.not_allowed(
      'config.model.name', 'unet', config_checks.MODEL_NAMES, 'is not a model')
  config = _toy_config()
  config.training.sde = 'cld'
  with pytest.raises(ValueError, match="allowed: vpsde, subvpsde, vesde$"):
    sde_lib.get_sde(config)
  config = _toy_config()
  config.sampling.method = 'leapfrog'
  with pytest.raises(ValueError, match='allowed: ' + ', '.join(config_checks.SAMPLING_METHODS)):
    samplers.get_sampler(config, sde_lib.get_sde(_toy_config()), None, (1, 2))
  del ml_collections


@pytest.mark.parametrize('require,value,message', [
    (checks.require_bool, 1, 'x=1 must be True or False'),
    (checks.require_bool, 'yes', "x='yes' must be True or False"),
    (checks.require_positive_int, True, 'x=True must be a positive integer'),
    (checks.require_positive_int, 0, 'x=0 must be a positive integer'),
    (checks.require_positive_int, 2.0, 'x=2.0 must be a positive integer'),
    (lambda n, v: checks.require_int(n, v, 0), -1, 'x=-1 must be an integer >= 0'),
    (lambda n, v: checks.require_int(n, v, 2, ' (why)'), 1, 'x=1 must be an integer >= 2 (why)'),
    (lambda n, v: checks.require_real(n, v, low_open=True), 0., 'x=0.0 must be a finite number > 0'),
    (checks.require_real, np.inf, 'x=inf must be a finite number >= 0'),
    (checks.require_real, False, 'x=False must be a finite number >= 0'),
    (lambda n, v: checks.require_real(n, v, 0., 1.), 1.5, 'x=1.5 must be a finite number in [0.0, 1.0]'),
])
def test_scalar_checks_refuse_with_name_value_and_allowed(require, value, message):
  """Each shared check refuses a bad value (bools included) with `name=value must be ...`."""
  with pytest.raises(ValueError) as err:
    require('x', value)
  assert str(err.value) == message


def test_scalar_checks_accept_and_convert():
  """Good values come back converted: numpy ints to int, numpy bools to bool, ints to float."""
  assert checks.require_bool('x', np.bool_(True)) is True
  assert type(checks.require_positive_int('x', np.int64(3))) is int
  assert checks.require_real('x', 2) == 2.0
  assert checks.require_real('x', np.inf, allow_inf=True) == np.inf
  assert checks.require_int_sequence('x', [1, np.int32(2)]) == (1, 2)


# Modules allowed to test for bool by hand: the checks' home, and the paper-table runner,
# which formats a flag value (True -> 'True') rather than checking one.
BOOL_TEST_HOMES = ('utils/checks.py', 'evaluation/tables/reproduce.py')


def test_no_hand_written_bool_checks_outside_utils_checks():
  """`isinstance(..., bool)` appears in no project code outside BOOL_TEST_HOMES: argument
  checks go through utils/checks.py (comments and strings aside)."""
  import glob
  import os
  import re
  import tokenize
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  pattern = re.compile(r'isinstance \([^)]*\bbool\b')
  offenders = []
  for top in PROJECT_PACKAGES + ('utils', 'benchmarks'):
    paths = glob.glob(os.path.join(root, top, '**', '*.py'), recursive=True)
    for path in paths + glob.glob(os.path.join(root, top + '.py')):
      rel = os.path.relpath(path, root)
      if rel in BOOL_TEST_HOMES:
        continue
      lines = {}
      with open(path, encoding='utf-8') as f:
        for tok in tokenize.generate_tokens(f.readline):
          if tok.type not in (tokenize.STRING, tokenize.COMMENT):
            lines.setdefault(tok.start[0], []).append(tok.string)
      offenders += [f'{rel}:{n}' for n, parts in lines.items() if pattern.search(' '.join(parts))]
  assert not offenders, offenders
