"""Session settings for the test suite.

The tests are bound by XLA compile time, not run time (tiny models, many
distinct programs), so XLA's LLVM backend runs at -O0 here: it compiles about
a third faster, and every test compares against references with tolerances
that do not depend on the optimisation level. Benchmarks and experiments run
with XLA's defaults. Set BODYSIGNALS_TEST_XLA_OPT=1 to test at the defaults.
"""

import os

if os.environ.get('BODYSIGNALS_TEST_XLA_OPT') != '1':
  flags = os.environ.get('XLA_FLAGS', '')
  if '--xla_backend_optimization_level' not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} --xla_backend_optimization_level=0'.strip()
