"""Data-parallel and sharded training on torch.distributed: 2 CPU processes over Gloo.

Tolerances: parameters must be bit-identical on both ranks. Against a single-process run the
sharded mode must agree to 1e-12 in float64 (it runs the same kernels on the same data; only
where the result is formed may differ), and DDP to 1e-9 (DDP averages per-rank gradients, the
single process the whole batch: the gradients differ by rounding, ~1e-16 relative).
"""
import pytest
import torch
import torch.distributed as dist

import dist_workers
import spawn_ranks

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with Gloo is not available")

WORLD = 2


def launch(tmp_path, fn_name, args=(), timeout=150):
    """Runs dist_workers.<fn_name> on WORLD spawned ranks; returns their outcomes."""
    return spawn_ranks.launch(dist_workers.run, WORLD, tmp_path, fn_name, (args,), timeout)


def test_ddp_every_optimizer_replicated_and_equal_to_single_process(tmp_path):
    results = launch(tmp_path, "ddp_every_optimizer")
    reference = dist_workers.single_process_reference()
    assert set(results[0]) == {name for name, _, _ in dist_workers.OPTIMIZERS}
    for name, ref in reference.items():
        for rank in range(WORLD):
            r = results[rank][name]
            assert r["spread"] == 0.0, f"{name}: ranks differ by {r['spread']}"
            diff = float((r["params"] - ref).abs().max())
            assert diff < 1e-9, f"{name}: rank {rank} differs from one process by {diff}"


def test_sharded_mode_on_top_of_ddp(tmp_path):
    results = launch(tmp_path, "ddp_every_optimizer", args=(True,))
    reference = dist_workers.single_process_reference()
    for name, ref in reference.items():
        r = results[0][name]
        assert r["spread"] == 0.0, f"{name}: ranks differ by {r['spread']}"
        diff = float((r["params"] - ref).abs().max())
        assert diff < 1e-9, f"{name}: sharded DDP differs from one process by {diff}"


def test_sharded_equals_local_and_splits_the_work(tmp_path):
    results = launch(tmp_path, "sharded_vs_local")
    for name, r0 in results[0].items():
        r1 = results[1][name]
        for rank, r in enumerate((r0, r1)):
            assert r["spread"] == 0.0, f"{name}: ranks differ by {r['spread']}"
            assert r["diff_vs_local"] <= 1e-12, \
                f"{name}: rank {rank} vs local: {r['diff_vs_local']}"
            # ...and the C++ optimizer: the parity test's claim holds on the sharded path.
            assert r["diff_vs_cpp"] <= 1e-12, f"{name}: rank {rank} vs C++: {r['diff_vs_cpp']}"
            assert r["state_diff"] <= 1e-12, f"{name}: state vs local: {r['state_diff']}"
        for s0, s1 in zip(r0["stats"], r1["stats"]):
            assert s0["jobs"] == s1["jobs"]
            assert s0["computed_here"] + s1["computed_here"] == s0["jobs"]
            if s0["jobs"] >= 2:  # both ranks got a share
                assert s0["computed_here"] > 0 and s1["computed_here"] > 0, (name, s0, s1)
    # NSGD has nothing expensive: nothing to exchange.
    assert results[0]["NSGD"]["stats"][0]["jobs"] == 0


def test_sharded_mode_batches_same_shape_muon_matrices(tmp_path):
    """Same-shape Muon matrices a rank owns are computed as one batched polar factor. The
    result must be what the local optimizer computes matrix by matrix: within 1e-12 in fp64
    and 1e-6 in fp32 compute (the batched products are the same GEMMs per slice), and the
    same on both ranks bit for bit."""
    results = launch(tmp_path, "sharded_batched")
    for name, _, expected_batches, tol in dist_workers.BATCHED:
        r0, r1 = results[0][name], results[1][name]
        for rank, r in enumerate((r0, r1)):
            assert r["spread"] == 0.0, f"{name}: ranks differ by {r['spread']}"
            assert r["diff_vs_local"] <= tol, f"{name}: rank {rank} vs local: {r['diff_vs_local']}"
        for s0, s1 in zip(r0["stats"], r1["stats"]):
            assert s0["batch_sizes"] == s1["batch_sizes"] == expected_batches, (name, s0)
            assert s0["batched_jobs"] == len(expected_batches)
            assert s0["computed_here"] + s1["computed_here"] == s0["jobs"]
            assert s0["computed_here"] > 0 and s1["computed_here"] > 0, (name, s0, s1)
    # 9 matrices; each rank's three 32 x 32 layers became one job.
    assert results[0]["Muon"]["stats"][0]["jobs"] == 9 - 4


def test_mismatched_world_fails_clearly_instead_of_hanging(tmp_path):
    results = launch(tmp_path, "mismatched_world", timeout=120)
    for rank, r in enumerate(results):
        assert "non-finite" in r["nan"] or "refused the step" in r["nan"], r["nan"]
        assert r["nan_unchanged"], f"rank {rank}: a refused step changed something"
        assert "do not hold the same parameters" in r["mismatch"], r["mismatch"]
        assert "rank 0: 6 parameters" in r["mismatch"] and "rank 1: 7 parameters" in r["mismatch"]
        assert r["mismatch_unchanged"]
        assert "do not hold the same parameters" in r["shape"], r["shape"]
        assert r["after"] == 0.0
    assert "rank 1" in results[1]["nan"] and "param 0" in results[1]["nan"]
    assert "rank(s) [1] refused the step" in results[0]["nan"]


def test_a_rank_that_fails_tells_the_others_and_a_retry_works(tmp_path):
    results = launch(tmp_path, "failing_rank")
    for rank, r in enumerate(results):
        assert "the step failed on rank(s) [1]" in r["error"], r["error"]
        assert "MemoryError: out of memory (injected)" in r["error"], r["error"]
        assert "computing the direction of group 0, param " in r["error"], r["error"]
        assert r["unchanged"], f"rank {rank}: the failed step changed the state"
        assert r["after_retry"] <= 1e-12, r["after_retry"]
        assert r["spread"] == 0.0


def test_an_absent_rank_is_named_within_the_timeout(tmp_path):
    r = launch(tmp_path, "absent_rank", timeout=60)[0]
    assert "did not complete within 2 s" in r["first"], r["first"]
    assert "1" in r["first"].split("monitored barrier")[1], r["first"]
    assert r["waited"] < 15, r["waited"]
    assert "cannot be used again" in r["second"], r["second"]
    assert r["second_waited"] < 1, r["second_waited"]


def test_ranks_with_different_options_are_refused_naming_the_option(tmp_path):
    results = launch(tmp_path, "different_options")
    for r in results:
        assert "group 0 option lr: 0.02" in r["lr"] and "'group 0 option lr: 0.03'" in r["lr"], \
            r["lr"]
        assert "option momentum: 0.9" in r["momentum"], r["momentum"]
        assert "'group 0 direction: 0.5*muon + 0.5*nsgd'" in r["direction"], r["direction"]
        for name in ("lr", "momentum", "direction"):
            assert "do not hold the same parameters and options" in r[name], r[name]
            assert r[name + "_unchanged"]


def test_sharded_mode_needs_an_initialized_process_group():
    import fanion
    p = torch.nn.Parameter(torch.randn(4, 4))
    opt = fanion.Muon([p], distributed=True)
    p.grad = torch.randn(4, 4)
    with pytest.raises(RuntimeError, match="init_process_group"):
        opt.step()
