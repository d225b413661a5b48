"""snapml-compatible graph features: `GraphFeaturePreprocessor` and its vertex statistics."""

from .preprocessor import GraphFeaturePreprocessor

__all__ = ["GraphFeaturePreprocessor"]
