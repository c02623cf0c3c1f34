"""The config is resolved once: the CLI applies its options with ``resolve``, and ``run_search`` takes the
``Resolved`` config as it is (no second validation, no second set of options)."""
import pytest

from helpers_search import TINY, write_config

from autoq.searching.run import resolve, run_search


def test_resolve_applies_the_options_and_remembers_a_given_output_folder(tmp_path):
    path = str(write_config(tmp_path))
    r = resolve(path, max_trials=2, seed=5, output_dir=tmp_path / "o", algorithm="bayesian")
    s = r.config.search
    assert (s.max_trials, r.config.seed, s.output_dir, s.algorithm) == (2, 5, str(tmp_path / "o"), "bayesian")
    assert r.output_given and not resolve(path).output_given
    assert resolve(path).config.search.output_dir == "out"  # the file's, taken from the current folder later


def test_a_resolved_config_takes_no_second_set_of_options(tmp_path):
    with pytest.raises(TypeError, match="overrides applied already"):
        run_search(config=resolve(str(write_config(tmp_path))), seed=1, verbose=False)


def test_a_resolved_config_is_searched_as_it_is(tmp_path):
    r = resolve(TINY, max_trials=1, output_dir=tmp_path / "out")
    res = run_search(config=r, verbose=False)
    assert res.config is r.config  # not validated again into a copy
    assert len(res.trials) == 1 and res.summary["config"] == r.config.to_dict()
