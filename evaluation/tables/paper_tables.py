"""The CIFAR-10 numbers of Tables 1, 2 and 3 of Song et al. 2021 (arXiv 2011.13456), and our runs for them.

Each `Row` holds one line of a table as the paper prints it: its name, its
figures (`Figure(value, std)`; FID, IS, NLL in bits/dim on the CIFAR-10 test
set), the config file of ours that trains the model, the config overrides
that set the row's sampler, and which checkpoint the paper reports (Table 3:
the checkpoint with the smallest FID over training; Table 2: the last one).
`evaluation.tables.reproduce` reads these rows and matches runs to them.

Where the numbers come from: the paper's text (ICLR 2021 camera-ready =
arXiv v2), read in the ar5iv rendering of arXiv 2011.13456:
- Table 1 ("Comparing different reverse-time SDE solvers on CIFAR-10", mean
  and std over five sampling runs; P2000 with linear noise-scale
  interpolation). The C2000 column is one merged cell per SDE (the corrector
  alone does not depend on the predictor): 20.43 (VE) and 19.06 (VP).
- Table 5 (Appendix G): the signal-to-noise ratios r of those samplers, used
  as our `sampling.snr` overrides.
- Appendix G, "Training": Table 1's models use the DDPM architecture of Ho et
  al. trained with the original discrete SMLD (VE) and DDPM (VP) objectives,
  1000 noise scales; so they are `configs/ve/cifar10_ddpm.py` and
  `configs/vp/ddpm/cifar10.py` here. Two steps per noise scale for C2000.
- Table 2 ("NLLs and FIDs (ODE) on CIFAR-10"): RK45, atol = rtol = 1e-5,
  last checkpoint (Section 4.4, Appendix D.2/D.4).
- Table 3 ("CIFAR-10 sample quality"): PC samplers, best checkpoint
  (Section 4.4); Euler-Maruyama predictor for the continuously trained VP and
  sub-VP models (Appendix H.2).
Rows of other work (RealNVP, BigGAN, ...) are kept with `config=None` so the
printed tables read like the paper's; the DDPM, NCSN and NCSNv2 rows of
Table 3 quote those papers' numbers, which our configs re-train.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

METRICS = ('fid', 'is', 'bpd')
METRIC_NAMES = {'fid': 'FID', 'is': 'IS', 'bpd': 'NLL'}
# Metrics that depend on the sampler (a run's record must match the row's
# sampler); bits/dim comes from the probability-flow ODE whatever it is.
SAMPLER_METRICS = ('fid', 'is')
SOURCE = 'arXiv 2011.13456 (Song et al., ICLR 2021)'


@dataclasses.dataclass(frozen=True)
class Figure:
  """A number the paper prints; `std` when it prints one; `bound` for '<= value' (an ELBO)."""
  value: float
  std: Optional[float] = None
  bound: bool = False

  def __str__(self):
    text = f"{'<=' if self.bound else ''}{self.value:.2f}"
    return text + (f" +- {self.std:.2f}" if self.std is not None else '')


@dataclasses.dataclass(frozen=True)
class Row:
  """One row of a paper table.

  Attributes:
    table: 1, 2 or 3.
    name: the row as the paper names it ('NCSN++ cont. (deep, VE)'); Table 1
      rows are 'SDE, predictor, sampler' ('VE (SMLD), reverse diffusion, PC1000').
    paper: {'fid' | 'is' | 'bpd': Figure}.
    config: our config file (relative to the repository root) that trains the
      model, or None for other work.
    overrides: (('sampling.predictor', 'reverse_diffusion'), ...) on top of
      the config: the row's sampler.
    checkpoint: 'best' (smallest FID over training) or 'last'.
    reproducible: False when our code cannot run the row's protocol (`note` says why).
    note: what a reader should know about the row.
    source: where in the paper the numbers are.
  """
  table: int
  name: str
  paper: dict
  config: Optional[str] = None
  overrides: tuple = ()
  checkpoint: str = 'last'
  reproducible: bool = True
  note: str = ''
  source: str = ''

  @property
  def ours(self) -> bool:
    """Whether the row is a model of this paper that a config of ours trains."""
    return self.config is not None


def _f(value, std=None, bound=False):
  return Figure(value, std, bound)


# ------------------------------------------------------------------- Table 1

_T1_CONFIGS = {'VE (SMLD)': 'configs/ve/cifar10_ddpm.py', 'VP (DDPM)': 'configs/vp/ddpm/cifar10.py'}
_T1_PREDICTORS = {  # paper name -> (predictor, probability_flow)
    'ancestral sampling': ('ancestral_sampling', False),
    'reverse diffusion': ('reverse_diffusion', False),
    # Appendix D.3: x_i = x_{i+1} - f_{i+1} + G G^T s / 2, the reverse-diffusion
    # discretisation of the probability-flow ODE.
    'probability flow': ('reverse_diffusion', True),
}
# (SDE, predictor) -> (P1000, P2000, PC1000, PC1000 snr): Table 1 and Table 5.
_T1_FIDS = {
    ('VE (SMLD)', 'ancestral sampling'): (_f(4.98, .06), _f(4.88, .06), _f(3.62, .03), 0.17),
    ('VE (SMLD)', 'reverse diffusion'): (_f(4.79, .07), _f(4.74, .08), _f(3.60, .02), 0.16),
    ('VE (SMLD)', 'probability flow'): (_f(15.41, .15), _f(10.54, .08), _f(3.51, .04), 0.17),
    ('VP (DDPM)', 'ancestral sampling'): (_f(3.24, .02), _f(3.24, .02), _f(3.21, .02), 0.01),
    ('VP (DDPM)', 'reverse diffusion'): (_f(3.21, .02), _f(3.19, .02), _f(3.18, .01), 0.01),
    ('VP (DDPM)', 'probability flow'): (_f(3.59, .04), _f(3.23, .03), _f(3.06, .03), 0.04),
}
# SDE -> (C2000 FID, its snr): Table 1's merged C2000 cell, Table 5.
_T1_C2000 = {'VE (SMLD)': (_f(20.43, .07), 0.22), 'VP (DDPM)': (_f(19.06, .06), 0.27)}
_P2000_NOTE = ("P2000 runs a model trained on 1000 noise scales on 2000 steps with the paper's "
               "ad-hoc linear interpolation of the time index (s'(x, i) = s(x, i / 2); VP also "
               "halves beta_min and beta_max; Appendix G). This codebase does not implement that "
               "interpolation, so the row has no command.")
_T1_NOTE = "The paper does not say which checkpoint; we report the last one evaluated."


def _table1():
  rows = []
  for sde, config in _T1_CONFIGS.items():
    for pname, (predictor, pflow) in _T1_PREDICTORS.items():
      p1000, p2000, pc1000, snr = _T1_FIDS[(sde, pname)]
      base = (('sampling.method', 'pc'), ('sampling.predictor', predictor),
              ('sampling.probability_flow', pflow))
      rows.append(Row(1, f'{sde}, {pname}, P1000', {'fid': p1000}, config,
                      base + (('sampling.corrector', 'none'),), note=_T1_NOTE,
                      source='Table 1'))
      rows.append(Row(1, f'{sde}, {pname}, P2000', {'fid': p2000}, config,
                      base + (('sampling.corrector', 'none'), ('model.num_scales', 2000)),
                      reproducible=False, note=_P2000_NOTE, source='Table 1'))
      rows.append(Row(1, f'{sde}, {pname}, PC1000', {'fid': pc1000}, config,
                      base + (('sampling.corrector', 'langevin'), ('sampling.snr', snr),
                              ('sampling.n_steps_each', 1)),
                      note=_T1_NOTE, source='Table 1; snr from Table 5'))
    fid, snr = _T1_C2000[sde]
    rows.append(Row(1, f'{sde}, corrector only, C2000', {'fid': fid}, config,
                    (('sampling.method', 'pc'), ('sampling.predictor', 'none'),
                     ('sampling.corrector', 'langevin'), ('sampling.snr', snr),
                     ('sampling.n_steps_each', 2)),
                    note='Two Langevin steps per noise scale (Appendix G). ' + _T1_NOTE,
                    source='Table 1 (merged C2000 cell); snr from Table 5'))
  return tuple(rows)


# ------------------------------------------------------- Tables 2 and 3: our models

_ODE = (('sampling.method', 'ode'),)
_OTHER = 'Other work, quoted by the paper.'
_QUOTED = 'The paper quotes the original paper; our config re-trains the model.'
# Each model of ours in Tables 2 and 3, in the order both tables print them:
# name -> (the config that trains it, Table 2's (NLL, FID) or None,
# Table 3's (FID, IS, IS std) or None, Table 3's note).
_OURS = {
    'NCSN': ('configs/ve/ncsn/cifar10.py', None, (25.32, 8.87, .12), _QUOTED),
    'NCSNv2': ('configs/ve/ncsnv2/cifar10.py', None, (10.87, 8.40, .07), _QUOTED),
    'DDPM': ('configs/vp/ddpm/cifar10.py', (3.28, 3.37), (3.17, 9.46, .11), _QUOTED),
    'DDPM cont. (VP)': ('configs/vp/ddpm/cifar10_continuous.py', (3.21, 3.69), None, ''),
    'DDPM cont. (sub-VP)': ('configs/subvp/cifar10_ddpm_continuous.py', (3.05, 3.56), None, ''),
    'DDPM++': ('configs/vp/cifar10_ddpmpp.py', None, (2.78, 9.64, None), ''),
    'DDPM++ cont. (VP)': ('configs/vp/cifar10_ddpmpp_continuous.py', (3.16, 3.93),
                          (2.55, 9.58, None), ''),
    'DDPM++ cont. (sub-VP)': ('configs/subvp/cifar10_ddpmpp_continuous.py', (3.02, 3.16),
                              (2.61, 9.56, None), ''),
    'DDPM++ cont. (deep, VP)': ('configs/vp/cifar10_ddpmpp_deep_continuous.py', (3.13, 3.08),
                                (2.41, 9.68, None), ''),
    'DDPM++ cont. (deep, sub-VP)': ('configs/subvp/cifar10_ddpmpp_deep_continuous.py',
                                    (2.99, 2.92), (2.41, 9.57, None), ''),
    'NCSN++': ('configs/ve/cifar10_ncsnpp.py', None, (2.45, 9.73, None), ''),
    'NCSN++ cont. (VE)': ('configs/ve/cifar10_ncsnpp_continuous.py', None, (2.38, 9.83, None), ''),
    'NCSN++ cont. (deep, VE)': ('configs/ve/cifar10_ncsnpp_deep_continuous.py', None,
                                (2.20, 9.89, None), ''),
}
_T2_NOTES = {'DDPM': "The paper evaluates Ho et al.'s released DDPM checkpoint; ours re-trains it."}


def _table2():
  def other(name, bpd, fid=None, bound=False, note=_OTHER):
    paper = {'bpd': _f(bpd, bound=bound)}
    if fid is not None:
      paper['fid'] = _f(fid)
    return Row(2, name, paper, note=note, source='Table 2')

  elbo = 'Other work (Ho et al.): an ELBO on discrete data, quoted by the paper.'
  return (
      other('RealNVP', 3.49), other('iResNet', 3.45), other('Glow', 3.35),
      other('MintNet', 3.32), other('Residual Flow', 3.28, 46.37), other('FFJORD', 3.40),
      other('Flow++', 3.29),
      other('DDPM (L)', 3.70, 13.51, bound=True, note=elbo),
      other('DDPM (L_simple)', 3.75, 3.17, bound=True, note=elbo),
  ) + tuple(Row(2, name, {'bpd': _f(t2[0]), 'fid': _f(t2[1])}, config, _ODE, 'last',
                note=_T2_NOTES.get(name, ''), source='Table 2')
            for name, (config, t2, _, _) in _OURS.items() if t2 is not None)


def _table3():
  def other(name, fid, is_):
    return Row(3, name, {'fid': _f(fid), 'is': _f(is_)}, note=_OTHER, source='Table 3')

  return (
      other('Conditional BigGAN', 14.73, 9.22),
      other('Conditional StyleGAN2-ADA', 2.42, 10.14),
      other('Unconditional StyleGAN2-ADA', 2.92, 9.83),
  ) + tuple(Row(3, name, {'fid': _f(t3[0]), 'is': _f(t3[1], t3[2])}, config, (), 'best',
                note=note, source='Table 3')
            for name, (config, _, t3, note) in _OURS.items() if t3 is not None)


TITLES = {
    1: 'Table 1: CIFAR-10 FID of reverse-time SDE solvers (DDPM architecture, discrete objectives)',
    2: 'Table 2: CIFAR-10 test NLL (bits/dim) and FID of the probability-flow ODE sampler, '
       'last checkpoint',
    3: 'Table 3: CIFAR-10 sample quality (FID, IS) with PC samplers, best checkpoint',
}
TABLES = {1: _table1(), 2: _table2(), 3: _table3()}


def get_table(number: int):
  """The rows of Table `number` (1, 2 or 3), in the paper's order."""
  if number not in TABLES:
    raise ValueError(f"table={number!r} is not a table of the paper we reproduce; allowed: "
                     f"{', '.join(map(str, TABLES))}")
  return TABLES[number]
