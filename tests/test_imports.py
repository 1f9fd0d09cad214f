"""The project's imports point one way (architecture.md): no module takes part in an import
cycle, `training` and `evaluation` never import each other, and each package imports only
the layers below it. Imports are read from the source (module level and inside functions
alike), so a lazy import cannot hide a dependency."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {'tests', '.venv', '__pycache__', '.git', 'runs'}

# What each top-level package may import besides itself (the layers of architecture.md).
# configs are data: they import only configs.
LAYERS = {
    'utils': set(),
    'configs': set(),
    'sde_lib': {'utils'},          # the allowed SDE names live in the config schema
    'data': {'utils'},
    'models': {'sde_lib', 'utils'},
    'samplers': {'sde_lib', 'models', 'utils'},
    'likelihood': {'sde_lib', 'models', 'samplers', 'utils'},
    'experiment': {'sde_lib', 'models', 'data', 'utils'},
    'training': {'experiment', 'sde_lib', 'models', 'samplers', 'likelihood', 'data', 'utils'},
    'evaluation': {'experiment', 'sde_lib', 'models', 'samplers', 'likelihood', 'data', 'utils',
                   'configs'},   # the paper-table runner reads the paper configs
}
# Entry points at the top may import anything of the project.
TOP = {'main', 'benchmarks'}
# (importing module, imported package, why): the documented exceptions.
EXCEPTIONS = {
    ('models.pretrained', 'experiment',
     "convert() writes a released network as a run's checkpoint (python -m models.pretrained)"),
}


def project_modules():
  """{module name: path} of every Python module of the project (tests excluded)."""
  out = {}
  for root, dirs, files in os.walk(ROOT):
    dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith('.'))
    for name in files:
      if not name.endswith('.py'):
        continue
      rel = os.path.relpath(os.path.join(root, name), ROOT)[:-3].split(os.sep)
      if rel[-1] == '__init__':
        rel = rel[:-1]
      out['.'.join(rel)] = os.path.join(root, name)
  return out


def imports_of(path, module, modules):
  """The project modules `module` (at `path`) imports, resolved to module names."""
  tree = ast.parse(open(path).read(), path)
  package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
  found = set()

  def add(name):
    # Importing a.b.c runs a and a.b too; a submodule importing its own parent is not a cycle.
    parts = name.split('.')
    for i in range(1, len(parts) + 1):
      target = '.'.join(parts[:i])
      if target in modules and not module.startswith(target + '.') and target != module:
        found.add(target)

  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        add(alias.name)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
        base = '.'.join(anchor + ([base] if base else []))
      add(base)
      for alias in node.names:
        if f'{base}.{alias.name}' in modules:
          add(f'{base}.{alias.name}')
  return found


@pytest.fixture(scope='module')
def graph():
  modules = project_modules()
  return {m: imports_of(p, m, modules) for m, p in modules.items()}


def _cycles(graph):
  """Strongly connected components of more than one module (Tarjan's algorithm)."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph.get(v, ())):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def test_the_walk_sees_the_project(graph):
  """The walk is not vacuous: it finds the packages and resolves known imports."""
  assert {'main', 'training.loop', 'evaluation.runs', 'experiment.core', 'sde_lib'} <= set(graph)
  assert 'experiment' in graph['training.loop'] and 'experiment.core' in graph['experiment']


def test_cycle_finder_finds_a_planted_cycle():
  """Tarjan's components on a small graph: a -> b -> c -> a is found, d -> a is not a cycle."""
  assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
  assert _cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle(graph):
  """No set of project modules imports itself round (module level or inside functions)."""
  assert _cycles(graph) == []


def test_training_and_evaluation_never_import_each_other(graph):
  """What both need lives in the experiment layer below them."""
  bad = [(m, t) for m, targets in graph.items() for t in targets
         if {m.split('.')[0], t.split('.')[0]} == {'training', 'evaluation'}]
  assert bad == []


def test_each_package_imports_only_the_layers_below(graph):
  """Every import goes from a package to one LAYERS allows (architecture.md's arrows)."""
  allowed_exceptions = {(m, t) for m, t, _ in EXCEPTIONS}
  bad = []
  for m, targets in graph.items():
    top = m.split('.')[0]
    if top in TOP:
      continue
    assert top in LAYERS, f'{m}: package {top} has no layer in LAYERS'
    for t in targets:
      dest = t.split('.')[0]
      if dest != top and dest not in LAYERS[top] and (m, dest) not in allowed_exceptions:
        bad.append(f'{m} -> {t}')
  assert bad == []
