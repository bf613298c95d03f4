from __future__ import annotations

import pytest
import torch

import invdesign as ivd
from invdesign.tasks.digits import TargetEnergy, load_images, make_digits, target_doubt, target_score


@pytest.fixture(scope="module")
def digits():
    return make_digits(0, epochs=20)


def test_load_images_are_the_real_digits():
    images, labels = load_images()
    assert images.shape == (1797, 1, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16
    assert set(labels.tolist()) == set(range(10))


def test_target_score_weights_classes_by_distance_to_three():
    logits = torch.full((3, 10), -1e4)
    logits[0, 3] = logits[1, 4] = logits[2, 0] = 0.0
    assert torch.allclose(target_score(logits), torch.tensor([1.0, torch.e**-2, torch.e**-18]))


def test_target_doubt_resolves_scores_that_round_to_one():
    logits = torch.zeros(2, 10)
    logits[:, 3] = torch.tensor([20.0, 25.0])
    assert torch.equal(target_score(logits), torch.ones(2)), "float32 cannot tell these scores from 1"
    doubt = target_doubt(logits)
    assert (doubt > 0).all() and doubt[1] < doubt[0]
    assert torch.allclose(target_doubt(logits.double()), 1 - target_score(logits.double()), rtol=1e-4, atol=0)


def test_halves_are_disjoint_and_classifiers_generalise(digits):
    assert set(digits.half_a.tolist()).isdisjoint(digits.half_b.tolist())
    assert digits.half_a.numel() + digits.half_b.numel() == 1797
    accuracy = digits.accuracy()
    assert accuracy["surrogate"] > 0.85 and accuracy["oracle"] > 0.85
    assert type(digits.surrogate) is not type(digits.oracle)


def test_scores_energy_and_realism(digits):
    threes = digits.images[digits.labels == 3][:10]
    assert digits.oracle_score(threes).mean() > 0.8
    assert torch.allclose(digits.energy()(threes.flatten(1)), -digits.surrogate_score(threes))
    surrogate_doubt = digits.doubts(threes)[0]
    assert torch.allclose(digits.energy(log_doubt=True)(threes.flatten(1)), surrogate_doubt.log())
    assert torch.equal(digits.nearest_real_distance(threes), torch.zeros(10))
    surrogate_doubt, oracle_doubt = digits.doubts(threes)
    assert torch.allclose(oracle_doubt, 1 - digits.oracle_score(threes), atol=1e-6)
    assert torch.allclose(surrogate_doubt, 1 - digits.surrogate_score(threes), atol=1e-6)
    noise = torch.rand(5, 64, generator=torch.Generator().manual_seed(0)) * 16
    assert (digits.nearest_real_distance(noise) > 0.2).all()


def test_target_energy_is_an_objective_model(digits):
    obj = ivd.Objective(TargetEnergy(digits.surrogate), digits.space)
    assert obj.differentiable and obj.dim == 64


def test_the_digits_task_oracle_does_not_depend_on_the_global_generator():
    from invdesign.tasks.digits import _DigitsOracle

    images, _ = load_images()
    x = images[:5].flatten(1)
    torch.manual_seed(1)
    with torch.no_grad():
        first = _DigitsOracle()(x)
    torch.manual_seed(2)
    second = _DigitsOracle()(x)
    assert torch.equal(first, second.detach())
