"""A `Space` that cannot work says so, clearly and early: the message names the problem.

Bad variables, fixed values and constraints fail at construction, before any search; a model of
the wrong width fails when the `Objective` is built; a nonlinear constraint of the wrong shape,
or one returning NaN, fails on its first evaluation in `minimize`; a solver asked for a kind it
does not handle names the solvers that do. `Linear.parse` reads constraints as written.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import invdesign as ivd
from invdesign.adapter import ModelError

Real, Integer, Categorical, Composition, Space, Linear = ivd.Real, ivd.Integer, ivd.Categorical, ivd.Composition, ivd.Space, ivd.Linear


def ab(**kwargs) -> Space:
    """Two reals ``a`` and ``b`` in ``[0, 1]``."""
    return Space([Real("a", 0.0, 1.0), Real("b", 0.0, 1.0)], **kwargs)


def mixed(**kwargs) -> Space:
    """A composition, a real, a categorical and an integer: 8 encoded columns."""
    return Space(
        [Composition(["Fe", "Ni", "Co"]), Real("T", 300.0, 900.0), Categorical("solvent", ["water", "ethanol", "dmso"]), Integer("n", 1, 5)],
        **kwargs,
    )


def square(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(dim=-1)


# -- variables ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Real("a", 1.0, 1.0), ValueError, r"Real 'a' needs low < high, got low=1.0 and high=1.0"),
        (lambda: Real("a", 2.0, 1.0), ValueError, r"Real 'a' needs low < high"),
        (lambda: Real("a", math.nan, 1.0), ValueError, r"Real 'a' low must be a finite number"),
        (lambda: Real("a", 0.0, math.inf), ValueError, r"Real 'a' high must be a finite number"),
        (lambda: Real("2a", 0.0, 1.0), ValueError, r"name '2a' must be an identifier"),
        (lambda: Real("a b", 0.0, 1.0), ValueError, r"name 'a b' must be an identifier"),
        (lambda: Integer("n", 3, 3), ValueError, r"Integer 'n' needs low < high, got 3 and 3"),
        (lambda: Integer("n", 5, 2), ValueError, r"Integer 'n' needs low < high"),
        (lambda: Integer("n", 0.5, 3), ValueError, r"Integer 'n' low must be an integer, got 0.5"),
        (lambda: Categorical("s", ["water"]), ValueError, r"Categorical 's' needs at least 2 levels, got \['water'\]"),
        (lambda: Categorical("s", []), ValueError, r"Categorical 's' needs at least 2 levels"),
        (lambda: Categorical("s", ["water", "water"]), ValueError, r"Categorical 's' has repeated levels"),
        (lambda: Categorical("s", "water"), TypeError, r"Categorical 's' levels must be a sequence"),
        (lambda: Composition(["Fe"]), ValueError, r"a Composition needs at least 2 components"),
        (lambda: Composition(["Fe", "Fe"]), ValueError, r"Composition components repeat a name: \['Fe', 'Fe'\]"),
        (lambda: Composition("FeNi"), TypeError, r"Composition names must be a sequence"),
        (lambda: Composition(["Fe", "Ni"], total=0.0), ValueError, r"Composition total must be positive"),
        (lambda: Composition(["Fe", "Ni", "Co"], lower=0.4), ValueError, r"cannot sum to 1: its lower bounds sum to 1.2"),
        (lambda: Composition(["Fe", "Ni", "Co"], upper=0.3), ValueError, r"cannot sum to 1: .*upper bounds to 0.9"),
        (
            lambda: Composition(["Fe", "Ni", "Co"], total=100.0, lower=(50.0, 30.0, 30.0)),
            ValueError,
            r"cannot sum to 100: its lower bounds sum to 110 and its upper bounds to 300",
        ),
        (lambda: Composition(["Fe", "Ni"], lower=(0.6, 0.0), upper=(0.5, 1.0)), ValueError, r"component 'Fe' needs 0 <= lower <= upper"),
        (lambda: Composition(["Fe", "Ni"], upper=(0.5, 1.5)), ValueError, r"component 'Ni' needs 0 <= lower <= upper <= total"),
        (lambda: Composition(["Fe", "Ni"], lower=(0.1, 0.1, 0.1)), ValueError, r"lower has 3 entries for 2 components"),
    ],
)
def test_bad_variables(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("variables", "error", "match"),
    [
        ([Real("a", 0, 1), Integer("a", 0, 3)], ValueError, r"Space variable names repeat: \['a'\]"),
        ([Composition(["a", "b"]), Real("a", 0, 1)], ValueError, r"Space variable names repeat: \['a'\]"),
        ([Categorical("Fe", ["x", "y"]), Composition(["Fe", "Ni"])], ValueError, r"names repeat: \['Fe'\]"),
        ([], ValueError, r"a Space needs at least one variable"),
        (Real("a", 0, 1), TypeError, r"Space takes a sequence of variables"),
        ([Real("a", 0, 1), ("b", 0, 1)], TypeError, r"Space variables must be Real, Integer, Categorical or Composition"),
    ],
)
def test_bad_variable_lists(variables, error, match):
    with pytest.raises(error, match=match):
        Space(variables)


# -- fixed values -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "error", "match"),
    [
        ({"T": 1000.0}, ValueError, r"the value 1000.0 of 'T' lies outside its bounds \[300.0, 900.0\]"),
        ({"T": 299.999}, ValueError, r"of 'T' lies outside its bounds"),
        ({"T": math.nan}, ValueError, r"the value of Real 'T' must be a finite number, got nan"),
        ({"n": 7}, ValueError, r"the value 7 of 'n' lies outside its bounds \[1, 5\]"),
        ({"n": 2.5}, ValueError, r"the value 2.5 of Integer 'n' is not an integer"),
        ({"solvent": "milk"}, ValueError, r"'milk' is not a level of Categorical 'solvent'; its levels are \['water', 'ethanol', 'dmso'\]"),
        ({"solvent": "Water"}, ValueError, r"'Water' is not a level of Categorical 'solvent'"),
        ({"pressure": 1.0}, ValueError, r"the space has no variable 'pressure'; its variables are \['Fe', 'Ni', 'Co', 'T', 'solvent', 'n'\]"),
        ({"Fe": 1.5}, ValueError, r"the value 1.5 of 'Fe' lies outside its bounds \[0.0, 1.0\]"),
        (["T", 500.0], TypeError, r"fixed must be a mapping"),
    ],
)
def test_bad_fixed_values(fixed, error, match):
    with pytest.raises(error, match=match):
        mixed(fixed=fixed)


def test_a_fixed_composition_component_is_pinned():
    space = mixed(fixed={"Fe": 0.2, "T": 500.0})
    X = space.sample(16, seed=0)
    assert (X[:, 0] == 0.2).all() and torch.allclose(X[:, :3].sum(-1), torch.ones(16, dtype=X.dtype), rtol=0, atol=1e-12)


def test_a_chained_constraint_string_is_two_constraints():
    assert [str(c) for c in Linear.parse_all("0.1 <= Fe <= 0.6")] == ["0.1 <= Fe", "Fe <= 0.6"]
    space = mixed(constraints=["0.1 <= Fe <= 0.6"])
    assert len(space.linear) == 2


def test_fixing_every_variable_leaves_nothing_to_search():
    with pytest.raises(ValueError, match="every variable of the space is fixed: there is nothing to search"):
        ab(fixed={"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match="the value 2.0 of 'b' lies outside its bounds"):
        ab(fixed={"a": 0.5}).fix(b=2.0)


def test_fixed_values_at_the_bounds_and_levels_by_label_are_fine():
    space = mixed(fixed={"T": 900.0, "n": 1, "solvent": "dmso"})
    assert space.fixed == {"T": 900.0, "n": 1, "solvent": "dmso"}
    assert space.variable_kinds == {"composition"}
    assert space.fix(T=300.0).fixed["T"] == 300.0


# -- an empty feasible set, caught at construction --------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: ab(constraints=["a + b >= 3"]), "a + b >= 3"),
        (lambda: ab(constraints=["a + b >= 1.5", "a - b >= 0.9"]), "a + b >= 1.5; a - b >= 0.9"),
        (lambda: ab(constraints=["a >= 1.000001"]), "a >= 1.000001"),
        (lambda: ab(constraints=["a + b == 2.5"]), "a + b == 2.5"),
        (lambda: ab(constraints=[Linear({"a": 1.0, "b": -1.0}, ">=", 1.5)]), "1*a + -1*b >= 1.5"),
        (lambda: ab(constraints=["a + b >= 1.5"], fixed={"a": 0.2}), "a + b >= 1.5"),
        (lambda: Space([Composition(["x", "y"])], constraints=["x >= 0.7", "y >= 0.7"]), "x >= 0.7; y >= 0.7"),
        (lambda: Space([Composition(["x", "y", "z"], total=100.0, upper=60.0)], constraints=["x + y <= 30"]), "x + y <= 30"),
        # Only integrality makes these empty: their relaxations are not.
        (lambda: Space([Integer("i", 0, 3), Integer("j", 0, 3)], constraints=["i + j == 2.5"]), "i + j == 2.5"),
        (lambda: Space([Integer("i", 0, 9), Real("w", 0, 1)], constraints=["2*i >= 3", "2*i <= 3.9"]), "2*i >= 3; 2*i <= 3.9"),
    ],
)
def test_an_empty_feasible_set_is_refused_at_construction(make, named):
    match = rf"the space has no feasible design: its bounds, compositions and linear constraints \({re.escape(named)}\) contradict"
    with pytest.raises(ValueError, match=match):
        make()


def test_fixed_values_breaking_a_constraint_on_their_own_are_named():
    with pytest.raises(ValueError, match=r"no feasible design: the fixed values break the constraint 'a \+ 2\*b <= 1'"):
        Space([Real("a", 0, 1), Real("b", 0, 1), Real("c", 0, 1)], constraints=["a + 2*b <= 1"], fixed={"a": 0.5, "b": 0.4})


def test_a_feasible_set_of_one_point_is_not_taken_for_an_empty_one():
    space = ab(constraints=["a + b >= 2"])
    x = space.sample(3, seed=0)
    torch.testing.assert_close(x, torch.ones(3, 2, dtype=torch.float64), rtol=0.0, atol=1e-7)
    assert space.contains(x).all()
    space = Space([Integer("i", 0, 3), Integer("j", 0, 3)], constraints=["i + j == 6"])
    assert torch.equal(space.sample(2, seed=0), torch.full((2, 2), 3.0, dtype=torch.float64))


def test_an_empty_space_is_refused_before_any_model_call():
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return square(x)

    with pytest.raises(ValueError, match="no feasible design"):
        ivd.Objective(model, ab(constraints=["a + b >= 3"]))
    assert calls == []


# -- constraint strings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "match"),
    [
        ("temprature + Fe <= 1", r"names 'temprature', which is not a variable of the space; its variables are \['Fe', 'Ni', 'Co', 'T'"),
        ("fe + Ni <= 0.6", r"names 'fe', which is not a variable of the space \(did you mean 'Fe'\?\)"),
        ("Fe + Ni + Cu <= 0.6", r"names 'Cu', which is not a variable"),
        ("solvent + Fe <= 1", r"names the categorical 'solvent'; linear constraints add up reals, integers and composition components"),
        ("Fe*Ni <= 0.1", r"multiplies two variables; pass a nonlinear constraint as a callable g\(x\) <= 0"),
        ("Fe**2 + Ni <= 0.6", r"cannot read 'Fe \*\* 2' in the constraint 'Fe\*\*2 \+ Ni <= 0.6'"),
        ("Fe / Ni <= 2", r"divides by a variable"),
        ("sqrt(Fe) <= 0.5", r"cannot read 'sqrt\(Fe\)'"),
        ("Fe + <= 0.6", r"cannot read the constraint 'Fe \+ <= 0.6': invalid syntax"),
        ("Fe ≤ 0.6", r"cannot read the constraint 'Fe ≤ 0.6'"),
        ("Fe + Ni", r"must be one comparison: 'lhs <= rhs', 'lhs >= rhs' or 'lhs == rhs'"),
        ("Fe != Ni", r"must be one comparison"),
        ("Fe <= 0.6 and Ni <= 0.2", r"must be one comparison"),
        ("Fe - Fe <= 0.6", r"the linear constraint 'Fe - Fe <= 0.6' involves no variable"),
        ("1 <= 2", r"involves no variable"),
    ],
)
def test_bad_constraint_strings(constraint, match):
    with pytest.raises(ValueError, match=match):
        mixed(constraints=[constraint])


def test_a_constraint_of_another_type_is_refused():
    with pytest.raises(TypeError, match="a constraint must be a string, an invdesign.Linear or a callable g\\(x\\) <= 0, got 3"):
        ab(constraints=[3])
    with pytest.raises(TypeError, match="a constraint string must be a str, got int"):
        Linear.parse(3)


def test_division_by_zero_in_a_constraint_string_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'a/0 <= 1'.*divides by zero"):
        Linear.parse("a/0 <= 1")
    with pytest.raises(ValueError, match=r"divides by zero"):
        Linear.parse("a / (2 - 2) <= 1")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Linear({"a": math.nan}, "<=", 1.0),
        lambda: Linear({"a": 1.0}, "<=", math.nan),
        lambda: Linear({"a": math.inf, "b": 1.0}, "<=", 1.0),
        lambda: Linear.parse("a*1e400 + b <= 1"),
    ],
    ids=["nan coefficient", "nan rhs", "infinite coefficient", "overflowing coefficient"],
)
def test_a_linear_constraint_needs_finite_numbers(make):
    # Else it reaches the space, which calls the constraints contradictory ("the space has no feasible design").
    with pytest.raises(ValueError, match="finite"):
        make()


def test_bad_linear_objects():
    with pytest.raises(ValueError, match="a linear constraint's op must be '<=', '>=' or '==', got '<'"):
        Linear({"a": 1.0}, "<", 1.0)
    with pytest.raises(ValueError, match="involves no variable"):
        Linear({"a": 0.0}, "<=", 1.0)
    with pytest.raises(ValueError, match="names 'c', which is not a variable of the space"):
        ab(constraints=[Linear({"a": 1.0, "c": 1.0}, "<=", 1.0)])


# -- Linear.parse -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "coefficients", "op", "rhs"),
    [
        ("Fe + Ni <= 0.6", {"Fe": 1.0, "Ni": 1.0}, "<=", 0.6),
        ("2*w1 - w2 >= 0", {"w1": 2.0, "w2": -1.0}, ">=", 0.0),
        ("a + b == 1", {"a": 1.0, "b": 1.0}, "==", 1.0),
        ("  a+b<=1  ", {"a": 1.0, "b": 1.0}, "<=", 1.0),
        ("0.5*a + 1.5*b - 2*c <= -3", {"a": 0.5, "b": 1.5, "c": -2.0}, "<=", -3.0),
        ("a*2 + 3*b <= 1", {"a": 2.0, "b": 3.0}, "<=", 1.0),
        ("2*3*a <= 1", {"a": 6.0}, "<=", 1.0),
        ("1e-3*a <= 2e3", {"a": 1e-3}, "<=", 2e3),
        ("-a <= -0.5", {"a": -1.0}, "<=", -0.5),
        ("+a >= +1", {"a": 1.0}, ">=", 1.0),
        ("-(a - 2*b) >= -1", {"a": -1.0, "b": 2.0}, ">=", -1.0),
        ("3*(a - b) <= 1", {"a": 3.0, "b": -3.0}, "<=", 1.0),
        # Both sides hold names and numbers: everything moves left, numbers right.
        ("2*a + 1 <= b - 3", {"a": 2.0, "b": -1.0}, "<=", -4.0),
        ("a >= b", {"a": 1.0, "b": -1.0}, ">=", 0.0),
        ("1 <= a", {"a": -1.0}, "<=", -1.0),
        ("0.6 >= Fe + Ni", {"Fe": -1.0, "Ni": -1.0}, ">=", -0.6),
        ("a + 1 == 2*a - b + 3", {"a": -1.0, "b": 1.0}, "==", 2.0),
        # Division by a number, of a name or of a bracket.
        ("a/2 + b/4 <= 1", {"a": 0.5, "b": 0.25}, "<=", 1.0),
        ("(a + b)/2 >= 0.1", {"a": 0.5, "b": 0.5}, ">=", 0.1),
        ("a/2/2 <= 1", {"a": 0.25}, "<=", 1.0),
        ("T/100 + n <= 12", {"T": 0.01, "n": 1.0}, "<=", 12.0),
        ("(a + 3)/2 <= 2", {"a": 0.5}, "<=", 0.5),
        # Repeated names add up; cancelling ones vanish.
        ("a + a + b <= 1", {"a": 2.0, "b": 1.0}, "<=", 1.0),
        ("a - a + b <= 1", {"b": 1.0}, "<=", 1.0),
        ("0*a + b <= 1", {"b": 1.0}, "<=", 1.0),
        # Strict comparisons read as their non-strict forms.
        ("a < 1", {"a": 1.0}, "<=", 1.0),
        ("a > 1", {"a": 1.0}, ">=", 1.0),
    ],
)
def test_linear_parse(text, coefficients, op, rhs):
    c = Linear.parse(text)
    assert c.op == op
    assert c.coefficients.keys() == coefficients.keys()
    for name, value in coefficients.items():
        assert c.coefficients[name] == pytest.approx(value, rel=1e-15)
    assert c.rhs == pytest.approx(rhs, rel=1e-15, abs=1e-15)
    assert str(c) == text.strip()


def test_a_parsed_constraint_acts_on_the_designs_as_written():
    space = ab(constraints=["2*a + 1 <= b + 1.5", "(a + b)/2 >= 0.25"])
    X = space.sample(64, seed=0)
    assert bool(((2 * X[:, 0] + 1 <= X[:, 1] + 1.5 + 1e-12) & ((X[:, 0] + X[:, 1]) / 2 >= 0.25 - 1e-12)).all())
    candidates = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.2, 0.4], [0.1, 0.9]], dtype=torch.float64)
    assert space.contains(candidates).tolist() == [False, False, True, True]


def test_linear_objects_and_strings_agree():
    a = ab(constraints=["2*a - b >= 0.1"])
    b = ab(constraints=[Linear({"a": 2.0, "b": -1.0}, ">=", 0.1)])
    X = torch.rand(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(a.contains(X), b.contains(X))
    assert a.spec() == b.spec()


# -- nonlinear constraints ---------------------------------------------------------------------------------------


def scalar(x):
    return x.sum()


def too_few_rows(x):
    return x[:1, 0]


def three_dimensional(x):
    return x.unsqueeze(-1)


def a_list(x):
    return [0.0] * x.shape[0]


def nan_everywhere(x):
    return torch.full((x.shape[0],), math.nan, dtype=x.dtype)


def nan_on_half(x):
    return torch.sqrt(x[:, 0] - 0.5) - 0.1  # NaN where a < 0.5


BAD_SHAPES = [
    (scalar, r"nonlinear constraint 0 \('scalar'\) returned \(\) for (\d+) designs; expected a tensor of shape \(\1,\) or \(\1, m\)"),
    (too_few_rows, r"nonlinear constraint 0 \('too_few_rows'\) returned \(1,\) for (\d+) designs; expected a tensor of shape \(\1,\)"),
    (three_dimensional, r"nonlinear constraint 0 \('three_dimensional'\) returned \((\d+), 2, 1\) for \1 designs"),
    (a_list, r"nonlinear constraint 0 \('a_list'\) returned list for (\d+) designs; expected a tensor"),
]
SOME_SOLVERS = sorted(
    {
        ivd.solvers.capable(lambda c: "nonlinear" in c.constraints and c.gradients and c.x0)[0],
        ivd.solvers.capable(lambda c: "nonlinear" in c.constraints and not c.gradients)[0],
    }
)


def quick(method: str) -> dict:
    caps = ivd.solvers.get(method).capabilities
    if caps.budget == "evaluations":
        return {"max_evals": 4}
    return {"max_iter": 2, **({"n_restarts": 2} if caps.x0 else {})}


@pytest.mark.parametrize("method", SOME_SOLVERS)
@pytest.mark.parametrize(("g", "match"), BAD_SHAPES, ids=[g.__name__ for g, _ in BAD_SHAPES])
def test_a_nonlinear_constraint_of_the_wrong_shape_is_named(g, match, method):
    space = ab(constraints=[g])  # a callable is not called when the space is built; the objective probes it
    with pytest.raises(ValueError, match=match):
        ivd.minimize(ivd.Objective(square, space), method, seed=0, **quick(method))
    with pytest.raises(ValueError, match=match):
        space.feasible(space.sample(4, seed=0))


@pytest.mark.parametrize("method", SOME_SOLVERS)
@pytest.mark.parametrize("g", [nan_everywhere, nan_on_half])
def test_a_nonlinear_constraint_returning_nan_is_named(g, method):
    space = ab(constraints=[g])
    with pytest.raises(ValueError, match=rf"nonlinear constraint 0 \('{g.__name__}'\) returned NaN"):
        ivd.minimize(ivd.Objective(square, space), method, seed=0, **quick(method))


def test_the_second_nonlinear_constraint_is_named_by_its_position():
    def fine(x):
        return x[:, 0] - 2.0

    space = ab(constraints=["a + b <= 1.5", fine, nan_everywhere])
    with pytest.raises(ValueError, match=r"nonlinear constraint 1 \('nan_everywhere'\) returned NaN"):
        space.nonlinear_violation(space.sample(2, seed=0))


def test_nonlinear_constraints_of_both_shapes_are_fine():
    def one(x):
        return x[:, 0] - 0.5  # a <= 0.5

    def two(x):
        return torch.stack([x[:, 1] - 0.5, 0.1 - x[:, 1]], dim=-1)  # 0.1 <= b <= 0.5

    space = ab(constraints=[one, two])
    X = torch.tensor([[0.2, 0.3], [0.7, 0.3], [0.2, 0.05], [0.2, 0.9]], dtype=torch.float64)
    assert space.feasible(X).tolist() == [True, False, False, False]
    assert space.contains(X).all(), "contains leaves the nonlinear constraints out"
    assert space.constraint_kinds == {"nonlinear"}


# -- the model's width -------------------------------------------------------------------------------------------


def test_a_module_whose_first_linear_layer_has_the_wrong_width():
    space = mixed()
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    with pytest.raises(
        ModelError,
        match=r"the model takes 5 inputs \(its first layer\), but the space encodes each design as 8 columns "
        r"\(Fe, Ni, Co, T, solvent=water, solvent=ethanol, solvent=dmso, n\)",
    ):
        ivd.Objective(model, space)
    # A fixed variable keeps its columns: the model still needs all 8.
    with pytest.raises(ModelError, match="the model takes 5 inputs .* 8 columns"):
        ivd.Objective(model, mixed(fixed={"T": 500.0, "solvent": "water"}))
    ivd.Objective(nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1)).double(), space)


@pytest.mark.parametrize(
    ("model", "cause"),
    [
        (lambda x: x @ torch.ones(5, dtype=torch.float64), RuntimeError),
        (lambda x: x[:, 9], IndexError),
        (lambda x: x.reshape(-1, 5).sum(-1), RuntimeError),
    ],
)
def test_a_function_that_fails_on_the_encoding_names_the_columns(model, cause):
    with pytest.raises(
        ValueError,
        match=r"the model failed on designs of shape \(2, 8\).*Does the model take the space's 8 encoded columns "
        r"\(Fe, Ni, Co, T, solvent=water, solvent=ethanol, solvent=dmso, n\)\?",
    ) as info:
        ivd.Objective(model, mixed())
    assert isinstance(info.value.__cause__, cause), "the model's own exception is chained"


def test_a_function_returning_the_wrong_number_of_rows_is_named():
    with pytest.raises(ValueError, match=r"the model returned shape \(16,\) for a batch of 2 designs; expected \(2,\), \(2, 1\) or \(2, k\)"):
        ivd.Objective(lambda x: x.reshape(-1), mixed())


# -- a solver asked for what it does not handle ----------------------------------------------------------------


def _refuser(test) -> str:
    names = ivd.solvers.capable(test)
    if not names:
        pytest.skip("every registered solver handles this")
    return names[0]


@pytest.mark.parametrize(
    ("kind", "space"),
    [
        ("integer", lambda: Space([Real("a", 0, 1), Integer("n", 0, 4)])),
        ("categorical", lambda: Space([Real("a", 0, 1), Categorical("s", ["x", "y"])])),
        ("composition", lambda: Space([Real("a", 0, 1), Composition(["x", "y"])])),
    ],
)
def test_a_solver_refuses_a_variable_kind_it_does_not_declare(kind, space):
    method = _refuser(lambda c: kind not in c.variables)
    able = ", ".join(ivd.solvers.capable(lambda c: kind in c.variables and "real" in c.variables))
    calls = []

    def model(x):
        calls.append(x.shape[0])
        return square(x)

    objective = ivd.Objective(model, space())
    calls.clear()
    with pytest.raises(TypeError, match=rf"method '{method}' does not handle {kind} variables; methods that do: {able}$"):
        ivd.minimize(objective, method, seed=0)
    assert calls == [], "refused before any evaluation"


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_a_solver_refuses_a_constraint_kind_it_does_not_declare(kind):
    method = _refuser(lambda c: kind not in c.constraints and "real" in c.variables)
    constraint = "a + b <= 1" if kind == "linear" else (lambda x: x[:, 0] - 0.5)
    able = ", ".join(ivd.solvers.capable(lambda c: kind in c.constraints))
    with pytest.raises(TypeError, match=rf"method '{method}' does not handle {kind} constraints; methods that do: {able}$"):
        ivd.minimize(ivd.Objective(square, ab(constraints=[constraint])), method, seed=0)


def test_a_fixed_variable_needs_no_support():
    """A solver that handles only reals runs on a space whose other kinds are all fixed."""
    method = _refuser(lambda c: c.variables == {"real"} and c.x0)
    space = Space(
        [Real("a", 0, 1), Integer("n", 0, 4), Categorical("s", ["x", "y", "z"]), Real("b", -1, 1)],
        fixed={"n": 3, "s": "z"},
    )
    assert space.variable_kinds == {"real"}
    caps = ivd.solvers.get(method).capabilities
    options: dict = {"n_restarts": 4}
    if caps.data:
        X = space.sample(32, seed=1)
        options["x0"] = ivd.FromData(X, square(X))
    res = ivd.minimize(ivd.Objective(square, space), method, seed=0, **quick(method) | options)
    assert (res.X[:, 1] == 3.0).all() and (res.X[:, 2:5] == torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)).all()
    assert bool(res.feasible.all())


def test_infeasible_starting_points_are_refused():
    space = ab(constraints=["a + b <= 1"])
    objective = ivd.Objective(square, space)
    x0 = torch.tensor([[0.2, 0.2], [0.9, 0.9]], dtype=torch.float64)
    method = ivd.solvers.capable(lambda c: c.x0 and not c.data and "linear" in c.constraints)[0]
    with pytest.raises(ValueError, match=r"x0 rows \[1\] lie outside"):
        ivd.minimize(objective, method, x0=x0, seed=0, **{k: v for k, v in quick(method).items() if k != "n_restarts"})


# -- tables ----------------------------------------------------------------------------------------------------------


def test_from_frame_errors_name_the_column():
    import pandas as pd

    space = mixed(fixed={"T": 500.0})
    good = pd.DataFrame({"Fe": [0.2], "Ni": [0.3], "Co": [0.5], "solvent": ["water"], "n": [2]})
    assert space.contains(space.from_frame(good)).all()
    with pytest.raises(ValueError, match=r"the table has no column 'n'; the space needs columns"):
        space.from_frame(good.drop(columns=["n"]))
    with pytest.raises(ValueError, match=r"'milk' is not a level of Categorical 'solvent'"):
        space.from_frame(good.assign(solvent=["milk"]))
    with pytest.raises(ValueError, match=r"column 'Fe' of the table holds values that are not numbers"):
        space.from_frame(good.assign(Fe=["lots"]))
