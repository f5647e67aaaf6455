"""scripts/plot_lsq_grid.py: the slices of one grid are joined cell by cell and drawn."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "plot_lsq_grid.py")


def load():
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("plot_lsq_grid", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cell(lr, momentum, first=None, iters=1100, stopped=False, loss=2e-3):
    return {"algorithm": "muon", "phase": "grid", "lr": lr, "momentum": momentum,
            "iterations_to_target": first,
            "checked_iterations_to_target": None if first is None else -(-first // 10) * 10,
            "iterations": iters if first is None else first, "stopped_early": stopped,
            "diverged": False, "final_loss": loss if first is None else 9e-4,
            "paper": {"lr": 0.007, "momentum": 0.5, "iterations_to_target": 1060}}


def grid_doc(runs, max_iters=1100):
    return {"command": "lsq", "schema_version": 1,
            "config": {"target": 1e-3, "max_iters": max_iters, "instance": "authors",
                       "ns_steps": 3, "ns_dtype": "bfloat16", "paper_setup": True},
            "runs": runs}


def test_slices_are_joined_cell_by_cell():
    g = load()
    a = grid_doc([cell(0.007, 0.5, first=1051), cell(0.008, 0.5, iters=1051, stopped=True)])
    b = grid_doc([cell(0.007, 0.6), cell(0.008, 0.6, first=1030),
                  # the same cell again from another slice, run to the end this time
                  cell(0.008, 0.5, first=1090)])
    cells, config = g.cells_of([a, b])
    assert len(cells) == 4
    assert cells[g.key("muon", 0.008, 0.5)]["iterations_to_target"] == 1090  # a crossing wins
    assert g.best_cell(cells, "muon") == g.key("muon", 0.008, 0.6)
    assert config["max_iters"] == 1100

    authors = {g.key("muon", 0.007, 0.5): 1060, g.key("muon", 0.007, 0.4): 1080,
               g.key("muon", 0.008, 0.6): None}
    table = g.markdown(cells, authors, "muon")
    assert "| 0.007 | 0.4 | not run | 1080 |" in table
    assert "| 0.007 | 0.5 | 1051 / 1060 | 1060 |" in table
    assert "| 0.008 | 0.6 | 1030 / 1030 | — |" in table
    assert "0.007 | 0.6" not in table  # reached in neither grid

    with pytest.raises(ValueError, match="max_iters"):
        g.cells_of([a, grid_doc([], max_iters=2000)])


def test_authors_csv_and_the_figure(tmp_path):
    load()
    paths = []
    for i, runs in enumerate(([cell(0.007, 0.5, first=1051), cell(0.008, 0.5)],
                              [cell(0.007, 0.6, stopped=True, iters=1051)])):
        p = tmp_path / ("slice%d.json" % i)
        p.write_text(json.dumps(grid_doc(runs)))
        paths.append(str(p))
    csv = tmp_path / "authors.csv"
    csv.write_text("algorithm_name,learning_rate,momentum,below_thresh_iter\n"
                   "Muon,0.007,0.5,1060\nMuon,0.008,0.5,-1\n")
    out = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, SCRIPT, *paths, "--authors-csv", str(csv), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| 0.007 | 0.5 | 1051 / 1060 | 1060 |" in r.stdout
    assert out.stat().st_size > 10_000

    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(grid_doc([])))
    r = subprocess.run([sys.executable, SCRIPT, str(empty), str(tmp_path / "x.png")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no grid runs" in r.stderr
