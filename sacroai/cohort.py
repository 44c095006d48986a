"""Cohorts: a manifest of scans loaded lazily, with a preprocessing cache on disk.

A manifest is a CSV (or a list of dicts) with one row per scan and at least
the columns ``patient`` and ``path`` (relative to the manifest's folder or
absolute).  Usual further columns: ``visit``, ``side``, ``modality``,
``reader`` and outcome/label columns.  Numbers are parsed; everything else
stays text.

Scans are read only when asked for.  :meth:`Cohort.preprocessed` caches the
result of a preprocessing function on disk under a key made of the function's
name, its parameters and the source file's size and modification time, so a
changed parameter or a changed scan never returns a stale result.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os

import numpy as np

from .io import load, save
from .volume import Volume

RADIOGRAPH_SUFFIXES = (".png", ".tif", ".tiff", ".dcm", ".dicom")


def _parse(value: str):
    if value is None or value == "":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


class Cohort:
    """Rows of a study manifest; scans are loaded lazily.

    Parameters
    ----------
    rows : list of dict
        One dict per scan with at least ``patient`` and ``path``.
    root : str, optional
        Folder that relative paths are resolved against.
    cache_dir : str, optional
        Folder for cached preprocessing results (default ``<root>/.sacroai_cache``).
    """

    def __init__(self, rows, root: str | None = None, cache_dir: str | None = None):
        rows = [dict(r) for r in rows]
        if not rows:
            raise ValueError("a cohort needs at least one row")
        for i, r in enumerate(rows):
            for key in ("patient", "path"):
                if r.get(key) in (None, ""):
                    raise ValueError(f"manifest row {i} has no '{key}'")
        self.rows = rows
        self.root = os.path.abspath(root or os.getcwd())
        self.cache_dir = cache_dir or os.path.join(self.root, ".sacroai_cache")

    @classmethod
    def read_csv(cls, path, cache_dir: str | None = None) -> "Cohort":
        """A cohort from a manifest CSV; relative paths are resolved against its folder."""
        with open(path, newline="") as f:
            rows = [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(f)]
        if rows and ("patient" not in rows[0] or "path" not in rows[0]):
            raise ValueError(f"{path}: the manifest needs 'patient' and 'path' columns, has {list(rows[0])}")
        return cls(rows, root=os.path.dirname(os.path.abspath(path)), cache_dir=cache_dir)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i) -> dict:
        return self.rows[i]

    def __repr__(self) -> str:
        return f"Cohort({len(self)} scans, {len(set(self.column('patient')))} patients, root={self.root!r})"

    def column(self, name: str) -> np.ndarray:
        """One column as an array (raises KeyError naming the missing column)."""
        if name not in self.rows[0]:
            raise KeyError(f"no column '{name}' in the manifest; columns are {list(self.rows[0])}")
        return np.asarray([r.get(name) for r in self.rows])

    @property
    def groups(self) -> np.ndarray:
        """Patient of each row: the ``groups`` argument of patient-level splitters."""
        return self.column("patient")

    def path(self, i: int, column: str = "path") -> str:
        p = self.rows[i][column]
        return p if os.path.isabs(p) else os.path.join(self.root, p)

    def load(self, i: int, column: str = "path", **kwargs) -> Volume:
        """The scan of row ``i`` (``column`` names another path column, e.g. a mask).

        NIfTI files go through :func:`sacroai.load`; PNG/TIFF/DICOM radiographs
        through :func:`sacroai.io.load_radiograph`, with the pixel spacing taken
        from the row's ``row_mm``/``col_mm`` columns when present.
        """
        path = self.path(i, column)
        if path.lower().endswith(RADIOGRAPH_SUFFIXES):
            from .io.radiograph import load_radiograph
            row = self.rows[i]
            if "pixel_spacing" not in kwargs and row.get("row_mm") is not None and row.get("col_mm") is not None:
                kwargs["pixel_spacing"] = (float(row["row_mm"]), float(row["col_mm"]))
            return load_radiograph(path, **kwargs)
        return load(path, **kwargs)

    def subset(self, indices) -> "Cohort":
        """A cohort of the given rows (same root and cache)."""
        return Cohort([self.rows[i] for i in indices], root=self.root, cache_dir=self.cache_dir)

    def split(self, splitter, y: str | None = None):
        """Yield ``(train_cohort, test_cohort)`` from a scikit-learn style splitter.

        The patient column is passed as ``groups``, so patient-level splitters
        keep both joints and all visits of a patient on one side.
        """
        yv = self.column(y) if y else None
        X = np.zeros((len(self), 1))
        for train, test in splitter.split(X, yv, self.groups):
            overlap = set(self.groups[train]) & set(self.groups[test])
            if overlap:
                raise ValueError(f"the splitter put patients {sorted(overlap)[:5]} in both train and test")
            yield self.subset(train), self.subset(test)

    # ---------------------------------------------------------- preprocessing cache
    def cache_key(self, i: int, fn, params: dict, column: str = "path") -> str:
        src = self.path(i, column)
        st = os.stat(src)
        blob = json.dumps({"fn": f"{fn.__module__}.{fn.__qualname__}", "params": params, "src": src,
                           "size": st.st_size, "mtime_ns": st.st_mtime_ns}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def preprocessed(self, i: int, fn, column: str = "path", **params) -> Volume:
        """``fn(volume, **params)`` for row ``i``, cached on disk as NIfTI.

        ``fn`` must return a Volume; ``params`` must be JSON-serialisable (they
        are part of the cache key).
        """
        key = self.cache_key(i, fn, params, column)
        cached = os.path.join(self.cache_dir, f"{key}.nii.gz")
        if os.path.exists(cached):
            return load(cached)
        out = fn(self.load(i, column), **params)
        if not isinstance(out, Volume):
            raise TypeError(f"{fn.__name__} must return a sacroai.Volume, returned {type(out).__name__}")
        os.makedirs(self.cache_dir, exist_ok=True)
        save(out, cached)  # atomic: concurrent workers never see half a file
        return out
