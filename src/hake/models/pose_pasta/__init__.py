"""Pose-PaSta: body-part states from the keypoints and part boxes, Spatial-PaSta as prior and fallback."""

from hake.models.pose_pasta.evidence import BodyEvidence, body_evidence
from hake.models.pose_pasta.model import PoseParams, PosePasta, load_pose_params, pose_shift, save_pose_params

__all__ = ["BodyEvidence", "PoseParams", "PosePasta", "body_evidence", "load_pose_params", "pose_shift",
           "save_pose_params"]
