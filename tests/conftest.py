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
