"""Microstructure descriptors: correlation functions, morphology and ML features, in torch.

Every function takes numpy arrays or torch tensors and returns the same kind; images have 2 or 3
spatial axes and, where a function says so, an optional leading batch axis chosen with
``batch=True`` (never guessed). Computation runs in torch (``torch.fft``), so the same code runs on
CUDA and, for float (relaxed-indicator) input, is differentiable with autograd.

Why hand-written: PyMKS and PoreSpy compute two-point statistics, lineal paths and chord lengths,
but in numpy/scipy — not differentiable, not batched on a GPU. Microstructure reconstruction in this
book optimizes a relaxed phase field against S2, lineal-path and Gram-matrix targets by gradient
descent, which needs these descriptors with autograd; one implementation keeps the physical and the
differentiable versions consistent (they agree exactly on binary input, which the tests check).

Submodules
----------
``correlations``
    volume fraction, S2, cross-correlation, cluster function, radial average, specific surface
``morphology``
    lineal path (exact and soft), chord lengths, cluster labelling, particle statistics
``ml``
    fixed CNN features and Gram matrices, PCA of correlations, nearest-microstructure search
``transformers``
    descriptors as scikit-learn transformers (:class:`TwoPointCorrelation`, :class:`DescriptorTransformer`),
    the first step of a ``Pipeline``

References
----------
S. Torquato, *Random Heterogeneous Materials: Microstructure and Macroscopic Properties*, Springer 2002.
R. Bostanabad et al., Computational microstructure characterization and reconstruction: review of the
state-of-the-art techniques, Progress in Materials Science 95 (2018) 1–41.
L. A. Gatys, A. S. Ecker, M. Bethge, Texture synthesis using convolutional neural networks, NeurIPS 2015.
"""
from .correlations import (SpecificSurface, central_window, correlation_maps, cross_correlation, radial_average,
                           specific_surface, two_point_cluster_function, two_point_correlation, volume_fraction)
from .ml import (FeatureNetwork, cnn_features, filters, gram_matrices, nearest_microstructures,
                 pca_of_correlations)
from .morphology import (ChordLengths, chord_length_distribution, label_clusters, lattice_directions,
                         lineal_path, particle_statistics, soft_lineal_path)
from .transformers import DescriptorTransformer, TwoPointCorrelation

__all__ = [
    "volume_fraction", "two_point_correlation", "cross_correlation", "radial_average",
    "two_point_cluster_function", "specific_surface", "SpecificSurface", "correlation_maps", "central_window",
    "lattice_directions", "lineal_path", "soft_lineal_path", "chord_length_distribution", "ChordLengths",
    "label_clusters", "particle_statistics",
    "FeatureNetwork", "cnn_features", "gram_matrices", "filters", "pca_of_correlations",
    "nearest_microstructures", "TwoPointCorrelation", "DescriptorTransformer",
]
