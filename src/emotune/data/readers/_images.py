"""What the face-image readers share: finding image files below a folder.

Images are found by suffix (:data:`IMAGE_SUFFIXES`, any case) anywhere below the
folder, in sorted path order; hidden files and folders and ``__MACOSX`` are
ignored. Nothing here opens an image. A face-image sample keeps its file in
``Sample.extra["image_path"]`` (absolute).
"""

from __future__ import annotations

from pathlib import Path

from emotune.data.readers._base import find_files

__all__ = ["IMAGE_SUFFIXES", "IMAGE_PATH", "find_image_files", "image_paths"]

#: File suffixes counted as images (compared in lower case); OpenCV reads them all.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm")

#: The ``Sample.extra`` key of a face-image sample's file.
IMAGE_PATH = "image_path"


def find_image_files(root: Path) -> list[Path]:
    """Every image file below ``root`` (recursively), sorted by path; hidden parts are skipped."""
    return find_files(root, IMAGE_SUFFIXES)


def image_paths(dataset) -> list[str]:
    """The image file of every sample of ``dataset``; a sample without one is a :class:`DatasetError`."""
    from emotune.exceptions import DatasetError

    paths = []
    for s in dataset.samples:
        path = s.extra.get(IMAGE_PATH)
        if not path:
            raise DatasetError(
                f"dataset {dataset.name!r}: sample {s.id!r} has no image file; task 'face' needs a face-image "
                "dataset (ckplus, image-folder)"
            )
        paths.append(path)
    return paths
