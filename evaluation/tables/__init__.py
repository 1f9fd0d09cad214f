"""The paper-table reproduction: Song et al. 2021's CIFAR-10 tables and our runs beside them.

- `evaluation.tables.paper_tables`: the rows of Tables 1, 2 and 3 as the paper
  prints them, with the config and sampler overrides of ours that target each.
- `evaluation.tables.reproduce`: `python -m evaluation.tables.reproduce --table 2
  --workdirs runs/*` matches finished runs (their `config.json` and
  `eval/metrics.json`) to the rows and prints ours beside the paper's.

It reads the files the eval run writes and imports none of its modules (nor any
network), so it runs on any machine that has the workdirs.
"""
