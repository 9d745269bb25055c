"""Official-protocol evaluators, one module per benchmark, pure numpy (no torch).
May import vocab, structures, geometry, datasets and errors; never models, perception, engine or torch.

``ap`` (shared AP code), ``ranking`` (the originals' tie orders), ``matching`` (vectorised greedy
matching), ``result`` (the Default / Known-Object result), ``hicodet``, ``hico``, ``vcoco``,
``ava``, ``pasta``. The rules are those of EVAL_PROTOCOLS.md; each evaluator returns a result
dataclass with per-class AP, the summary values as fractions and the options used.

The four evaluators and their readers are one import away::

    from hake.evaluation import evaluate_hicodet, read_detections, read_hicodet_gt

    gt = read_hicodet_gt("instances_test2015.json")
    result = evaluate_hicodet(gt, read_detections("preds.pkl", gt, format="qpic"))
"""

from hake.datasets.ava import read_ava_csv
from hake.datasets.ava import read_exclusions as read_ava_exclusions
from hake.datasets.ava import read_labelmap as read_ava_labelmap
from hake.datasets.hico import load_labels as read_hico_labels
from hake.datasets.hico import load_predictions as read_hico_scores
from hake.datasets.hicodet import load_test_gt as read_hicodet_gt
from hake.datasets.hoi_formats import FORMATS, read_detections
from hake.datasets.vcoco import load_vcoco_detections as read_vcoco_detections
from hake.datasets.vcoco import load_vcoco_gt as read_vcoco_gt
from hake.evaluation.ava import AvaResult, evaluate_ava
from hake.evaluation.hico import HicoResult, evaluate_hico
from hake.evaluation.hicodet import HicoDetResult, evaluate_hicodet
from hake.evaluation.ranking import TIES
from hake.evaluation.vcoco import VcocoResult, evaluate_vcoco

__all__ = [
    "FORMATS", "TIES", "AvaResult", "HicoDetResult", "HicoResult", "VcocoResult",
    "evaluate_ava", "evaluate_hico", "evaluate_hicodet", "evaluate_vcoco",
    "read_ava_csv", "read_ava_exclusions", "read_ava_labelmap", "read_detections", "read_hico_labels",
    "read_hico_scores", "read_hicodet_gt", "read_vcoco_detections", "read_vcoco_gt",
]
