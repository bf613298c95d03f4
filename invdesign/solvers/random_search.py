"""``method="random"``: scrambled Sobol search of the box, the baseline every comparison needs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor

from invdesign.engine import AskTell, Capabilities, SampleSolver, count, register
from invdesign.engine.ask_tell import SAMPLE_CAPABILITIES
from invdesign.space import DesignSpace


@register
@dataclass(frozen=True, kw_only=True)
class RandomSearch(SampleSolver):
    """Evaluate scrambled Sobol points of the space, ``batch`` at a time, until ``max_evals``.

    The sequence is fixed by the seed; asking ``n`` points returns the next ``n`` of it (pending
    designs were drawn from it before, so an asynchronous run asks for new points).
    """

    name: ClassVar[str] = "random"
    capabilities: ClassVar[Capabilities] = dataclasses.replace(SAMPLE_CAPABILITIES, asynchronous=True)
    batch: int = 16

    def __post_init__(self) -> None:
        count("random option batch", self.batch, minimum=1)

    def optimizer(self, space: DesignSpace, *, seed: int | None = None) -> SobolAskTell:
        return SobolAskTell(self, space, seed)


class SobolAskTell(AskTell):
    """Ask/tell state of `RandomSearch`: the seed and how many points were drawn."""

    def __init__(self, solver: RandomSearch, space: DesignSpace, seed: int | None = None) -> None:
        super().__init__(solver, space, seed)
        self.n_drawn = 0

    solver: RandomSearch

    def propose(self, n: int | None) -> Tensor:
        n = self.solver.batch if n is None else n
        # Start designs told before the first ask may be this very sequence's first points: skip them.
        self.n_drawn = max(self.n_drawn, self.n_told)
        u = self.view.sample(n, seed=self.seed, start=self.n_drawn)
        self.n_drawn += n
        return u

    def extra_state(self) -> dict[str, Any]:
        return {"n_drawn": self.n_drawn}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.n_drawn = int(state["n_drawn"])
