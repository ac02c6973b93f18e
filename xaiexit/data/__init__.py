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
* :class:`TouchingCells` -- grey microscopy-like images of touching cells with instance
  labels and the separation borders between them (U-Net's segmentation task).
* :class:`Digits` -- 1,797 real 8x8 handwritten digits 0-9 that ship with scikit-learn,
  upsampled (32x32 by default).
"""

from xaiexit.data.digits import Digits
from xaiexit.data.lfw import LFWFaces
from xaiexit.data.oxford_pets import OxfordPets, write_oxford_layout
from xaiexit.data.synthetic_pets import SyntheticPets
from xaiexit.data.touching_cells import TouchingCells

__all__ = ["SyntheticPets", "write_oxford_layout", "OxfordPets", "LFWFaces", "Digits", "TouchingCells"]
