"""FFT homogenization of periodic microstructures and analytic references (``bounds``)."""
from . import bounds

__all__ = ["bounds"]
