"""Optional extras: a missing one is named with the exact install command; none is needed by the core."""
import os
import subprocess
import sys

import pytest

from utils import extras


def test_missing_extra_names_the_install_command(monkeypatch):
  """require() on an absent module raises ImportError naming the purpose, the pinned
  requirement and requirements-extras.txt."""
  monkeypatch.setitem(sys.modules, 'torch', None)   # makes `import torch` fail
  with pytest.raises(ImportError) as err:
    extras.require('torch', 'converting the FID Inception weights')
  msg = str(err.value)
  assert 'converting the FID Inception weights' in msg
  assert 'pip install torch==2.13.0' in msg and 'requirements-extras.txt' in msg


def test_unknown_extra_is_a_value_error():
  with pytest.raises(ValueError, match="allowed: torch"):
    extras.require('not_an_extra')


def test_extras_match_requirements_file():
  """The pins named in messages are the ones requirements-extras.txt installs."""
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      'requirements-extras.txt')
  lines = {l.strip() for l in open(path) if l.strip() and not l.startswith('#')}
  assert {req for req, _ in extras.EXTRAS.values()} == lines


def test_core_entry_points_import_without_torch_or_tensorflow():
  """Training, sampling, likelihood and evaluation import with torch and TensorFlow blocked."""
  code = (
      "import sys\n"
      "class Block:\n"
      "  def find_spec(self, name, path=None, target=None):\n"
      "    if name.split('.')[0] in ('torch', 'torchvision', 'pytorch_fid', 'tensorflow'):\n"
      "      raise ModuleNotFoundError(name)\n"
      "sys.meta_path.insert(0, Block())\n"
      "import main, sde_lib, models, samplers, likelihood, data\n"
      "from training import loop\n"
      "from evaluation import runs, inception, metrics\n"
      "import models.pretrained\n")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  proc = subprocess.run([sys.executable, '-c', code], cwd=root, capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
