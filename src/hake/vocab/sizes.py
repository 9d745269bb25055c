"""Label-space sizes, the one place they are written down (the tables in ``vocab/*.json`` must agree).

``hake.vocab.core`` checks every shipped table against these numbers at load time.
"""

from __future__ import annotations

NUM_PARTS = 10          # body parts, HAKE annotation order
NUM_PASTA76 = 76        # PaSta of HAKE 1.0 (foot 12, leg 10, hip 5, hand 31, arm 5, head 13)
NUM_PASTA93 = 93        # PaSta of HAKE 2.0
NUM_PASTA55 = 55        # PaSta of the Caffe model
NUM_VERBS = 117         # HICO verbs (index 57 is no_interaction)
NUM_VERBS157 = 157      # HAKE 2.0 verbs
NUM_OBJECTS = 80        # HICO object classes (COCO-80 in HICO order)
NUM_HOIS = 600          # HICO human-object interaction classes
NUM_RARE_HOIS = 138     # HOIs with fewer than 10 training instances in HICO-DET
NUM_KEYPOINTS = 17      # COCO-17 keypoints
