"""Every config field is read by the project, and every config names its own workdir.

Reads are found statically, token by token (comments and docstrings do not
count): a field `section.key` is read when some project .py file outside
`configs/`, `tests/` and the validation module (which names every field
without using it) has the attribute `.key` in a load (not the target of `=`),
or the string 'key' in a subscript `[...]`, before `in`, or as the argument
of `.get(` / `getattr(` / `hasattr(` / `config_utils.choice(`. Only the last key is matched, so the
check proves that the name is used somewhere, not by whom; a field whose key
nothing in the project spells is certainly unread.

Workdirs: the `--workdir` of the commands in each config's docstring is that
config's alone (two configs sharing one would resume each other's
checkpoints), and for the paper configs (configs/{ve,vp,subvp}) it is the one
`configs.workdir_for` derives, which the reproduction runner also prints.
"""
import ast
import importlib
import io
import os
import pathlib
import re
import tokenize

import ml_collections
import pytest

import configs

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Not readers: the configs themselves, the tests, and the validation module, which names every
# field it checks without using it.
NOT_READERS = ('configs', 'tests', os.path.join('utils', 'config_checks.py'))
SKIPPED_DIRS = {'.venv', '.git', '__pycache__', 'runs', 'assets', 'node_modules'}
# Fields read only through a computed name: path -> the file that reads it (checked to exist and
# to spell the key). Empty today: add a field here only with the reading file.
COMPUTED_READS = {}
# Fields a change in progress is about to read: path -> the file that will read it. Once the
# reader lands, the test below fails until the entry goes, so the list cannot go stale.
PENDING_READS = {}
# A config that only adds sections (the classifier, controllable generation) to another's and
# works on that config's checkpoint: it shares that config's workdir on purpose.
COMPANIONS = {'configs/ve/cifar10_classifier.py': 'configs/ve/cifar10_ncsnpp_continuous.py'}

# Calls whose string argument names the field they read (`models.config_utils.choice(config,
# 'normalization', allowed)` reads config.model.normalization).
_READ_CALLS = {'get', 'getattr', 'hasattr', 'choice'}


def config_files():
  """Every config file (a module under configs/ with `get_config`), as paths from the root."""
  found = []
  for path in sorted((ROOT / 'configs').rglob('*.py')):
    if 'def get_config(' in path.read_text():
      found.append(path.relative_to(ROOT).as_posix())
  return found


def load_module(rel):
  return importlib.import_module(rel[:-3].replace('/', '.'))


def leaf_paths(config, prefix=''):
  """'section.key' for every non-dict field of a ConfigDict."""
  paths = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      paths += leaf_paths(value, f'{prefix}{key}.')
    else:
      paths.append(prefix + key)
  return paths


def _enclosing_call(tokens, i):
  """The name called by the parenthesis that encloses token i, or None."""
  depth = 0
  for j in range(i - 1, 0, -1):
    text = tokens[j].string
    if text in (')', ']', '}'):
      depth += 1
    elif text in ('(', '[', '{'):
      if depth == 0:
        return tokens[j - 1].string if text == '(' and tokens[j - 1].type == tokenize.NAME else None
      depth -= 1
  return None


def read_keys(source):
  """The keys a Python source reads as attributes or by literal string (module docstring)."""
  skip = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
  tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in skip]
  keys = set()
  for i, tok in enumerate(tokens):
    after = tokens[i + 1].string if i + 1 < len(tokens) else ''
    if tok.type == tokenize.NAME and i and tokens[i - 1].string == '.':
      if after != '=':                          # an assignment writes, it does not read
        keys.add(tok.string)
    elif tok.type == tokenize.STRING and i:
      try:
        key = ast.literal_eval(tok.string)
      except (ValueError, SyntaxError):         # f-strings
        continue
      if not isinstance(key, str):
        continue
      before = tokens[i - 1].string
      subscript = before == '[' and after == ']' and (
          i + 2 >= len(tokens) or tokens[i + 2].string != '=')
      membership = after == 'in' or (after == 'not' and tokens[i + 2].string == 'in')
      call = before in ('(', ',') and _enclosing_call(tokens, i) in _READ_CALLS
      if subscript or membership or call:
        keys.add(key)
  return keys


def project_reads(root=ROOT):
  """{key: [files that read it]} over the project's .py files that are not NOT_READERS."""
  reads = {}
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith('.'))
    for name in sorted(filenames):
      if not name.endswith('.py'):
        continue
      rel = os.path.relpath(os.path.join(dirpath, name), root)
      if any(rel == n or rel.startswith(n + os.sep) for n in NOT_READERS):
        continue
      with open(os.path.join(dirpath, name), encoding='utf-8') as f:
        for key in read_keys(f.read()):
          reads.setdefault(key, []).append(rel)
  return reads


def unread_fields(config, reads):
  """The leaf paths of `config` whose last key no project file reads."""
  return sorted(p for p in leaf_paths(config)
                if p.rsplit('.', 1)[-1] not in reads and p not in COMPUTED_READS
                and p not in PENDING_READS)


@pytest.fixture(scope='module')
def reads():
  return project_reads()


def test_every_config_field_is_read(reads):
  """No config carries a field that nothing in the project reads."""
  unread = {}
  for rel in config_files():
    for path in unread_fields(load_module(rel).get_config(), reads):
      unread.setdefault(path, []).append(rel)
  assert not unread, 'fields nothing reads (remove them from the configs, or read them):\n' + (
      '\n'.join(f'  {path}: {", ".join(files)}' for path, files in sorted(unread.items())))


def test_allow_lists_are_current(reads):
  """Each computed-name read names a file that spells the key; each pending field is still
  unread (once its reader lands, the entry must go)."""
  for path, reader in COMPUTED_READS.items():
    assert path.rsplit('.', 1)[-1] in (ROOT / reader).read_text(), (path, reader)
  for path, reader in PENDING_READS.items():
    key = path.rsplit('.', 1)[-1]
    assert key not in reads, (f'{path} is now read by {reads.get(key)}: remove it from '
                              'PENDING_READS in tests/test_config_fields.py')


def test_the_check_finds_an_unread_field(reads):
  """Not vacuous: a field added to a copy of a real config is reported, the real ones are not,
  and a key named only in a comment, a docstring or an assignment does not count as a read."""
  config = load_module('configs/digits/ddpmpp_vp.py').get_config()
  assert unread_fields(config, reads) == []
  config.training.zz_never_read = 1
  config.zz_section = ml_collections.ConfigDict({'zz_leaf': 2})
  assert unread_fields(config, reads) == ['training.zz_never_read', 'zz_section.zz_leaf']
  source = ('"""config.training.aa is read."""\n'
            '# config.bb\n'
            'config.cc = 1\n'
            'x["dd"] = 2\n'
            's = "ee"\n'
            'y = cfg.ff + cfg["gg"] + cfg.get("hh") + getattr(cfg, "ii") + ("jj" in cfg)\n')
  assert read_keys(source) == {'ff', 'gg', 'get', 'hh', 'ii'} | {'jj'}


_WORKDIR = re.compile(r'--config (\S+) --workdir (\S+)')


def docstring_workdirs(rel):
  """{workdir} of the docstring's `main.py` commands for this config (fails on none, or on
  a command for another config)."""
  pairs = _WORKDIR.findall(load_module(rel).__doc__ or '')
  assert pairs, f'{rel}: no "python main.py --config {rel} --workdir ..." in its docstring'
  assert {c for c, _ in pairs} == {rel}, f'{rel}: its docstring runs {sorted({c for c, _ in pairs})}'
  return {w for _, w in pairs}


def test_each_config_has_its_own_workdir():
  """No two configs' docstrings send `main.py` to the same workdir (but a companion config
  shares the workdir of the config it extends, whose fields it keeps unchanged)."""
  owners = {}
  for rel in config_files():
    for workdir in docstring_workdirs(rel):
      owners.setdefault(workdir, []).append(rel)
  shared = {w: rels for w, rels in owners.items() if len(rels) > 1
            and not (len(rels) == 2 and COMPANIONS.get(rels[0]) == rels[1]
                     or len(rels) == 2 and COMPANIONS.get(rels[1]) == rels[0])}
  assert not shared, f'workdirs given by more than one config: {shared}'


def test_paper_configs_use_the_derived_workdir():
  """configs/{ve,vp,subvp}: the docstring's workdir is `configs.workdir_for(path)` (the one the
  reproduction runner prints), a companion's that of the config it extends."""
  wrong = {}
  for rel in config_files():
    if rel.split('/')[1] in ('ve', 'vp', 'subvp'):
      expected = {configs.workdir_for(COMPANIONS.get(rel, rel))}
      if docstring_workdirs(rel) != expected:
        wrong[rel] = (sorted(docstring_workdirs(rel)), expected.pop())
  assert not wrong, f'docstring workdir, derived workdir: {wrong}'


def test_workdir_for():
  """The derived workdir: 'runs/' + the path below configs/ with '/' -> '_', no extension."""
  assert configs.workdir_for('configs/subvp/cifar10_ddpmpp_deep_continuous.py') == (
      'runs/subvp_cifar10_ddpmpp_deep_continuous')
  assert configs.workdir_for('configs/ve/ncsn/cifar10_5.py') == 'runs/ve_ncsn_cifar10_5'


@pytest.mark.parametrize('companion', sorted(COMPANIONS))
def test_companion_keeps_the_fields_of_its_base(companion):
  """A companion config equals the config it extends but for the sections it adds: the same
  checkpoint serves both."""
  added = load_module(companion).get_config().to_dict()
  base = load_module(COMPANIONS[companion]).get_config().to_dict()
  assert set(base) < set(added)
  assert {k: added[k] for k in base} == base
