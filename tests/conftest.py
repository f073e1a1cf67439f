"""Session settings for the test suite.

The tests are bound by XLA compile time, not run time (tiny models, many
distinct programs), so:

* XLA's LLVM backend runs at -O0 here: it compiles about a third faster, and
  every test compares against references with tolerances that do not depend
  on the optimisation level. Benchmarks and experiments run with XLA's
  defaults. Set BODYSIGNALS_TEST_XLA_OPT=1 to test at the defaults.
* A persistent compilation cache, fresh for each run of the suite and shared
  by its xdist workers, lets a test reuse a program that another test (in any
  worker) already compiled, e.g. the same training program built from a new
  closure. Set BODYSIGNALS_TEST_JAX_CACHE=0 to turn it off, or to a folder to
  keep the cache between runs.
"""

import atexit
import os
import shutil
import tempfile

import pytest

if os.environ.get('BODYSIGNALS_TEST_XLA_OPT') != '1':
  flags = os.environ.get('XLA_FLAGS', '')
  if '--xla_backend_optimization_level' not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} --xla_backend_optimization_level=0'.strip()

_cache = os.environ.get('BODYSIGNALS_TEST_JAX_CACHE')
if _cache is None and 'PYTEST_XDIST_WORKER' not in os.environ:
  # The controller (or a single-process run) makes the folder; xdist workers
  # inherit the variable and share it.
  _cache = tempfile.mkdtemp(prefix='bodysignals-jax-cache-')
  os.environ['BODYSIGNALS_TEST_JAX_CACHE'] = _cache
  atexit.register(shutil.rmtree, _cache, True)
if _cache and _cache != '0':
  import jax

  jax.config.update('jax_compilation_cache_dir', _cache)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)


@pytest.fixture(scope='session')
def paper_features():
  """Six subjects x 5 recordings of every drill, preprocessed as in the paper ([2, 61])."""
  import jax
  import numpy as np

  from signals import synthetic_semg
  from signals.semg import transforms

  ds = synthetic_semg(jax.random.key(0), num_subjects=6, recordings_per_class=5)
  # The suite runs XLA at -O0 (tests/conftest.py), where SampEn over 210
  # recordings takes a minute; this one program is compiled at -O3 (0.2 s to
  # run). The chain is `signals.semg_features` with the paper's settings.
  kw = dict(size=128, hop=32, m=2, window=51, order=3, factor=4)
  fast = transforms._semg_features.lower(ds.x, 0.25, **kw).compile(
    compiler_options={'xla_backend_optimization_level': 3}
  )
  f = np.asarray(fast(ds.x, 0.25))
  assert f.shape == (len(ds), 2, 61)
  np.testing.assert_allclose(f[:3], transforms.semg_features(ds.x[:3]), rtol=1e-4, atol=1e-4)
  return f.reshape(len(ds), -1), ds.labels, ds.subjects


def _toy_semg_features(n_per_class=16, seed=0, noise=0.1):
  """Separable [n, 2, 61] features of the seven sEMG drills, labels 0..6 class-major.

  Class-dependent levels and smooth curves plus Gaussian noise of std
  `noise`: even a tiny embedding trained for two epochs scores far above
  chance. Returns (x float32, labels).
  """
  import numpy as np

  rng = np.random.default_rng(seed)
  labels = np.repeat(np.arange(7), n_per_class)
  t = np.linspace(0, 1, 61)
  x = (
    labels[:, None, None] * np.array([1.0, -0.5])[None, :, None]
    + np.sin(2 * np.pi * (labels[:, None, None] + 1) * t / 4)
    + noise * rng.normal(size=(len(labels), 2, 61))
  )
  return x.astype(np.float32), labels


@pytest.fixture(scope='session')
def toy_semg():
  """`toy_semg(n_per_class=16, seed=0, noise=0.1) -> (x [n, 2, 61], labels [n])`."""
  return _toy_semg_features


def _train_padded_and_alone(model, cfg, data, loss, example, **stage_kw):
  """A 24-example run padded to 40 slots (beside a 40-example run) and the same run alone.

  Both train `cfg.num_epochs` epochs with the single-run program on each
  shape, so that only the padding differs; `data` needs at least 40
  examples; `stage_kw` goes to `trainer.make_stage` (variables, batches_fn).
  Returns the final `TrainState`s (padded, alone) and the initial one.
  """
  import jax
  import jax.numpy as jnp

  from fewshot import trainer

  stage = trainer.make_stage(model, cfg, loss, **stage_kw)
  fs0 = stage.init(jnp.stack([jax.random.key(1)] * 2), *example)
  keys = jnp.stack([jax.random.key(2)] * 2)
  epochs = cfg.num_epochs
  padded = trainer.make_split([range(24), range(40)])
  assert padded.train_idx.shape == (2, 40) and int(padded.train_mask[0].sum()) == 24
  a, _ = trainer.fit_runs(stage.fit, fs0, keys, data, padded, num_epochs=epochs, runs_as='loop')
  one = lambda t: jax.tree.map(lambda v: v[:1], t)
  alone = trainer.make_split([range(24)])
  b, _ = trainer.fit_runs(
    stage.fit, one(fs0), keys[:1], data, alone, num_epochs=epochs, runs_as='loop'
  )
  first = lambda t: jax.tree.map(lambda v: v[0], t)
  return first(a.train), first(b.train), first(fs0.train)


@pytest.fixture(scope='session')
def padded_and_alone():
  """`padded_and_alone(model, cfg, data, loss, example, **stage_kw) -> (padded, alone, initial)`."""
  return _train_padded_and_alone
