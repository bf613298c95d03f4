"""Surrogate models: an MLP regressor, ensembles, training helpers and safetensors save / load."""

from invdesign.models.ensemble import Ensemble
from invdesign.models.fit import FitReport, fit, fit_ensemble, fit_mlp
from invdesign.models.io import load, save
from invdesign.models.mlp import MLP

__all__ = ["MLP", "Ensemble", "FitReport", "fit", "fit_ensemble", "fit_mlp", "load", "save"]
