"""Offline data with ground truth.

Nothing here downloads anything. Every dataset is a ``torch.utils.data.Dataset`` whose
``ds[i]`` is ``(image, label)`` and whose tensors are also available whole
(``ds.images``, ``ds.labels``, ...), so they plug into a DataLoader or into a
vectorised experiment alike.

* :class:`SyntheticPets` -- drawn cats and dogs with pet masks, Oxford-style trimaps and
  per-image difficulty factors (contrast, darkness, size, occlusion, noise).
* :func:`write_oxford_layout` / :class:`OxfordPets` -- save SyntheticPets in the folder
  layout of the Oxford-IIIT Pet dataset, and load that layout (or the real dataset)
  through ``torchvision.datasets.OxfordIIITPet``.
* :class:`LFWFaces` -- 200 real 25x25 grey images (100 faces, 100 non-faces) that ship
  with scikit-image.
"""
from xaiexit.data.lfw import LFWFaces
from xaiexit.data.oxford_pets import OxfordPets, write_oxford_layout
from xaiexit.data.synthetic_pets import SyntheticPets

__all__ = ["SyntheticPets", "write_oxford_layout", "OxfordPets", "LFWFaces"]
