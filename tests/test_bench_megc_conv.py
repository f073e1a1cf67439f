"""The MEGC convolution benchmark's tiny setting runs and times every path it names."""

from experiments.bench import megc_conv


def test_quick_bench_times_each_path(capsys):
  results = megc_conv.main(['--quick'])  # STSTNet, 2 folds of 4 clips, 2 paths
  out = capsys.readouterr().out
  assert set(results) == {'STSTNet'}
  paths = results['STSTNet']
  assert set(paths) == {('vmap', 'patch'), ('map', 'native')}
  for compile_s, times in paths.values():
    assert compile_s is not None and compile_s >= 0 and len(times) == 1 and times[0] > 0
  assert '| STSTNet (map+native) |' in out and 'load average' in out
