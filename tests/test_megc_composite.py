"""The composite database against Table III (the 442-clip list), and UF1 / UAR over the C classes."""

import numpy as np
import pytest
from sklearn import metrics as skm

from evaluation import megc

# ------------------------------------------------------------ UF1 and UAR


def _naive_uf1_uar(t, p, num_classes):
  """Eq. 3-5 by hand: per class c of all C, F1_c and recall_c (0/0 := 0), then the plain means."""
  f1s, recalls = [], []
  for c in range(num_classes):
    tp = sum(1 for a, b in zip(t, p) if a == c and b == c)
    fp = sum(1 for a, b in zip(t, p) if a != c and b == c)
    fn = sum(1 for a, b in zip(t, p) if a == c and b != c)
    n_c = tp + fn
    f1s.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0)
    recalls.append(tp / n_c if n_c else 0.0)
  return sum(f1s) / num_classes, sum(recalls) / num_classes


@pytest.mark.parametrize('seed', range(6))
def test_uf1_and_uar_average_over_all_classes_like_a_loop_and_sklearn(seed):
  rng = np.random.default_rng(seed)
  n = int(rng.integers(4, 30))
  # Seeds 0-2 draw every class; 3-5 leave class 2 out of the truth (3: also
  # never predicted, 4-5: predicted), the case where the two means differ.
  t = rng.integers(0, 3 if seed < 3 else 2, n)
  p = rng.integers(0, 2 if seed == 3 else 3, n)
  res = megc.composite_scores([t[: n // 2], t[n // 2 :]], [p[: n // 2], p[n // 2 :]])
  uf1, uar = _naive_uf1_uar(t.tolist(), p.tolist(), 3)
  assert res['UF1'] == pytest.approx(uf1, abs=1e-6)
  assert res['UAR'] == pytest.approx(uar, abs=1e-6)
  kw = dict(labels=range(3), average='macro', zero_division=0)
  assert res['UF1'] == pytest.approx(skm.f1_score(t, p, **kw), abs=1e-6)
  assert res['UAR'] == pytest.approx(skm.recall_score(t, p, **kw), abs=1e-6)
  assert res['absent_classes'] == sorted(set(range(3)) - set(t.tolist()))
  cm = np.asarray(res['confusion'])
  assert float(megc.uar_over_classes(cm)) == pytest.approx(uar, abs=1e-6)
  if seed >= 3:  # an absent class counts 0 in both means: UAR is not balanced accuracy
    assert res['UAR'] == pytest.approx(2 / 3 * skm.balanced_accuracy_score(t, p), abs=1e-6)


def test_an_absent_class_contributes_zero_to_both_scores():
  # Negative and positive all right; no surprise clip and none predicted.
  res = megc.composite_scores([[0, 0, 1]], [[0, 0, 1]])
  assert res['UF1'] == pytest.approx(2 / 3) and res['UAR'] == pytest.approx(2 / 3)
  assert res['absent_classes'] == [2]
  by_db = megc.scores_by_database([0, 1, 2, 0], [0, 1, 2, 0], ['SMIC', 'SMIC', 'SMIC', 'SAMM'])
  assert by_db['SMIC']['UAR'] == 1.0 and by_db['SAMM']['UAR'] == pytest.approx(1 / 3)
  assert by_db['SAMM']['UF1'] == pytest.approx(1 / 3) and by_db['SAMM']['absent_classes'] == [1, 2]


# --------------------------------------------------- the 442-clip list


def test_clip_ids_follow_ststnet_list_names():
  assert megc.clip_id('CASME2', 'sub01', 'EP02_01f') == 'sub01_EP02_01f'
  assert megc.clip_id('SAMM', '006', '006_1_2') == '006_006_1_2'
  assert megc.clip_id('SMIC', 's1', 's1_ne_01') == 's01_s01_ne_01'
  assert megc.clip_id('SMIC', 's14', 's14_sur_05') == 's14_s14_sur_05'
  for name, db in (
    ('sub26_EP18_51', 'CASME II'),
    ('s03_s03_po_11', 'SMIC'),
    ('037_037_3_2', 'SAMM'),
  ):
    assert megc.listed_database(name) == db
  assert megc.listed_database('clip_7') == '?'


def test_read_clip_list_strips_and_rejects_repeats(tmp_path):
  path = tmp_path / 'list.txt'
  path.write_text('sub01_EP02_01f \n\ns01_s01_ne_01 \n# a comment\n006_006_1_2')
  assert megc.read_clip_list(path) == ('sub01_EP02_01f', 's01_s01_ne_01', '006_006_1_2')
  path.write_text('a \nb\na\n')
  with pytest.raises(ValueError, match=r"more than once: \['a'\]"):
    megc.read_clip_list(path)
  path.write_text('\n \n')
  with pytest.raises(ValueError, match='no clip name'):
    megc.read_clip_list(path)
  with pytest.raises(ValueError, match='does not exist'):
    megc.read_clip_list(tmp_path / 'nothing.txt')


def _fixture_samples():
  """Six clips as the loaders give them: two per database, one an omitted emotion."""
  return dict(
    databases=['CASME II', 'CASME II', 'CASME II', 'SMIC', 'SMIC', 'SAMM'],
    subjects=['sub01', 'sub01', 'sub02', 's1', 's2', '006'],
    emotions=['disgust', 'others', 'happiness', 'negative', 'surprise', 'anger'],
    names=['EP02_01f', 'EP03_02', 'EP09_01', 's1_ne_01', 's2_sur_01', '006_1_2'],
  )


def test_check_names_missing_extra_and_unlabelled_clips_and_count_deltas(tmp_path):
  path = tmp_path / 'video5Names.txt'
  # Listed but not loaded: sub05_EP01_01 and 007_007_3_1; loaded but not
  # listed: SMIC s2's surprise clip; listed with an omitted emotion: EP03_02.
  path.write_text(
    'sub01_EP02_01f \nsub01_EP03_02 \nsub02_EP09_01 \ns01_s01_ne_01 \n006_006_1_2 \n'
    'sub05_EP01_01 \n007_007_3_1 \n'
  )
  names = megc.read_clip_list(path)
  samples = _fixture_samples()
  comp = megc.composite_database(**samples, clip_list=names)
  assert comp.clip_id.tolist() == [
    'sub01_EP02_01f', 'sub02_EP09_01', 's01_s01_ne_01', '006_006_1_2'
  ]  # fmt: skip
  np.testing.assert_array_equal(comp.index, [0, 2, 3, 5])
  check = megc.composite_check(**samples, clip_list=names)
  assert check.missing == ('sub05_EP01_01', '007_007_3_1')
  assert check.extra == ('s02_s02_sur_01',)
  assert check.unlabelled == (('sub01_EP03_02', 'others'),)
  assert check.counts['CASME II'] == {'negative': 1, 'positive': 1, 'surprise': 0}
  assert check.subjects == {'SMIC': 1, 'CASME II': 2, 'SAMM': 1}
  text = '\n'.join(check.differences)
  assert '1 listed CASME II clips are missing from the data: sub05_EP01_01' in text
  assert '1 listed SAMM clips are missing from the data: 007_007_3_1' in text
  assert 'not in the list (left out): s02_s02_sur_01' in text
  assert 'omits (left out): sub01_EP03_02 (others)' in text
  assert 'CASME II negative: 1 clips here, 88 in Table III (-87)' in text
  assert 'SAMM subjects: 1 here, 28 in Table III (-27)' in text
  assert not check.matches_table_iii
  # Without the list, the extra SMIC clip stays and nothing is called missing.
  free = megc.composite_check(**{k: v for k, v in samples.items()})
  assert free.missing == free.extra == free.unlabelled == ()
  assert free.counts['SMIC']['surprise'] == 1
  with pytest.raises(ValueError, match='needs the clip names'):
    megc.composite_database(*list(samples.values())[:3], clip_list=names)


def test_a_composite_equal_to_table_iii_has_no_difference():
  """A stand-in for the real databases with exactly Table III's clips and subjects passes the check."""
  dbs, subjects, emotions, names, listed = [], [], [], [], []
  emotion = {
    'SMIC': ('negative', 'positive', 'surprise'),
    'CASME II': ('disgust', 'happiness', 'surprise'),
    'SAMM': ('anger', 'happiness', 'surprise'),
  }
  subject_name = {'SMIC': 's{}', 'CASME II': 'sub{:02d}', 'SAMM': '{:03d}'}
  for db, per_class in megc.TABLE_III.items():
    n_subj = megc.TABLE_III_SUBJECTS[db]
    i = 0
    for c, (cls, n) in enumerate(per_class.items()):
      for _ in range(n):
        s = subject_name[db].format(1 + i % n_subj)
        dbs.append(db), subjects.append(s), emotions.append(emotion[db][c])
        names.append(f'{s}_{cls[:3]}_{i:03d}' if db == 'SMIC' else f'clip{i:03d}')
        listed.append(megc.clip_id(db, s, names[-1]))
        i += 1
  # One CASME II 'others' clip beyond the list: omitted either way.
  dbs.append('CASME II'), subjects.append('sub01'), emotions.append('others')
  names.append('EPX')
  check = megc.composite_check(dbs, subjects, emotions, names=names, clip_list=listed)
  assert len(listed) == 442 and check.differences == () and check.matches_table_iii
  totals = megc.table_iii_totals(check.counts, check.subjects)
  assert totals['Full'] == {
    'negative': 250, 'positive': 109, 'surprise': 83, 'clips': 442, 'subjects': 68
  }  # fmt: skip
  assert totals == megc.table_iii_totals(megc.TABLE_III, megc.TABLE_III_SUBJECTS)
