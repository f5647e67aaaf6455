"""`fanion lsq --seeds N`: the same runs on N problem seeds, summarized per algorithm (median
with "never" counted as infinite, range, seeds reaching the target), and Table 3's counts shown
only beside the paper's own setup."""
import json
import statistics

from test_train_cli import run

SMALL = ["--m", "40", "--n", "30", "--algorithms", "muon,nsgd", "--max-iters", "300",
         "--stop-at-target", "--no-grad-norms", "--quiet"]


def test_seeds_summary_matches_the_runs(tmp_path):
    out = tmp_path / "seeds.json"
    r = run("lsq", *SMALL, "--target", "1e-2", "--seed", "5", "--seeds", "3", "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["seeds"] == 3 and not doc["config"]["paper_setup"]
    assert [run_["seed"] for run_ in doc["runs"]] == [5, 5, 6, 6, 7, 7]
    for g in doc["seeds"]:
        mine = [x["iterations_to_target"] for x in doc["runs"] if x["algorithm"] == g["algorithm"]]
        assert g["iterations_to_target"] == mine
        assert g["reached"] == 3 and g["min"] == min(mine) and g["max"] == max(mine)
        assert g["median"] == statistics.median_low(mine)
    assert "over 3 problem seeds (5..7" in r.stdout, r.stdout
    # Not the paper's 500x500 problem at 1e-3: no Table 3 counts, and a line saying why.
    assert "1060" not in r.stdout and "Table 3 is for 500x500" in r.stdout, r.stdout


def test_a_seed_that_never_reaches_makes_the_median_never_when_most_do_not(tmp_path):
    out = tmp_path / "never.json"
    r = run("lsq", *SMALL, "--target", "1e-9", "--max-iters", "5", "--seeds", "2", "--json",
            str(out))
    assert r.returncode == 0, r.stderr
    for g in json.loads(out.read_text())["seeds"]:
        assert g["reached"] == 0 and g["median"] is None and g["max"] is None


def test_seeds_with_a_grid_is_refused():
    r = run("lsq", *SMALL, "--grid", "--seeds", "2")
    assert r.returncode == 2 and "--seeds: a grid search runs on one problem" in r.stderr, r.stderr
