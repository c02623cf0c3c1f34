"""Text tables people read: a winner's per-layer table, the resource estimate, the
C-simulation check, an export's result and a project's report. Formatting only: nothing here decides anything."""
from __future__ import annotations

from typing import Any

from ..cost.estimate import FPGA_UNIT, PART_RESOURCES


def layer_table(record: dict) -> str:
    """Layer | kernel | bias | activation | params | bits | BOPs | energy share, from a trial record."""
    rows = record.get("layers", [])
    act_of = {r["name"]: r for r in rows if r["class_name"] == "QActivation"}
    total_e = sum(r["energy"] for r in rows) or 1.0
    head = ["layer", "kernel", "bias", "activation", "params", "bits", "BOPs", "energy pJ", "share"]
    names = {r["name"] for r in rows}
    lines = []
    for r in rows:
        if r["class_name"] == "QActivation" and r["name"].endswith("_relu") and r["name"][:-len("_relu")] in names:
            continue  # shown on its layer's row
        act = act_of.get(f"{r['name']}_relu")
        activation = act["activation"] if act else r.get("activation", "")
        energy = r["energy"] + (act["energy"] if act else 0.0)
        lines.append([r["name"], r.get("kernel", ""), r.get("bias", ""), activation, str(r.get("params", 0)),
                      str(r.get("bits", 0)), str(r.get("bops", 0)), f"{energy:.1f}", f"{100 * energy / total_e:.1f}%"])
    lines.append(["total", "", "", "", str(sum(r.get("params", 0) for r in rows)), str(record.get("bits")),
                  str(record.get("bops")), f"{record.get('energy', 0):.1f}", "100%"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(l) for l in lines])


def format_estimate(est, synth=None) -> str:
    """Table of the estimate (and, if given, the synthesized totals side by side)."""
    head = f"{'layer':<20} {'kind':<13} {'w/x bits':>8} {'nnz':>6} {'mDSP':>5} {'mLUT':>6} {'LUT':>7} {'FF':>7} " \
           f"{'DSP':>5} {'BRAM':>5} {'cyc':>5}"
    lines = [
        f"Estimate for {est.part} ({est.family}), clock {est.clock_period:g} ns, reuse {est.reuse_factor}, "
        f"strategy {est.strategy} (DSP threshold {est.dsp_threshold_bits} bits)",
        head, "-" * len(head),
    ]
    for layer in est.layers:
        wb = f"{layer.weight_bits}/{layer.input_bits}" if layer.weight_bits else f"-/{layer.input_bits}"
        lines.append(
            f"{layer.name[:20]:<20} {layer.kind[:13]:<13} {wb:>8} {layer.n_nonzero:>6} {layer.mult_dsp:>5} "
            f"{layer.mult_lut:>6} {layer.luts:>7} {layer.ffs:>7} {layer.dsps:>5} {layer.bram18:>5} "
            f"{layer.latency_cycles:>5}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{'total (estimate)':<20} {'':<13} {'':>8} {est.total('n_nonzero'):>6} {est.mult_dsp:>5} {est.mult_lut:>6} "
        f"{est.luts:>7} {est.ffs:>7} {est.dsps:>5} {est.bram18:>5} {est.latency_cycles:>5}"
    )
    if synth is not None:
        s = synth
        lines.append(
            f"{'total (' + s.source + ')':<20} {'':<13} {'':>8} {'':>6} {'':>5} {'':>6} {_fmt(s.luts):>7} "
            f"{_fmt(s.ffs):>7} {_fmt(s.dsps):>5} {_fmt(s.bram18):>5} {_fmt(s.latency_max):>5}"
        )
    lines.append(
        f"latency {est.latency_cycles} cycles = {est.latency_ns:g} ns, interval {est.interval_cycles} cycles"
        + (f" | synthesized: {s.latency_max} cycles, interval {s.interval_max}" if synth is not None else "")
    )
    lines.append(f"fpga cost (the search's `fpga`): {est.lut_plus_dsp} {FPGA_UNIT}")
    lines += part_share_lines(est)
    lines.append(ESTIMATE_COLUMNS)
    return "\n".join(lines)


def part_share_lines(est) -> list[str]:
    """The share of the part the estimate uses, and a WARNING line when it does not fit."""
    share = est.part_share()
    if share is None:
        return [f"share of {est.part}: unknown part (resources of {', '.join(PART_RESOURCES)} known)"]
    lines = [f"share of {est.part}: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in share.items())]
    if est.overflows():
        lines.append(f"WARNING: the estimate does not fit {est.part}: {', '.join(est.overflows())}")
    return lines


#: what the estimate table's columns mean (printed under the table, and in report.md)
ESTIMATE_COLUMNS = (
    "columns: w/x bits = weight / input bit widths; nnz = non-zero weights (each one multiplication); "
    "mDSP / mLUT = multiplications mapped to DSPs / to LUTs (see autoq.cost.estimate for the rule); "
    "LUT, FF, DSP, BRAM = estimated resources (BRAM in 18 kb blocks); cyc = latency in clock cycles. "
    "An estimate before synthesis, not a synthesis result."
)


def _fmt(v: Any) -> str:
    return "-" if v is None else str(v)



def format_check(check: dict | None) -> list[str]:
    """The C-simulation agreement lines of a report (the softmax figure labelled as hls4ml's table approximation)."""
    if not check or check.get("agreement") is None:
        return ["C simulation vs QKeras: not checked"]
    status = "bit-exact" if check.get("bit_exact") else "NOT bit-exact"
    lines = [f"C simulation vs QKeras: {status} on {check.get('compared_layer')}: argmax agreement "
             f"{100 * check['agreement']:.2f}%, max |diff| {check.get('max_abs_diff'):.6g}, "
             f"{check.get('n_samples')} samples from {check.get('x_source')}"]
    if check.get("first_mismatch_layer"):
        lines.append(f"first differing layer: {check['first_mismatch_layer']}")
    if check.get("softmax_agreement") is not None:
        head = check.get("head_activation") or "softmax"
        lines.append(f"final {head} (hls4ml's lookup-table approximation, not exact by design): "
                     f"{'decision' if head == 'sigmoid' else 'argmax'} agreement "
                     f"{100 * check['softmax_agreement']:.2f}%, max |diff| {check.get('softmax_max_abs_diff'):.3g}")
    lines += [f"WARNING: {w}" for w in check.get("warnings") or []]
    return lines



def format_report(rep) -> str:
    """Human-readable table: estimate per layer, totals, and synthesized totals side by side."""
    lines = [f"Project {rep.project_dir}"]
    if rep.check is not None:
        lines += format_check(rep.check)
    if rep.estimate is not None:
        lines.append(format_estimate(rep.estimate, rep.synth))
    if rep.synth is not None:
        s = rep.synth
        lines.append("")
        lines.append(f"{'':<12} {'estimate':>10} {'synthesized':>12}" + (f" {'available':>10}" if s.available else ""))
        e = rep.estimate
        rows = [
            ("LUT", e.luts if e else None, s.luts, s.available.get("LUT")),
            ("FF", e.ffs if e else None, s.ffs, s.available.get("FF")),
            ("DSP", e.dsps if e else None, s.dsps, s.available.get("DSP")),
            ("BRAM_18K", e.bram18 if e else None, s.bram18, s.available.get("BRAM_18K")),
            ("latency", e.latency_cycles if e else None, s.latency_max, None),
            ("interval", e.interval_cycles if e else None, s.interval_max, None),
        ]
        for name, a, b, c in rows:
            lines.append(f"{name:<12} {_fmt(a):>10} {_fmt(b):>12}" + (f" {_fmt(c):>10}" if s.available else ""))
        lines.append(
            f"clock: target {_fmt(s.target_clock_ns)} ns, estimated {_fmt(s.estimated_clock_ns)} ns; "
            f"part {_fmt(s.part)}"
        )
        if s.vsynth:
            lines.append("Vivado logic synthesis: " + ", ".join(f"{k} {v}" for k, v in sorted(s.vsynth.items())))
    for note in rep.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def format_result(result) -> str:
    """Human-readable summary of an export: project, check numbers, estimate table."""
    lines = [f"hls4ml project: {result.output_dir}"] + format_check(result.to_dict())
    lines.append(
        f"input type {result.input_precision}; convert {result.seconds_convert:.1f} s, "
        f"g++ compile + C-sim {result.seconds_compile:.1f} s"
    )
    for note in result.notes:
        lines.append(f"note: {note}")
    lines.append(format_estimate(result.estimate, result.synth_report.synth if result.synth_report else None))
    return "\n".join(lines)


#: ``autoq show --sort`` columns -> the record key they show
FRONT_COLUMNS = {"id": "trial", "metric": "val_metric", "cost": None, "lut": "lut", "dsp": "dsp", "ff": "ff",
                 "latency": "latency_ns", "feasible": "feasible"}


def front_table(rows: list, metric, cost_key: str, sort: str = "cost", winner: str | None = None) -> str:
    """The Pareto front as a table: id, goal metric, goal cost, LUT, DSP, FF, latency (ns) and feasibility of each
    trial record, sorted by a :data:`FRONT_COLUMNS` name (the metric best first, feasible first, the rest
    ascending; missing values last). ``winner`` is marked with ``*``."""
    key = FRONT_COLUMNS[sort] or cost_key

    def order(r):
        v = r.get(key)
        if v is None:
            return (1, 0)
        if sort == "metric":
            return (0, -metric.up(v))
        if sort == "feasible":
            return (0, not v)
        if sort == "id":
            return (0, r.get("number", 0), str(v))
        return (0, v)

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    head = ["id", metric.name, cost_key, "LUT", "DSP", "FF", "latency ns", "feasible"]
    lines = [[str(r["trial"]) + (" *" if r["trial"] == winner else ""), num(r.get("val_metric"), ".4g"),
              num(r.get(cost_key), ".6g"), num(r.get("lut"), "d"), num(r.get("dsp"), "d"), num(r.get("ff"), "d"),
              num(r.get("latency_ns"), "g"),
              {True: "yes", False: "no"}.get(r.get("feasible"), "-") + (
                  f" ({'+'.join(r['violated'])})" if r.get("violated") else "")]
             for r in sorted(rows, key=order)]
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.rjust(w) if 0 < i < 7 else c.ljust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(l) for l in lines])
