"""Learned models: MLP surrogates and ensembles, VAE and GAN decoders, classifiers, generators and
inverse models; the one trainer they share (`invdesign.models.train`) and safetensors save / load."""

from invdesign.models.classifier import ClassifierReport, ConvClassifier, fit_classifier
from invdesign.models.ensemble import Ensemble
from invdesign.models.fit import FitReport, fit, fit_ensemble, fit_mlp
from invdesign.models.gan import GAN, GANReport, MinibatchStd, fit_gan
from invdesign.models.generators import ConditionalGenerator, Generator, distinct_from, distinct_pairs
from invdesign.models.inverse import InverseModelReport, fit_inverse_model
from invdesign.models.io import load, save
from invdesign.models.mlp import MLP
from invdesign.models.sequence_vae import SequenceVAE, SequenceVAEReport, fit_sequence_vae
from invdesign.models.train import (
    Seeds,
    TrainConfig,
    TrainLog,
    adam,
    descend,
    lr_scheduler,
    standard_normal,
    train,
)
from invdesign.models.vae import VAE, VAEReport, fit_vae

__all__ = [
    "GAN",
    "MLP",
    "VAE",
    "ClassifierReport",
    "ConditionalGenerator",
    "ConvClassifier",
    "Ensemble",
    "FitReport",
    "GANReport",
    "Generator",
    "InverseModelReport",
    "MinibatchStd",
    "Seeds",
    "SequenceVAE",
    "SequenceVAEReport",
    "TrainConfig",
    "TrainLog",
    "VAEReport",
    "adam",
    "descend",
    "distinct_from",
    "distinct_pairs",
    "fit",
    "fit_classifier",
    "fit_ensemble",
    "fit_gan",
    "fit_inverse_model",
    "fit_mlp",
    "fit_sequence_vae",
    "fit_vae",
    "load",
    "lr_scheduler",
    "save",
    "standard_normal",
    "train",
]
