"""The HAKE part-box rule against boxes computed by hand, numpy vs torch, and the pose map."""

from __future__ import annotations

import numpy as np
import pytest

from hake.errors import DataError
from hake.geometry import COCO_LIMBS, mpii16, part_boxes, part_boxes_torch, pose_map

# An upright skeleton with round numbers (COCO-17 order, x, y in pixels):
# eyes (52,10)/(48,10) -> head j9 = (50,10); shoulders (60,30)/(40,30) -> j7 = (50,30);
# upper neck j8 = 0.75*j7 + 0.25*j9 = (50,25); hips (55,65)/(45,65) -> pelvis j6 = (50,65);
# so the reference length ||j6 - j8|| = 40 and a part's half-width is 20 * size factor.
XY = [(50, 15), (52, 10), (48, 10), (56, 12), (44, 12), (60, 30), (40, 30), (60, 45), (40, 45),
      (60, 60), (40, 60), (55, 65), (45, 65), (55, 80), (45, 80), (55, 95), (45, 95)]
PERSON = [20.0, 0.0, 80.0, 110.0]
IMAGE = (200, 200)


def skeleton(score: float = 0.9, **scores: float) -> np.ndarray:
    """(17, 3) keypoints of the skeleton above, every score ``score`` except the named joints."""
    kps = np.array([[x, y, score] for x, y in XY], np.float64)
    names = {"r_hip": 12, "l_hip": 11, "r_wrist": 10, "l_shoulder": 5, "l_elbow": 7, "l_wrist": 9}
    for name, s in scores.items():
        kps[names[name], 2] = s
    return kps


def boxes_of(kps: np.ndarray, person=PERSON, image=IMAGE) -> np.ndarray:
    return part_boxes(kps[None], np.array([person]), image)[0]


# Hand-computed: centre joint ± 20 * s with s = [1.2, 1, 1, 1.2, 1.2, 1.2, 0.9, 1, 1, 0.9], clipped.
COMPLETE = [
    [21, 71, 69, 119],   # R_foot: R ankle (45,95), half 24
    [25, 60, 65, 100],   # R_leg: R knee (45,80), half 20
    [35, 60, 75, 100],   # L_leg: L knee (55,80), half 20
    [31, 71, 79, 119],   # L_foot: L ankle (55,95), half 24
    [26, 41, 74, 89],    # Hip: pelvis (50,65), half 24
    [26, 0, 74, 34],     # Head: eyes' mean (50,10), half 24, y1 = -14 clipped to 0
    [22, 42, 58, 78],    # R_hand: R wrist (40,60), half 18
    [20, 10, 60, 50],    # R_arm: R shoulder (40,30), half 20
    [40, 10, 80, 50],    # L_arm: L shoulder (60,30), half 20
    [42, 42, 78, 78],    # L_hand: L wrist (60,60), half 18
]


def test_mpii_conversion_of_the_skeleton() -> None:
    j = mpii16(skeleton()[None])[0]
    np.testing.assert_allclose(j[[6, 7, 8, 9], :2], [[50, 65], [50, 30], [50, 25], [50, 10]])
    np.testing.assert_allclose(j[[0, 5, 10, 15], :2], [[45, 95], [55, 95], [40, 60], [60, 60]])
    np.testing.assert_allclose(j[:, 2], 0.9)


def test_complete_skeleton_matches_hand_computed_boxes() -> None:
    got = boxes_of(skeleton())
    assert got.dtype == np.float32 and got.shape == (10, 4)
    np.testing.assert_allclose(got, COMPLETE, atol=1e-4)


def test_unreliable_centre_joint_takes_the_person_box() -> None:
    got = boxes_of(skeleton(r_wrist=0.1))
    expected = np.array(COMPLETE, np.float32)
    expected[6] = PERSON  # R_hand is centred on the R wrist
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_missing_hip_uses_each_limb_groups_own_length() -> None:
    # R hip 0.05, L hip 0.3: pelvis score 0.175 < 0.2 -> fallback. Every limb group here has length 30
    # (R leg ||R ankle - R hip||, L leg, both arms ||wrist - shoulder||), the head ||j7 - j9|| = 20.
    got = boxes_of(skeleton(r_hip=0.05, l_hip=0.3))
    expected = [
        [27, 77, 63, 113],        # R_foot: (45,95) ± 30*1.2/2
        [30, 65, 60, 95],         # R_leg: (45,80) ± 15
        [40, 65, 70, 95],         # L_leg: (55,80) ± 15
        [37, 77, 73, 113],        # L_foot: (55,95) ± 18
        PERSON,                   # Hip: always the person box in the fallback
        [38, 0, 62, 22],          # Head: (50,10) ± 20*1.2/2, y1 = -2 clipped
        [26.5, 46.5, 53.5, 73.5],  # R_hand: (40,60) ± 30*0.9/2
        [25, 15, 55, 45],         # R_arm: (40,30) ± 15
        [45, 15, 75, 45],         # L_arm: (60,30) ± 15
        [46.5, 46.5, 73.5, 73.5],  # L_hand: (60,60) ± 13.5
    ]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_fallback_group_with_low_mean_score_takes_the_person_box() -> None:
    # Both hips missing -> fallback; the left arm group (L shoulder, elbow, wrist) has mean score 0.4/3
    # although its centre joints (shoulder, wrist) are reliable at 0.2.
    got = boxes_of(skeleton(r_hip=0.0, l_hip=0.0, l_shoulder=0.2, l_elbow=0.0, l_wrist=0.2))
    np.testing.assert_allclose(got[[4, 8, 9]], [PERSON] * 3, atol=1e-4)
    np.testing.assert_allclose(got[6], [26.5, 46.5, 53.5, 73.5], atol=1e-4)  # the right arm is still fine
    # the L leg group is j3..j5 = L hip (score 0), L knee, L ankle: mean 0.6 > 0.2, length ||L hip - L ankle|| = 30
    np.testing.assert_allclose(got[3], [37, 77, 73, 113], atol=1e-4)


def test_all_joints_below_threshold_give_the_clipped_person_box() -> None:
    got = boxes_of(skeleton(score=0.1), person=[-10, 5, 250, 110], image=(200, 150))
    np.testing.assert_allclose(got, [[0, 5, 199, 110]] * 10)


def test_vectorised_over_persons_and_clipped_to_the_image() -> None:
    rng = np.random.default_rng(0)
    kps = np.concatenate([rng.uniform(-50, 250, (40, 17, 2)), rng.uniform(0, 1, (40, 17, 1))], 2)
    corner = rng.uniform(-20, 150, (40, 2))
    person = np.concatenate([corner, corner + rng.uniform(1, 100, (40, 2))], 1)
    batch = part_boxes(kps, person, (160, 120))
    one_by_one = np.stack([part_boxes(kps[i:i + 1], person[i:i + 1], (160, 120))[0] for i in range(40)])
    np.testing.assert_array_equal(batch, one_by_one)
    assert (batch[..., [0, 2]] >= 0).all() and (batch[..., [0, 2]] <= 159).all()
    assert (batch[..., [1, 3]] >= 0).all() and (batch[..., [1, 3]] <= 119).all()
    assert (batch[..., 2] >= batch[..., 0]).all() and (batch[..., 3] >= batch[..., 1]).all()
    assert part_boxes(np.zeros((0, 17, 3)), np.zeros((0, 4)), (10, 10)).shape == (0, 10, 4)


def test_torch_equals_numpy() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    kps = np.concatenate([rng.uniform(0, 300, (64, 17, 2)), rng.uniform(0, 0.6, (64, 17, 1))], 2)
    kps = np.concatenate([kps, skeleton()[None], skeleton(r_hip=0.05, l_hip=0.3)[None]])
    person = np.concatenate([rng.uniform(0, 100, (66, 2)), rng.uniform(150, 300, (66, 2))], 1)
    want = part_boxes(kps, person, (320, 240))
    got = part_boxes_torch(torch.from_numpy(kps).float(), torch.from_numpy(person).float(), (320, 240))
    assert got.dtype == torch.float32 and got.shape == (66, 10, 4)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-3)


def test_bad_shapes_are_data_errors() -> None:
    with pytest.raises(DataError, match="keypoints"):
        part_boxes(np.zeros((2, 16, 3)), np.zeros((2, 4)), (10, 10))
    with pytest.raises(DataError, match="person boxes"):
        part_boxes(np.zeros((2, 17, 3)), np.zeros((3, 4)), (10, 10))
    with pytest.raises(DataError, match="image size"):
        part_boxes(np.zeros((2, 17, 3)), np.zeros((2, 4)), (0, 10))
    with pytest.raises(DataError, match="keypoints"):
        pose_map(np.zeros((17, 3)), np.zeros((1, 4)))


def _two_joints(a: int, b: int, pa, pb) -> np.ndarray:
    kps = np.zeros((17, 3))
    kps[a] = (*pa, 0.9)
    kps[b] = (*pb, 0.9)
    return kps


def test_pose_map_draws_a_limb_on_the_box_normalised_canvas() -> None:
    # box of extent 126 px on a 64 canvas: scale 63/126 = 0.5, so (120,220)-(120,260) -> column 10, rows 10..30
    kps = _two_joints(5, 7, (120, 220), (120, 260))  # L shoulder - L elbow is a COCO limb
    m = pose_map(kps[None], np.array([[100, 200, 226, 326]]), size=64)
    assert m.shape == (1, 64, 64) and m.dtype == np.float32
    expected = np.zeros((64, 64), np.float32)
    expected[10:31, 10] = 1
    np.testing.assert_array_equal(m[0], expected)


def test_pose_map_skips_unreliable_joints_and_non_limbs() -> None:
    box = np.array([[0, 0, 63, 63]])
    weak = _two_joints(5, 7, (10, 10), (10, 30))
    weak[7, 2] = 0.1
    assert pose_map(weak[None], box).sum() == 0
    not_a_limb = _two_joints(9, 10, (10, 10), (50, 10))  # the two wrists are not joined
    assert (9, 10) not in COCO_LIMBS and (10, 9) not in COCO_LIMBS
    assert pose_map(not_a_limb[None], box).sum() == 0


def test_pose_map_of_the_skeleton_stays_in_unit_range() -> None:
    kps = np.stack([skeleton(), skeleton(score=0.1)])
    m = pose_map(kps, np.array([PERSON, PERSON]), size=32)
    assert set(np.unique(m)) == {0.0, 1.0} and m[1].sum() == 0
    # a horizontal shoulder line at y = 30 of a 110 px box -> row round(30 / 110 * 31) = 8
    assert m[0, 8, round(20 / 60 * 31):round(40 / 60 * 31) + 1].all()
