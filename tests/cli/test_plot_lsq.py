"""scripts/plot_lsq.py: several files of one `--seeds` study are drawn as one."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "plot_lsq.py")


def study(first_seed, counts):
    """A minimal `fanion lsq --seeds` document: one algorithm, one run per seed."""
    runs = [{"algorithm": "muon", "phase": "run", "seed": first_seed + i,
             "iterations_to_target": c, "loss": [[0, 300.0], [10, 1.0]]}
            for i, c in enumerate(counts)]
    hit = [c for c in counts if c is not None]
    return {"command": "lsq", "schema_version": 1,
            "config": {"seed": first_seed, "seeds": len(counts), "max_iters": 1200,
                       "target": 1e-3},
            "runs": runs,
            "seeds": [{"algorithm": "muon", "iterations_to_target": counts, "reached": len(hit),
                       "median": None, "min": min(hit), "max": max(hit)}]}


def test_two_files_of_one_seed_study_are_joined(tmp_path):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        spec = importlib.util.spec_from_file_location("plot_lsq", SCRIPT)
        plot_lsq = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plot_lsq)
    finally:
        sys.path.pop(0)
    doc = plot_lsq.joined([study(42, [900, None, 1000, 950]), study(46, [880, 990, None, 960])])
    g = doc["seeds"][0]
    assert g["iterations_to_target"] == [900, None, 1000, 950, 880, 990, None, 960]
    assert (g["reached"], g["min"], g["max"]) == (6, 880, 1000)
    assert g["median"] == 960  # lower median of 8, the two 'never' counted as infinite
    assert (doc["config"]["seed"], doc["config"]["seeds"]) == (42, 8)
    assert len(doc["runs"]) == 8

    paths = []
    for first, counts in ((42, [900, None, 1000, 950]), (46, [880, 990, None, 960])):
        p = tmp_path / ("s%d.json" % first)
        p.write_text(json.dumps(study(first, counts)))
        paths.append(str(p))
    out = tmp_path / "joined.png"
    r = subprocess.run([sys.executable, SCRIPT, *paths, str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000
