"""A search's output folder, named once: the files autoq writes there (with the folders of ``folder.OWN_ENTRIES``)."""
from __future__ import annotations

STATE = "state.json"  # the prepared search (fingerprint, reference cost, baselines): resume and workers read it
SUMMARY = "summary.json"  # the finished search
FLOAT_MODEL = "float_model.h5"
BEST_MODEL = "best_model.h5"  # the winner (absent when no trial meets the constraints)
TRIALS_CSV = "trials.csv"
PARETO_CSV = "pareto.csv"
PARETO_PNG = "pareto.png"
DATA_SAMPLE = "data_sample.npz"  # the first validation samples: what an export checks the firmware on
TRIALS = "trials"  # trials/<id>/record.json (+ model.h5)
RECORD = "record.json"
TRIAL_MODEL = "model.h5"
BASELINES = "baselines"  # baselines/<name>.h5
TUNER = "tuner"  # keras-tuner's project (one per stage with search.blocks)
STRATEGY = "strategy"  # a strategy's cache: sensitivities, learned bits
