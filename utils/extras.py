"""The optional extras (requirements-extras.txt): importing one, or saying exactly what to install.

None of them is needed to train, sample, compute likelihoods or evaluate. The
versions here are the ones requirements-extras.txt pins; this module is the one
place entry points ask for an extra, so every "missing" message names the same
install command.
"""
import importlib

# module -> (pip requirement, what it is needed for)
EXTRAS = {
    'torch': ('torch==2.13.0', 'reading PyTorch weight files'),
    'torchvision': ('torchvision==0.28.0', "pytorch-fid's Inception network"),
    'pytorch_fid': ('pytorch-fid==0.3.0', "pytorch-fid's Inception network"),
    'tensorflow': ('tensorflow-cpu==2.21.0', 'preparing TFDS datasets'),
}


def install_hint(module):
  requirement, _ = EXTRAS[module]
  return (f"pip install {requirement} (or all optional extras: pip install -r "
          "requirements-extras.txt; for a CPU-only torch add --index-url "
          "https://download.pytorch.org/whl/cpu)" if module in ('torch', 'torchvision') else
          f"pip install {requirement} (or all optional extras: pip install -r "
          "requirements-extras.txt)")


def require(module, purpose=None):
  """Imports the optional `module`, or raises ImportError saying what needs it and how to install it."""
  if module not in EXTRAS:
    raise ValueError(f"module={module!r} is not an optional extra; allowed: {', '.join(EXTRAS)}")
  try:
    return importlib.import_module(module)
  except ImportError as err:
    purpose = purpose or EXTRAS[module][1]
    raise ImportError(f"{purpose} needs the optional package {module!r}, which is not "
                      f"installed: {install_hint(module)}") from err
