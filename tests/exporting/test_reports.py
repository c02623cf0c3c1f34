"""Resource estimate (hand-checked numbers) and parsing of real Vivado HLS reports."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_po2, quantized_relu, ternary

from autoq.errors import ExportError
from autoq.cost.estimate import ResourceEstimate, estimate, part_family
from autoq.present.tables import format_estimate, format_report
from autoq.exporting.project_report import report
from autoq.present.report_files import project_report

DATA = Path(__file__).resolve().parents[1] / "data" / "vivado-reports"
REPO = Path(__file__).resolve().parents[2]

# Hand-set weights: layer 1 has 8-bit weights on 8-bit inputs, layer 2 12-bit weights; as constants (reuse 1) all are
# LUT-mapped (no operand >= 10 bits), as general multipliers (reuse 2) layer 2's 12 x 8 products go to DSPs.
K1 = np.array([[0.5, 0, -0.25, 0.125], [0, 0, 0.75, -0.5], [0.25, 0, 0, 0.0625]], dtype=np.float32)  # nnz 7
K2 = np.array([[1.5, 0], [0, -2.25], [0.5, 0.75], [0, 1.0]], dtype=np.float32)  # nnz 5


def _two_layer_model():
    inp = tf.keras.Input((3,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(4, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               name="fc1")(h)
    h = QActivation(quantized_relu(8, 2), name="fc1_relu")(h)
    out = QDense(2, kernel_quantizer=quantized_bits(12, 2, alpha=1), bias_quantizer=quantized_bits(12, 2, alpha=1),
                 name="fc2")(h)
    model = tf.keras.Model(inp, out, name="hand")
    model.get_layer("fc1").set_weights([K1, np.zeros(4, np.float32)])
    model.get_layer("fc2").set_weights([K2, np.zeros(2, np.float32)])
    return model


@pytest.fixture(scope="module")
def hand_model():
    return _two_layer_model()


def test_estimate_hand_checked_multipliers(hand_model):
    est = estimate(hand_model, reuse_factor=1, clock_period=5.0, part="xcvu13p-flga2577-2-e")
    layers = {layer.name: layer for layer in est.layers}
    fc1, fc2 = layers["fc1"], layers["fc2"]
    # fc1: 7 nonzero 8-bit constant weights x 8-bit inputs -> 7 LUT multipliers, no DSP; all but 0.75 (binary 11:
    # one adder of 8 + 2 bits) are powers of two (shifts, no logic)
    assert (fc1.n_weights, fc1.n_nonzero, fc1.weight_bits, fc1.input_bits) == (12, 7, 8, 8)
    assert (fc1.mult_lut, fc1.mult_dsp, fc1.dsps) == (7, 0, 0)
    # LUTs: LUT_SCALE 0.9 * (10 + adders (1+0+1+2 = 4) * acc bits (8+8+ceil(log2 3) = 18))
    assert fc1.luts == round(0.9 * (10 + 4 * 18))
    # fc2: 5 nonzero 12-bit weights x 8-bit relu outputs: 1.5, 0.75 (11: one adder of 8 + 2 bits), -2.25 (1001: one
    # adder of 8 + 4 bits), 0.5 and 1.0 shifts; adders 1 + 2 = 3 of acc 12+8+2 = 22 bits
    assert (fc2.n_nonzero, fc2.weight_bits, fc2.input_bits) == (5, 12, 8)
    assert (fc2.mult_dsp, fc2.mult_lut, fc2.dsps, fc2.luts) == (0, 5, 0, round(0.9 * (10 + 10 + 12 + 3 * 22)))
    assert (est.mult_lut, est.mult_dsp, est.dsps, est.bram18) == (12, 0, 0, 0)
    # latency: fc1 1 + 1 + ceil(2/2) + 1 = 4, relu 1, fc2 4 -> 9 cycles = 45 ns at 5 ns
    assert est.latency_cycles == 9 and est.latency_ns == 45.0 and est.interval_cycles == 1
    assert est.lut_plus_dsp == est.luts + est.dsps


def test_estimate_reuse_divides_multipliers_and_uses_bram(hand_model):
    est = estimate(hand_model, reuse_factor=2)
    layers = {layer.name: layer for layer in est.layers}
    # multiplexed weights: general multipliers, 8 x 8 in LUTs, 12 x 8 in DSPs
    assert layers["fc1"].mult_lut == 4 and layers["fc2"].mult_dsp == 3  # ceil(7/2), ceil(5/2)
    # weights reshaped to 2 words of 6*8 = 48 bits (fc1) and 4*12 = 48 bits (fc2): under 1 kb, kept in LUTs
    assert layers["fc1"].bram18 == 0 and layers["fc2"].bram18 == 0
    assert est.interval_cycles == 2


def test_estimate_ternary_and_po2_weights_go_to_luts():
    inp = tf.keras.Input((16,), name="x")  # no input quantizer: 16-bit inputs
    h = QDense(8, kernel_quantizer=ternary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="t")(inp)
    h = QActivation(quantized_relu(12, 4), name="t_relu")(h)
    out = QDense(4, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(8, 3, alpha=1), name="p")(h)
    model = tf.keras.Model(inp, out)
    est = estimate(model, part="xc7z020clg400-1")
    layers = {layer.name: layer for layer in est.layers}
    assert est.family == "7series"
    for name in ("t", "p"):
        assert layers[name].mult_dsp == 0 and layers[name].dsps == 0
        assert layers[name].mult_lut == layers[name].n_nonzero
    assert layers["t"].weight_type == "ternary" and layers["p"].weight_type == "po2"


def test_estimate_is_fast_and_serializable(hand_model):
    estimate(hand_model)
    t0 = time.perf_counter()
    est = estimate(hand_model, reuse_factor=4, clock_period=3.0)
    assert time.perf_counter() - t0 < 1.0
    back = ResourceEstimate.from_dict(json.loads(json.dumps(est.to_dict())))
    assert back.to_dict() == est.to_dict()
    assert "fc2" in format_estimate(est)


def test_part_family():
    assert part_family("xcvu13p-flga2577-2-e") == "ultrascale+"
    assert part_family("xcku115-flvb2104-2-i") == "ultrascale"
    assert part_family("xc7z020clg400-1") == "7series"
    assert part_family("xcvc1902-vsva2197-2MP-e-S") == "versal"


def _lay_out_project(root: Path) -> Path:
    """Put the real report files where hls4ml's parser looks for them."""
    prj = root / "prj"
    rep = prj / "myproject_prj" / "solution1" / "syn" / "report"
    rep.mkdir(parents=True)
    (prj / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n'
                                     'variable backend\nset backend "vivado"\n')
    shutil.copy(DATA / "vivado_hls.app", prj / "myproject_prj" / "vivado_hls.app")
    shutil.copy(DATA / "myproject_csynth.xml", rep)
    shutil.copy(DATA / "myproject_csynth.rpt", rep)
    shutil.copy(DATA / "vivado_synth.rpt", prj)
    return prj


def test_parse_real_vivado_reports(tmp_path):
    prj = _lay_out_project(tmp_path)
    rep = project_report(str(prj))
    s = rep.synth
    assert s is not None and s.source == "csynth"
    assert (s.target_clock_ns, s.estimated_clock_ns) == (5.0, 4.049)
    assert (s.latency_min, s.latency_max, s.interval_min, s.interval_max) == (10, 10, 8, 8)
    assert (s.luts, s.ffs, s.dsps, s.bram18, s.urams) == (2532, 7969, 73, 0, 0)
    assert s.available == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0}
    assert s.part == "xc7z020-clg400-1" and s.latency_ns == 50.0
    # Vivado logic synthesis (vivado_synth.rpt)
    assert s.vsynth["LUT"] == 1526 and s.vsynth["FF"] == 2428 and s.vsynth["DSP"] == 66
    assert s.vsynth["BRAM_18K"] == 0
    assert rep.estimate is None and any("autoq_export.json" in n for n in rep.notes)
    # a project autoq did not export is read, never written to
    assert not (prj / "report.json").exists() and not (prj / "report.md").exists()
    assert "2532" in format_report(rep) and "53200" in format_report(rep)


def test_report_side_by_side_with_estimate(tmp_path, hand_model):
    prj = _lay_out_project(tmp_path)
    est = estimate(hand_model, part="xc7z020clg400-1")
    (prj / "autoq_export.json").write_text(json.dumps({"estimate": est.to_dict()}))
    os.utime(prj / "autoq_export.json", (1, 1))  # older than the reports: not stale
    rep = report(str(prj))
    assert not (prj / "report.json").exists()  # reading a project writes nothing; the presentation writes it
    rep = project_report(str(prj))
    assert rep.estimate is not None and rep.estimate.mult_lut == 12 and not rep.stale
    text = format_report(rep)
    assert "estimate" in text and "synthesized" in text and "2532" in text and "fc1" in text
    saved = json.loads((prj / "report.json").read_text())  # autoq's own export: the report is written into it
    assert saved["synth"]["luts"] == 2532 and "2532" in (prj / "report.md").read_text()


def test_report_without_synthesis_says_how_to_run_it(tmp_path, hand_model):
    prj = tmp_path / "exported"
    prj.mkdir()
    (prj / "autoq_export.json").write_text(json.dumps({"estimate": estimate(hand_model).to_dict()}))
    rep = project_report(str(prj))
    assert rep.synth is None and any("build_prj.tcl" in n for n in rep.notes)
    assert (prj / "report.md").exists()


def test_report_refuses_a_folder_that_is_no_project(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "report.md").write_text("my own notes")
    with pytest.raises(ExportError, match="not an hls4ml project"):
        project_report(str(folder))
    assert (folder / "report.md").read_text() == "my own notes"


def test_cli_report(tmp_path):
    prj = _lay_out_project(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "report", str(prj)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "2532" in proc.stdout and "synthesized" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "report", str(tmp_path / "missing")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and any(line.startswith("error:") for line in proc.stderr.splitlines())
