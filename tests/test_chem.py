"""`invdesign.chem` (the ``[chem]`` extra) and `invdesign.models.SequenceVAE`: SELFIES tokens, RDKit
oracles, the MOSES data, and a sequence VAE trained on a few hundred molecules."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

if importlib.util.find_spec("rdkit") is None or importlib.util.find_spec("selfies") is None:
    pytest.skip('the chemistry extra is not installed (pip install -e ".[chem]")', allow_module_level=True)

import invdesign.chem as chem
from invdesign.chem.moses import load_moses, moses_path
from invdesign.models.sequence_vae import BOS_ID, EOS_ID, PAD_ID, SequenceVAE, fit_sequence_vae, reconstruction_accuracy

MOLECULES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCCCCCC1", "CN1CCC[C@H]1c1cccnc1"]


def test_selfies_round_trip_and_failed_decodes():
    selfies = chem.to_selfies([*MOLECULES, "not a molecule", None])
    assert selfies[-2] is None and selfies[-1] is None
    assert all(isinstance(s, str) for s in selfies[:-2])
    assert chem.to_smiles([s for s in selfies if s]) == chem.to_smiles(chem.to_selfies(MOLECULES))
    # Canonical SMILES in, the same canonical SMILES out.
    from rdkit import Chem

    assert chem.to_smiles([s for s in selfies if s]) == [Chem.MolToSmiles(Chem.MolFromSmiles(m)) for m in MOLECULES]
    assert chem.to_smiles([""]) == [None]


def test_vocabulary_encodes_pads_and_decodes():
    selfies = [s for s in chem.to_selfies(MOLECULES) if s]
    vocab = chem.Vocabulary.from_selfies(selfies)
    ids = vocab.encode(selfies)
    assert ids.shape == (len(selfies), vocab.length) and ids.dtype == torch.long
    assert (ids[:, 0] == BOS_ID).all() and ((ids == EOS_ID).sum(dim=1) == 1).all()
    assert vocab.decode(ids) == selfies
    assert chem.Vocabulary.from_dict(vocab.to_dict()).tokens == vocab.tokens
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.encode(["[Xe]"])
    with pytest.raises(ValueError, match="max_len"):
        chem.Vocabulary(["[C]"], max_len=2).encode(["[C][C][C]"])
    with pytest.raises(ValueError, match="reserved"):
        chem.Vocabulary(["<pad>", "[C]"], max_len=4)


def test_property_oracles():
    q = chem.qed([*MOLECULES, None, "C1CC"])
    assert q.dtype == torch.float64 and q.shape == (7,)
    assert ((q[:5] > 0) & (q[:5] < 1)).all() and q[5:].isnan().all()
    # Paracetamol is more drug-like than ethanol.
    assert q[2] > q[0]
    p = chem.penalized_logp(MOLECULES)
    assert torch.isfinite(p).all()
    # An eight-membered ring costs (8 - 6) cycle units: cyclooctane scores below cyclohexane by that much more.
    ring6, ring8 = chem.penalized_logp(["C1CCCCC1", "C1CCCCCCC1"]).tolist()
    assert ring8 < ring6
    s = chem.similarity([*MOLECULES, None], MOLECULES[2])
    assert s[2] == 1.0 and ((s[:5] >= 0) & (s[:5] <= 1)).all() and math.isnan(float(s[5]))
    with pytest.raises(ValueError, match="reference"):
        chem.similarity(MOLECULES, "nonsense(")


@pytest.fixture(scope="module")
def moses_sample() -> list[str]:
    try:
        moses_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    return load_moses(300, seed=0)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    """One cache folder for the tests that use the same small recipe, so that it is trained once."""
    return str(tmp_path_factory.mktemp("cache"))


SMALL = {"n_molecules": 300, "latent_dim": 8, "embed_dim": 16, "hidden": 48, "epochs": 15, "anneal_epochs": 3, "batch_size": 32, "lr": 3e-3}
"""A recipe that trains in seconds and decodes molecules."""


def test_moses_subsets_are_seeded(moses_sample):
    assert len(moses_sample) == 300 and moses_sample == load_moses(300, seed=0)
    assert moses_sample != load_moses(300, seed=1)
    with pytest.raises(ValueError, match="n must be"):
        load_moses(0)


def test_sequence_vae_learns_to_reconstruct_and_decodes_valid_molecules(moses_sample):
    selfies = [s for s in chem.to_selfies(moses_sample) if s]
    vocab = chem.Vocabulary.from_selfies(selfies)
    ids = vocab.encode(selfies)
    vae = SequenceVAE(vocab.tokens, vocab.length, latent_dim=8, embed_dim=16, hidden=48)
    before = reconstruction_accuracy(vae, ids)[0]
    report = fit_sequence_vae(vae, ids, epochs=15, batch_size=32, lr=3e-3, anneal_epochs=3, seed=0, progress=False)
    after = reconstruction_accuracy(vae, ids)[0]
    assert report.train_recon[-1] < report.train_recon[0]
    assert after > before + 0.2, (before, after)
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    out = vae.generate(z, temperature=1.0, seed=0)
    assert out.shape == (64, vocab.length) and (out[:, 0] == BOS_ID).all()
    assert torch.equal(out, vae.generate(z, temperature=1.0, seed=0))
    # Nothing but padding after each sequence's end token.
    ended = (out == EOS_ID).cumsum(dim=1) > 0
    assert (out[ended & (out != EOS_ID)] == PAD_ID).all()
    smiles = chem.to_smiles(vocab.decode(out))
    assert sum(s is not None for s in smiles) >= 60  # SELFIES: every non-empty decode is a molecule


def test_sequence_vae_refuses_bad_ids():
    vae = SequenceVAE(["<pad>", "<bos>", "<eos>", "[C]"], 5, latent_dim=2, hidden=4, embed_dim=4)
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        vae.encode(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="vocabulary's size"):
        vae.encode(torch.full((2, 5), 9, dtype=torch.long))
    with pytest.raises(ValueError, match="z must have shape"):
        vae.generate(torch.zeros(2, 3))


def test_a_saved_sequence_vae_decodes_the_same(tmp_path):
    import invdesign as ivd

    vae = ivd.models.SequenceVAE(["<pad>", "<bos>", "<eos>", "[C]", "[O]", "[N]"], 7, latent_dim=3, hidden=8, embed_dim=4)
    ivd.models.save(vae, tmp_path / "vae.safetensors")
    loaded = ivd.models.load(tmp_path / "vae.safetensors")
    assert isinstance(loaded, ivd.models.SequenceVAE) and loaded.tokens == vae.tokens
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.generate(z), vae.eval().generate(z))


def test_the_moses_vae_is_trained_once_then_loaded_from_the_cache(moses_sample, tmp_path, monkeypatch, capsys):
    from invdesign.chem.pretrained import Recipe, moses_vae, sample_quality

    monkeypatch.setenv("INVDESIGN_CACHE", str(tmp_path))
    recipe = Recipe(n_molecules=200, latent_dim=4, embed_dim=8, hidden=16, epochs=2, anneal_epochs=1, batch_size=50)
    first = moses_vae(recipe, progress=False)
    assert first.report is not None and "trained the MOSES SELFIES VAE on" in capsys.readouterr().out
    assert (tmp_path / recipe.file_name).is_file()
    # The training molecules are kept beside the weights: loading does not read MOSES again.
    monkeypatch.setattr("invdesign.chem.pretrained.load_moses", lambda *a, **k: pytest.fail("MOSES read on a cache hit"))
    again = moses_vae(recipe, progress=False)
    assert again.report is None and again.vocabulary.tokens == first.vocabulary.tokens
    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    assert again.decode(z) == first.decode(z)
    codes = again.encode(again.smiles[:10])
    assert codes.shape == (10, 4)
    quality = sample_quality(again, 200)
    assert 0 < quality["validity"] <= 1 and 0 < quality["uniqueness"] <= 1 and 0 <= quality["novelty"] <= 1


def test_set_quality_follows_the_moses_definitions():
    from invdesign.chem.quality import internal_diversity, set_quality

    smiles = ["CCO", "CCO", "c1ccccc1O", None, "CC(=O)Nc1ccc(O)cc1"]
    quality = set_quality(smiles, {"CCO"})
    assert quality["validity"] == 4 / 5 and quality["uniqueness"] == 3 / 4 and quality["novelty"] == 2 / 3
    (a, b), (c,) = chem.similarity(["CCO", "c1ccccc1O"], "CC(=O)Nc1ccc(O)cc1").tolist(), chem.similarity(["CCO"], "c1ccccc1O").tolist()
    assert quality["diversity"] == pytest.approx(((1 - a) + (1 - b) + (1 - c)) / 3)
    assert internal_diversity(["CCO", "CCO"]) != internal_diversity(["CCO", "CCO"])  # NaN: one distinct molecule
    empty = set_quality([None, None], set(), diversity=False)
    assert empty["validity"] == 0 and math.isnan(empty["uniqueness"]) and "diversity" not in empty


def test_a_molecule_task_scores_decoded_codes_with_rdkit(moses_sample, shared_cache, monkeypatch):
    import invdesign as ivd
    from invdesign.chem.pretrained import Recipe
    from invdesign.tasks.molecules import LATENT_BOUND, molecule_task

    monkeypatch.setenv("INVDESIGN_CACHE", shared_cache)
    recipe = Recipe(**SMALL)
    task = molecule_task("qed", recipe=recipe, name="tiny_qed")
    assert task.space.dim == 8 and float(task.space.upper[0]) == LATENT_BOUND and task.kind == "minimize"
    X, Y = task.make_data(30, seed=0)
    assert X.shape == (30, 8) and Y.shape == (30, 1)
    valid = torch.isfinite(Y[:, 0])
    assert valid.any() and ((Y[valid] <= 0) & (Y[valid] >= -1)).all()  # negated QED
    result = ivd.minimize(task.objective(), "random", max_evals=20, seed=0)
    assert result.nfev == 20 and -1 <= result.fun <= 0
    logp = molecule_task("plogp", recipe=recipe, name="tiny_plogp")
    assert torch.isfinite(logp.oracle(X[:5])).any()


def test_the_similarity_constrained_task_fails_designs_far_from_the_start(moses_sample, tmp_path, monkeypatch):
    from invdesign.chem.pretrained import Recipe, moses_vae
    from invdesign.tasks.molecules import molecule_task

    monkeypatch.setenv("INVDESIGN_CACHE", str(tmp_path))
    recipe = Recipe(n_molecules=200, latent_dim=4, embed_dim=8, hidden=16, epochs=2, anneal_epochs=1, batch_size=50)
    model = moses_vae(recipe, progress=False)
    z = torch.randn(40, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    decoded = model.decode(z.float())
    start = next(s for s in decoded if s)
    free = molecule_task("qed", recipe=recipe).oracle(z)[:, 0]
    near = molecule_task("qed", recipe=recipe, similar_to=start, min_similarity=0.6)
    assert near.name == "molecules_qed_near"
    constrained = near.oracle(z)[:, 0]
    close = chem.similarity(decoded, start) >= 0.6
    assert close.any() and torch.equal(constrained[close], free[close]) and constrained[~close].isnan().all()
    quality = near.describe(z)
    assert set(quality) == {"validity", "uniqueness", "novelty", "diversity"} and quality["validity"] > 0
    with pytest.raises(ValueError, match="start molecule"):
        molecule_task("qed", recipe=recipe, similar_to="nonsense(")
    with pytest.raises(ValueError, match="min_similarity"):
        molecule_task("qed", recipe=recipe, similar_to=start, min_similarity=0)


def test_the_benchmark_reports_a_molecule_tasks_design_columns(moses_sample, shared_cache, monkeypatch):
    from invdesign import benchmark
    from invdesign.chem.pretrained import Recipe
    from invdesign.tasks.molecules import molecule_task

    monkeypatch.setenv("INVDESIGN_CACHE", shared_cache)
    recipe = Recipe(**SMALL)
    task = molecule_task("qed", recipe=recipe, n_reference=500)
    table = benchmark.run([task], ["gd"], seeds=1, k=16, n_train=100, epochs=5, progress=False)
    row = table.iloc[0]
    for column in ("design_validity", "design_uniqueness", "design_novelty", "design_diversity", "gap"):
        assert math.isfinite(row[column]), column
    assert "| validity | uniqueness | novelty | diversity |" in benchmark.markdown(table)
