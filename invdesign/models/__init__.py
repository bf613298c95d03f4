"""Learned models: MLP surrogates and ensembles, VAE and GAN decoders, training helpers and safetensors save / load."""

from invdesign.models.classifier import ClassifierReport, ConvClassifier, fit_classifier
from invdesign.models.ensemble import Ensemble
from invdesign.models.fit import FitReport, fit, fit_ensemble, fit_mlp
from invdesign.models.gan import GAN, GANReport, MinibatchStd, fit_gan
from invdesign.models.io import load, save
from invdesign.models.mlp import MLP
from invdesign.models.vae import VAE, VAEReport, fit_vae

__all__ = [
    "ClassifierReport",
    "ConvClassifier",
    "GAN",
    "MLP",
    "VAE",
    "Ensemble",
    "FitReport",
    "GANReport",
    "MinibatchStd",
    "VAEReport",
    "fit",
    "fit_classifier",
    "fit_ensemble",
    "fit_gan",
    "fit_mlp",
    "fit_vae",
    "load",
    "save",
]
