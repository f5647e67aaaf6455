"""fanion.param_groups: the usual Muon/AdamW split of a model's parameters."""
import pytest
import torch
from torch import nn

import fanion


class TinyLM(nn.Module):
    def __init__(self, vocab=50, dim=16, tied=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(8, dim)
        self.block = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.ln = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        if tied:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        x = self.wte(idx) + self.wpe(pos)
        return self.lm_head(self.ln(x + self.block(x)))


def parts(model, **kw):
    return {name: (part, reason) for name, _, part, reason in
            fanion.split_parameters(model, **kw)}


@pytest.mark.parametrize("tied", [True, False])
def test_language_model_split(tied):
    split = parts(TinyLM(tied=tied))
    matrices = sorted(n for n, (part, _) in split.items() if part == "matrix")
    assert matrices == ["block.0.weight", "block.2.weight"]
    assert split["wte.weight"] == ("adamw", "embedding")
    assert split["wpe.weight"] == ("adamw", "embedding")
    assert split["ln.weight"][0] == "adamw" and split["block.0.bias"] == ("adamw", "rank 1")
    if tied:
        assert "lm_head.weight" not in split  # the same tensor as wte.weight: listed once
    else:
        assert split["lm_head.weight"] == ("adamw", "output head")  # out_features == vocab


def test_classifier_head_is_the_last_linear():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.Linear(8 * 26 * 26, 32),
                          nn.ReLU(), nn.Linear(32, 10))
    split = parts(model)
    assert split["0.weight"] == ("matrix", "hidden matrix")  # conv: its (out, in*kh*kw) view
    assert split["2.weight"] == ("matrix", "hidden matrix")
    assert split["4.weight"] == ("adamw", "output head")
    assert parts(model, head=None)["4.weight"][0] == "matrix"
    assert parts(model, head="2", adamw=["4.weight"])["2.weight"] == ("adamw", "output head")


def test_groups_train_with_an_optimizer(capsys):
    torch.manual_seed(0)
    model = TinyLM()
    groups = fanion.param_groups(model, adamw_lr=1e-3, adamw_weight_decay=0.01, verbose=True)
    printed = capsys.readouterr().out
    assert "wte.weight" in printed and "embedding" in printed and "hidden matrix" in printed
    assert len(groups) == 2 and groups[1]["use_adamw"] and groups[1]["lr"] == 1e-3
    opt = fanion.FMuon(groups, lr=0.02)
    assert opt.param_groups[1]["adamw_weight_decay"] == 0.01
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    idx = torch.randint(0, 50, (2, 8))
    nn.functional.cross_entropy(model(idx).flatten(0, 1), idx.flatten()).backward()
    opt.step()
    for n, p in model.named_parameters():
        assert not torch.equal(p, before[n]), n
    # The matrices moved by lr * ||d||: F-Muon's direction has spectral norm <= 1.
    w = dict(model.named_parameters())["block.0.weight"]
    assert torch.linalg.matrix_norm(w - before["block.0.weight"], 2) <= 0.02 * (1 + 1e-4)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="nn.Module"):
        fanion.param_groups([torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="head 'nope'"):
        fanion.param_groups(TinyLM(), head="nope")
    with pytest.raises(ValueError, match="adamw_lr"):
        fanion.param_groups(TinyLM(), adamw_lr=-1)


def test_an_embedding_given_to_the_matrix_direction_warns_by_name():
    model = TinyLM()
    with pytest.warns(UserWarning, match="wte.weight looks like an embedding"):
        fanion.Muon(model.named_parameters())
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the usual split warns about nothing
        fanion.Muon(fanion.param_groups(model))
        fanion.Muon(model.parameters())  # no names: nothing to go by
