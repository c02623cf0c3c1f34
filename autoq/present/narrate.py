"""The lines a finished search ends with: time and trials, the constraints, the winner against the float model and
the baselines, its per-layer table, and where the results are."""
from __future__ import annotations

from ..searching.progress import fmt_time
from .tables import layer_table

#: what every output of a ``hls4ml: false`` search says
NOT_EXPORTABLE = ("NOT exportable: this search ran with hls4ml: false (its space was not checked against what hls4ml "
                  "reproduces bit-exactly); autoq export refuses it unless --allow-mismatch")


def search_done(result) -> list[str]:
    """The closing lines of a finished search (a :class:`autoq.searching.result.FinishedSearch`)."""
    s, tag, out, cost = result.summary, result.tag, result.output_dir, result.cost_key
    lines = [f"{tag} done in {fmt_time(s.get('seconds', 0))}: {len(result.trials)} trials, "
             f"{len(result.pareto)} on the Pareto front"]
    cons = s.get("constraints")
    if cons:  # goal.budget / goal.max_drop: which constraint binds, or plainly that nothing fits
        for entry in cons["constraints"].values():
            lines.append(f"{tag} constraint {entry['text']}: met by {entry['met_by']} of {cons['trials']} trials"
                         + (", binds the winner" if entry.get("binds") else ""))
        lines.append(f"{tag} {cons['message']}")
    b = result.best
    exporting = result.config is not None and result.config.hls4ml is not None
    if b is None:
        lines.append(f"{tag} results in {out}: trials.csv, pareto.csv, pareto.png, summary.json (no best_model.h5: "
                     "no winner)" + ("; the winner's export to hls4ml is skipped" if exporting else ""))
        return lines
    ref, ftest, m = s["reference_cost"], s.get("float_test_metric"), result.metric.name
    lines.append(f"{tag} best: trial {b['trial']}, val {m} {b['val_metric']:.4g} (float "
                 f"{s['float_val_metric']:.4g}), test {m} {s['best_test_metric']:.4g}"
                 + (f" (float {ftest:.4g})" if ftest is not None else "")
                 + f", {cost} {b[cost]:.6g} = {100 * b[cost] / ref:.1f}% of the reference"
                 + (" [SYNTHETIC data: not a result on real data]" if s.get("synthetic_data") else ""))
    up = result.metric.up
    beaten = [n for n, bl in result.baselines.items() if n != "float" and bl.get("val_metric") is not None
              and bl.get(cost) is not None and up(bl["val_metric"]) >= up(b["val_metric"]) and bl[cost] <= b[cost]]
    if beaten:
        lines.append(f"{tag} note: baseline {', '.join(beaten)} is at least as accurate and as cheap as the winner "
                     "(see pareto.csv); more trials or a wider space may help")
    lines.append(layer_table(b))
    lines.append(f"{tag} results in {out}: best_model.h5, trials.csv, pareto.csv, pareto.png, summary.json")
    if not s.get("exportable", True):
        lines.append(f"{tag} {NOT_EXPORTABLE}")
    return lines
