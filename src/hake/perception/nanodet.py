"""NanoDet-m (COCO-80) person and object detector run by onnxruntime.

The graph takes a 1x3xHxW float32 RGB image scaled to [0, 1]. The photo is scaled so that its long
side is ``input_size`` (416) with its aspect ratio kept and centred on black (on the sample photos
this finds the ball and the players with higher scores than stretching it to the square): on the
graph's fixed square, as the shipped file declares, or, for a graph whose input size is free, on a
canvas of multiples of 32 (416 x 288 for a 3:2 photo: it skips the black rows and their time, but
scored lower on the coco-mini photos, README "Real photos"). For each of the strides 8, 16 and 32
the graph returns a class-score map (h*w, 80) and a box regression map (h*w, 44) over the (H /
stride) x (W / stride) cells, row by row: 4 sides x 11 bins whose softmax-weighted bin index times
the stride is the distance from the cell centre to that side (Generalized Focal Loss). Boxes are
kept per class with non-maximum suppression and labelled with HICO object ids via
``vocab.coco80_to_hico``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hake.errors import HakeError
from hake.perception.base import check_image, fit_long_side
from hake.perception.onnx_model import OnnxModel
from hake.structures import DetectedObject
from hake.vocab import load as load_vocab

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
#: Contiguous COCO-80 index of "person".
COCO_PERSON = 0


def _softmax_integral(reg: np.ndarray) -> np.ndarray:
    """(M, 44) bin logits -> (M, 4) distances in units of the stride."""
    logits = reg.reshape(-1, 4, BINS)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e @ np.arange(BINS, dtype=np.float32)


class NanoDet:
    """NanoDet-m detector implementing :class:`hake.perception.Detector`.

    Args:
        source: zoo name or ``.onnx`` path.
        score_threshold: minimum class score kept (0..1).
        nms_threshold: IoU above which a lower-scored box of the same class is dropped.
        max_detections: at most this many detections per image (highest scores first).
        person_threshold: minimum score of the person class if lower than ``score_threshold``
            (a fusion of person boxes keeps faint persons without decoding faint objects); None = the same.
        input_size: the long side of the model input in pixels, a multiple of 32 (a graph with a
            fixed square input uses its own size).
        square: pad the photo to the ``input_size`` square (always, for a graph with a fixed input);
            False: only up to multiples of 32.
        threads: onnxruntime intra-op threads.
        device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(
        self,
        source: str | Path = "detector.nanodet_m",
        score_threshold: float = 0.35,
        nms_threshold: float = 0.5,
        max_detections: int = 100,
        person_threshold: float | None = None,
        input_size: int = INPUT_SIZE,
        square: bool = False,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        if input_size % 32 or input_size <= 0:
            raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}")
        self.model = OnnxModel(source, threads=threads, device=device)
        self.model.expect("NanoDet detector", "tensor(float)", (3, None, None), (80,))
        fixed = [d for d in self.model.input.shape[2:] if isinstance(d, int)]
        if len(fixed) == 2 and (fixed[0] != fixed[1] or fixed[0] % 32):
            raise HakeError(f"{self.model.path}: a NanoDet graph with a fixed input must take a square of a "
                            f"multiple of 32 pixels, not {fixed[0]}x{fixed[1]}")
        self.input_size = fixed[0] if len(fixed) == 2 else int(input_size)
        self.square = bool(square) or len(fixed) == 2
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_detections = int(max_detections)
        self.person_threshold = self.score_threshold if person_threshold is None else float(person_threshold)
        vocab = load_vocab()
        self._to_hico = vocab.coco80_to_hico
        self._names = vocab.objects

    def input_shape(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) of the model input for a ``height`` x ``width`` photo (:func:`.base.fit_long_side`)."""
        return fit_long_side(height, width, self.input_size, self.square)[:2]

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The 1x3xHxW float32 model input (:meth:`input_shape`): the photo scaled to fit (aspect kept),
        centred on black.

        Returns the input, the scale and the x and y offsets of the photo in the input.
        """
        h, w = image.shape[:2]
        big_h, big_w, nh, nw = fit_long_side(h, w, self.input_size, self.square)
        scale = self.input_size / max(h, w)
        ox, oy = (big_w - nw) // 2, (big_h - nh) // 2
        canvas = np.zeros((big_h, big_w, 3), np.float32)
        canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        x = (canvas * (1.0 / 255.0)).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(x), scale, float(ox), float(oy)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidates before NMS: boxes (M, 4) pixels, scores (M,), COCO-80 class ids (M,)."""
        image = check_image(image)
        h, w = image.shape[:2]
        x, scale, ox, oy = self.letterbox(image)
        self._thresholds = np.full(80, self.score_threshold, np.float32)
        self._thresholds[COCO_PERSON] = min(self.person_threshold, self.score_threshold)
        outputs = self.model(x)
        by_shape = {o.shape[1:]: o[0] for o in outputs}
        boxes, scores, classes = [], [], []
        for stride in STRIDES:
            rows, cols = x.shape[2] // stride, x.shape[3] // stride
            cls_map, reg_map = by_shape[(rows * cols, 80)], by_shape[(rows * cols, 4 * BINS)]
            cell, cls = np.nonzero(cls_map > self._thresholds)
            if cell.size == 0:
                continue
            dist = _softmax_integral(reg_map[cell]) * stride
            cx = (cell % cols + 0.5) * stride
            cy = (cell // cols + 0.5) * stride
            b = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1)
            boxes.append(b)
            scores.append(cls_map[cell, cls])
            classes.append(cls)
        if not boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        b = (np.concatenate(boxes) - np.array([ox, oy, ox, oy], np.float32)) / scale
        b = np.clip(b.astype(np.float32), 0, np.array([w - 1, h - 1, w - 1, h - 1], np.float32))
        return b, np.concatenate(scores).astype(np.float32), np.concatenate(classes).astype(np.int64)

    def detect(self, image: np.ndarray) -> list[DetectedObject]:
        """Persons and objects in an (H, W, 3) uint8 RGB image, sorted by score (descending)."""
        boxes, scores, classes = self.raw(image)
        if len(boxes) == 0:
            return []
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), 0.0, self.nms_threshold)
        keep = np.asarray(keep, dtype=np.int64).reshape(-1)
        keep = keep[np.argsort(-scores[keep], kind="stable")][: self.max_detections]
        out = []
        for i in keep:
            label = int(self._to_hico[classes[i]])
            out.append(DetectedObject(box=tuple(boxes[i].tolist()), score=float(scores[i]), label=label,
                                      name=self._names[label]))
        return out
