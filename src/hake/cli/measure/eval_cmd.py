"""``hake eval {hicodet,hico,vcoco,ava}``: official-protocol evaluators with JSON, a table and plots."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from hake.cli.apps import eval_app
from hake.cli.common import guarded, write_json
from hake.vocab.sizes import NUM_HOIS

JSON_OPT = typer.Option(None, "--json", help="Write the report (fractions in [0, 1], per-class AP) here.")
PLOT_OPT = typer.Option(None, "--plot", help="Write PR curves and a per-class AP chart (PNG) into this folder.")
TIES_OPT = typer.Option("original", "--ties", help="Tie order: 'original' = the original's argsort()[::-1] "
                        "under this numpy (default); 'stable' = one fixed order on every machine.")


def _table(title: str, rows: Sequence[tuple[str, dict[str, float]]], columns: Sequence[str]) -> None:
    table = Table(title=title)
    table.add_column("setting")
    for c in columns:
        table.add_column(c, justify="right")
    for name, values in rows:
        table.add_row(name, *("n/a" if values[c] is None or np.isnan(values[c]) else f"{100 * values[c]:.2f}"
                              for c in columns))
    Console().print(table)


def _plots(plot: Path | None, prefix: str, names: Sequence[str], ap: np.ndarray,
           curve: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> None:
    if plot is None:
        return
    from hake.viz.plots import plot_per_class_ap, plot_pr_curves

    a = plot_per_class_ap(names, ap, plot / f"{prefix}_per_class_ap.png", title=f"{prefix} per-class AP")
    b = plot_pr_curves(names, ap, curve, plot / f"{prefix}_pr_curves.png", title=prefix)
    typer.echo(f"plots: {a} {b}")


def _hoi_names() -> list[str]:
    from hake.vocab import load

    v = load()
    return [v.hoi_name(i) for i in range(NUM_HOIS)]


@eval_app.command("hicodet")
@guarded
def hicodet_command(
    gt: Path = typer.Option(..., "--gt", help="instances_test2015.json (optionally with image_pos_labels)."),
    dets: Path = typer.Option(..., "--dets", help="Detections file (a folder of .mat files for --format matlab)."),
    fmt: str = typer.Option("hake", "--format", help="hake (JSON per GT image / .npz), qpic (QPIC / CDN / GEN-VLKT "
                            "/ HOICLIP list, JSON or pickle), matlab (ho-rcnn all_boxes .mat), table (CSV / Parquet)."),
    json_out: Path | None = JSON_OPT,
    plot: Path | None = PLOT_OPT,
) -> None:
    """HICO-DET mAP, Default and Known-Object, Full / Rare / Non-Rare (ho-rcnn eval_one.m rules)."""
    from hake.evaluation import evaluate_hicodet, read_detections, read_hicodet_gt

    g = read_hicodet_gt(gt)
    res = evaluate_hicodet(g, read_detections(dets, g, fmt), keep_curves=plot is not None)
    out = res.to_dict()
    _table("HICO-DET mAP (%)", [("default", out["default"]), ("known object", out["known_object"])],
           ["full", "rare", "non_rare"])
    typer.echo(f"known-object labels: {res.options['known_object_labels']}")
    read = res.options.get("detections", {})
    if "note" in read:
        typer.echo(f"note: {read['note']}")
    for w in read.get("warnings", []):
        typer.echo(f"warning: {w}", err=True)
    if json_out is not None:
        write_json(out, json_out)
    if plot is not None:
        ap = np.where(g.hois_with_gt(), res.default.per_class_ap, np.nan)  # classes without positives are not plotted
        _plots(plot, "hicodet_default", _hoi_names(), ap, res.curves["default"].get)


@eval_app.command("hico")
@guarded
def hico_command(
    anno: Path = typer.Option(..., "--anno", help="Labels: our JSON or the official anno.mat."),
    pred: Path = typer.Option(..., "--pred", help='Scores: {"scores": [[600 floats] per image]}, .npy or .npz.'),
    json_out: Path | None = JSON_OPT,
    plot: Path | None = PLOT_OPT,
) -> None:
    """HICO image-level mAP and Few@1/5/10, Default and Known-Object (hico_benchmark rules)."""
    from hake.evaluation import evaluate_hico, read_hico_labels, read_hico_scores

    lab = read_hico_labels(anno)
    scores = read_hico_scores(pred, len(lab.names))
    res = evaluate_hico(lab.labels, scores, lab.train_pos_count, keep_curves=plot is not None)
    out = res.to_dict()
    _table("HICO mAP (%)", [("default", out["default"]), ("known object", out["known_object"])],
           ["mAP", "few@1", "few@5", "few@10"])
    typer.echo(f"classes averaged: {res.default.n_classes}")
    if json_out is not None:
        write_json(out, json_out)
    if plot is not None:
        ap = np.where((lab.labels == 1).any(axis=0), res.default.per_class_ap, np.nan)
        _plots(plot, "hico_default", _hoi_names(), ap, res.curves["default"].get)


@eval_app.command("vcoco")
@guarded
def vcoco_command(
    vcoco: Path = typer.Option(..., "--vcoco", help="vcoco_test.json (s-gupta/v-coco)."),
    coco: Path = typer.Option(..., "--coco", help="COCO 2014 instances JSON."),
    split: Path = typer.Option(..., "--split", help="Image ids of the split, one per line (vcoco_test.ids)."),
    dets: Path = typer.Option(..., "--dets", help="Detections: list of dicts as JSON, or the official pickle."),
    ties: str = TIES_OPT,
    json_out: Path | None = JSON_OPT,
    plot: Path | None = PLOT_OPT,
) -> None:
    """V-COCO agent AP and role AP, scenario 1 and 2 (vsrl_eval.py rules)."""
    from hake.evaluation import evaluate_vcoco, read_vcoco_detections, read_vcoco_gt

    g = read_vcoco_gt(vcoco, coco, split)
    res = evaluate_vcoco(g, read_vcoco_detections(dets, g.actions, g.roles), keep_curves=plot is not None, ties=ties)
    out = res.to_dict()
    _table(f"V-COCO (%), ties {ties}", [("all pairs", {"agent": out["agent_mAP"], "role S1": out["role_mAP_scenario_1"],
                                         "role S2": out["role_mAP_scenario_2"]}),
                          ("without point-instr", {"agent": out["agent_mAP"], "role S1": out["role_mAP_scenario_1_24"],
                                                   "role S2": out["role_mAP_scenario_2_24"]})],
           ["agent", "role S1", "role S2"])
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    if json_out is not None:
        write_json(out, json_out)
    if plot is not None:
        names = list(res.role_ap_scenario_1)
        sink = res.curves["role_scenario_1"]
        empty = (np.zeros(0), np.zeros(0))
        _plots(plot, "vcoco_role_s1", names, np.array([res.role_ap_scenario_1[n] for n in names]),
               lambda i: sink.get(names[i], empty))


@eval_app.command("ava")
@guarded
def ava_command(
    labelmap: Path = typer.Option(..., "--labelmap", help="Label map pbtxt (the 60 evaluated classes)."),
    gt: Path = typer.Option(..., "--gt", help="GT CSV."),
    dets: Path = typer.Option(..., "--dets", help="Detection CSV (video, ts, x1, y1, x2, y2, action, score)."),
    exclusions: Path | None = typer.Option(None, "--exclusions", help="Excluded timestamps CSV (v2019)."),
    protocol: str = typer.Option("v2019", "--protocol", help="v2019 (with exclusions) or head."),
    ties: str = TIES_OPT,
    json_out: Path | None = JSON_OPT,
    plot: Path | None = PLOT_OPT,
) -> None:
    """AVA frame mAP@0.5 (ActivityNet get_ava_performance.py rules, top-50 per frame)."""
    from hake.evaluation import evaluate_ava, read_ava_csv, read_ava_exclusions, read_ava_labelmap

    cats, ids = read_ava_labelmap(labelmap)
    res = evaluate_ava(read_ava_csv(gt, ids, 0, protocol), read_ava_csv(dets, ids, 50, protocol), cats,
                       read_ava_exclusions(exclusions, protocol), protocol, keep_curves=plot is not None, ties=ties)
    out = res.to_dict()
    _table(f"AVA frame mAP@0.5 (%), protocol {protocol}, ties {ties}", [("all classes", {"mAP": out["mAP"]})], ["mAP"])
    if json_out is not None:
        write_json(out, json_out)
    if plot is not None:
        names = [res.class_names.get(i + 1, str(i + 1)) for i in range(len(res.per_class_ap))]
        empty = (np.zeros(0), np.zeros(0))
        _plots(plot, "ava", names, res.per_class_ap, lambda i: res.curves.get(i + 1, empty))
