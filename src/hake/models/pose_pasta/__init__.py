"""Pose-PaSta: body-part states from the keypoints and part boxes, Spatial-PaSta as prior and fallback.
May import what hake.models may (vocab, structures, geometry, datasets, hub) and the rest of hake.models."""

from hake.models.pose_pasta.evidence import BodyEvidence, body_evidence
from hake.models.pose_pasta.model import PosePasta
from hake.models.pose_pasta.params import PoseParams, load_pose_params, save_pose_params, verb_state_matrix
from hake.models.pose_pasta.shifts import hoi_shift, person_index, pose_shift

__all__ = ["BodyEvidence", "PoseParams", "PosePasta", "body_evidence", "hoi_shift", "load_pose_params",
           "person_index", "pose_shift", "save_pose_params", "verb_state_matrix"]
