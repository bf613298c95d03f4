"""The benchmark harness: every solver on every task over seeds, every design re-simulated by the oracle.

``invdesign.benchmark.run(tasks, solvers, seeds, out=...)`` returns a tidy table (one row per
task x solver x seed) of the oracle's verdict on the returned designs, the surrogate's prediction
for the same designs (the exploitation gap), r_T on target tasks, evaluations and wall time;
``invdesign bench`` runs a suite from the command line and writes tables and plots.
"""

from invdesign.benchmark.configs import CONFIGS, SolverConfig, get_config
from invdesign.benchmark.metrics import exploitation_gap, percentiles, r_t
from invdesign.benchmark.plots import save_all as save_plots
from invdesign.benchmark.report import markdown, summarize
from invdesign.benchmark.runner import run
from invdesign.benchmark.store import ResultStore
from invdesign.benchmark.suites import SUITES, Suite

__all__ = [
    "CONFIGS",
    "SUITES",
    "ResultStore",
    "SolverConfig",
    "Suite",
    "exploitation_gap",
    "get_config",
    "markdown",
    "percentiles",
    "r_t",
    "run",
    "save_plots",
    "summarize",
]
