"""Experiment configs: `get_config()` in each file; shared pieces in `blocks.py` and the
`default_*_configs.py` modules."""
import os


def workdir_for(config_path):
  """The workdir a paper config's docstring (and the reproduction runner) gives it:
  'runs/' + its path below configs/ with '/' -> '_', e.g. configs/vp/ddpm/cifar10.py ->
  runs/vp_ddpm_cifar10."""
  rel = os.path.splitext(os.fspath(config_path))[0].replace(os.sep, '/')
  return 'runs/' + rel.replace('configs/', '', 1).replace('/', '_')
