"""FSDP2 (fully_shard) and DTensor parameters on 2 and 4 CPU processes over Gloo.

The direction of a sharded matrix must be the whole matrix's: the sharded run equals a single
process on whole tensors. Tolerance 1e-12 in float64: the same kernels run on the same numbers;
FSDP2's reduce-scatter averages identical gradients (exact for 2 and 4 ranks) and its forward
all-gathers the same weights, so the gap is rounding at most.
"""
import pytest
import torch
import torch.distributed as dist

import fanion
import fsdp_workers
import spawn_ranks

pytestmark = [
    pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                       reason="torch.distributed with Gloo is not available"),
    pytest.mark.skipif(not fanion.dtensor.fsdp2_available(),
                       reason=f"FSDP2 and DTensor need torch >= 2.6 (this is {torch.__version__})"),
]
TOL = 1e-12


def launch(tmp_path, world, fn_name, timeout=240):
    """fsdp_workers.<fn_name> on `world` spawned ranks; a hang fails (the ranks are killed)."""
    return spawn_ranks.launch(fsdp_workers.run, world, tmp_path, fn_name, (), timeout)


@pytest.mark.parametrize("world", [2, 4])
def test_fully_shard_equals_single_process(tmp_path, world):
    results = launch(tmp_path, world, "fsdp_vs_single")
    for name in fsdp_workers.OPTIMIZERS:
        for rank, r in enumerate(results):
            assert r[name]["gap"] <= TOL, (name, rank, r[name]["gap"])
        stats = [r[name]["stats"] for r in results]
        assert all(s["matrices"] == 3 for s in stats)  # the three weight matrices, gathered
        assert sum(s["owned"] for s in stats) == 3     # each computed by exactly one owner
        assert all(s["bytes_sent"] > 0 for s in stats)
        # Fanion-k sends U and V where they are fewer numbers than the slices (10x12, k=2).
        assert all((s["factored"] > 0) == (name == "fanion_warm") for s in stats), stats
        # The state stays sharded: each rank holds about 1/world of it, never all of it.
        whole = sum(p.numel() for p in fsdp_workers.make_model().parameters()) * 8
        assert all(s["state_bytes"] < whole for s in stats), (stats, whole)


def test_checkpoint_of_a_sharded_run_resumes_the_trajectory(tmp_path):
    for rank, r in enumerate(launch(tmp_path, 2, "checkpoint_resume")):
        assert r["has_bases"], rank
        assert r["gap"] <= TOL, (rank, r["gap"])


@pytest.mark.parametrize("world", [2, 4])
def test_distribute_tensor_by_hand(tmp_path, world):
    for rank, r in enumerate(launch(tmp_path, world, "by_hand")):
        assert r["gap"] <= TOL, (rank, r["gap"])
        assert "non-finite" in r["nan_error"] and "rows" in r["nan_error"], r["nan_error"]
        assert r["unchanged"], rank
        assert r["warm_gap"] <= TOL and r["warm_bases"] == [True], (rank, r)
        if world == 4:
            assert "blocks" in r["placement_error"] and "2 mesh dimensions" in \
                r["placement_error"], r["placement_error"]


def test_an_absent_rank_fails_the_step_within_the_timeout(tmp_path):
    r = launch(tmp_path, 2, "absent_rank", timeout=60)[0]
    assert "did not complete within timeout=2 s on rank 0" in r["message"], r["message"]
    assert r["waited"] < 15, r["waited"]
