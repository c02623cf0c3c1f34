"""The data stage: :class:`Dataset` (splits of arrays) and its sources (scikit-learn sets, npz files, jets)."""
from .dataset import Dataset, from_arrays, presplit  # noqa: F401
from .sources import SKLEARN, as_dataset, load_dataset, load_npz  # noqa: F401
