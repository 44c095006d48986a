"""Model weights in safetensors files with a JSON model card beside each.

safetensors layout: an 8-byte little-endian header length ``n``, ``n`` bytes
of JSON (``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
"__metadata__": {str: str}}``), then the raw little-endian tensor bytes.
Files are read and written with NumPy only -- nothing is ever unpickled --
and written atomically (a temporary file in the same folder, fsync, rename),
so a crash never leaves a half-written weights file behind.

The model card ``<stem>.json`` records what is needed to use the weights
again: architecture, input spacing (mm), intensity normalization, training
data, metrics, and the SHA-256 of the weights file (checked on load).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .._core import FileFormatError
from .._version import __version__

__all__ = ["save_safetensors", "load_safetensors", "save_weights", "load_weights",
           "read_model_card", "card_path", "atomic_write_bytes"]

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {(v.kind, v.itemsize): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the limit of the reference implementation


def _umask() -> int:
    with open("/proc/self/status") as f:  # read without changing it (os.umask would race other threads)
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def atomic_write_bytes(path, chunks):
    """Write an iterable of bytes-like chunks to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make shared weights unreadable
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_safetensors(tensors, path, metadata=None):
    """Write a dict ``name -> array`` as a safetensors file (atomically).

    metadata: optional dict of str -> str stored under ``__metadata__``.
    """
    header, arrays, offset = {}, [], 0
    for name in sorted(tensors):
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r}")
        arr = np.asarray(tensors[name])
        key = (arr.dtype.kind, arr.dtype.itemsize)
        if key not in _NAMES:
            raise TypeError(f"tensor {name!r}: dtype {arr.dtype} cannot be stored in safetensors")
        arr = np.require(arr, dtype=_DTYPES[_NAMES[key]], requirements="C")  # keeps 0-d shapes
        header[name] = {"dtype": _NAMES[key], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        arrays.append(arr)
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)   # align the data section to 8 bytes, as the reference writer
    chunks = [np.uint64(len(blob)).astype("<u8").tobytes(), blob]
    chunks += [memoryview(a).cast("B") if a.nbytes else b"" for a in arrays]
    atomic_write_bytes(path, chunks)


def _format_error(path, what):
    return FileFormatError(f"{os.fspath(path)}: not a valid safetensors file: {what}")


def _read_header(path, raw):
    if len(raw) < 8:
        raise _format_error(path, f"file is {len(raw)} bytes, shorter than the 8-byte header length")
    n = int(np.frombuffer(raw[:8], "<u8")[0])
    if n > _MAX_HEADER:
        raise _format_error(path, f"header length {n} is larger than the {_MAX_HEADER}-byte limit")
    if 8 + n > len(raw):
        raise _format_error(path, f"header length {n} runs past the end of the file "
                                  f"({len(raw)} bytes; truncated?)")
    try:
        header = json.loads(bytes(raw[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _format_error(path, f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _format_error(path, "header is not a JSON object")
    return header, 8 + n


def load_safetensors(path, with_metadata=False):
    """Read a safetensors file into a dict ``name -> ndarray`` (native byte order).

    BF16 tensors are widened to float32.  Raises :class:`sacroai.FileFormatError`
    for a truncated or corrupt file.  ``with_metadata=True`` returns
    ``(tensors, metadata)``.
    """
    path = Path(path)
    raw = memoryview(path.read_bytes())
    header, start = _read_header(path, raw)
    data = raw[start:]
    metadata = header.pop("__metadata__", None) or {}
    entries = []
    for name, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            shape = tuple(int(s) for s in shape)
            begin, end = int(begin), int(end)
        except (KeyError, TypeError, ValueError):
            raise _format_error(path, f"tensor {name!r} has a malformed header entry {info!r}") from None
        if dtype_name not in _DTYPES and dtype_name != "BF16":
            raise _format_error(path, f"tensor {name!r} has unsupported dtype {dtype_name!r}")
        if any(s < 0 for s in shape):
            raise _format_error(path, f"tensor {name!r} has a negative dimension in {shape}")
        itemsize = 2 if dtype_name == "BF16" else _DTYPES[dtype_name].itemsize
        nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
        if end - begin != nbytes or begin < 0:
            raise _format_error(path, f"tensor {name!r}: data_offsets {[begin, end]} do not match "
                                      f"{nbytes} bytes for shape {list(shape)} {dtype_name}")
        entries.append((begin, end, name, dtype_name, shape))
    entries.sort()
    pos = 0
    for begin, end, name, _, _ in entries:
        if begin != pos:
            raise _format_error(path, f"tensor {name!r} starts at byte {begin}, expected {pos} "
                                      "(overlapping or non-contiguous data)")
        pos = end
    if pos > len(data):
        raise _format_error(path, f"data section has {len(data)} bytes but the header needs {pos} "
                                  "(truncated file)")
    if pos != len(data):
        raise _format_error(path, f"{len(data) - pos} unexpected bytes after the last tensor")
    out = {}
    for begin, end, name, dtype_name, shape in entries:
        if dtype_name == "BF16":
            bits = np.frombuffer(data[begin:end], "<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            dt = _DTYPES[dtype_name]
            arr = np.frombuffer(data[begin:end], dt).astype(dt.newbyteorder("="))
        out[name] = arr.reshape(shape)
    return (out, dict(metadata)) if with_metadata else out


def card_path(path):
    """The model card that belongs to a weights file: ``<stem>.json`` beside it."""
    return Path(path).with_suffix(".json")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _state_arrays(model):
    sd = model.state_dict()
    return {k: np.asarray(v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v)
            for k, v in sd.items()}


def save_weights(model, path, card=None):
    """Save ``model.state_dict()`` to ``path`` (safetensors) and a model card beside it.

    card: dict with what a user of the weights must know, e.g.
    ``{"architecture": "UNet3D(...)", "input_spacing_mm": [0.8, 0.8, 3.0],
    "normalization": {...}, "data": "...", "metrics": {"dice": 0.81}}``;
    it must be JSON-serializable.  Returns the card as written (with
    ``weights_file``, ``sha256``, ``tensors``, ``parameters``, ``created``).
    ``card={"created": None}`` leaves the timestamp out, so that a
    reproducible training run writes byte-identical cards.
    """
    path = Path(path)
    if path.suffix == ".json":
        raise ValueError(f"path must not end in .json (that name is used by the model card): {path}")
    arrays = _state_arrays(model)
    save_safetensors(arrays, path, metadata={"format": "np", "writer": f"sacroai {__version__}"})
    full = dict(card or {})
    full.update({
        "weights_file": path.name,
        "format": "safetensors",
        "sha256": _sha256(path),
        "tensors": len(arrays),
        "parameters": int(sum(a.size for a in arrays.values() if a.dtype.kind == "f")),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sacroai_version": __version__,
    })
    if card and "created" in card:
        if card["created"] is None:
            del full["created"]
        else:
            full["created"] = card["created"]
    try:
        text = json.dumps(full, indent=2, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"card must be JSON-serializable: {e}") from None
    atomic_write_bytes(card_path(path), [text.encode("utf-8") + b"\n"])
    return full


def read_model_card(path):
    """The model card of a weights file (dict), or None when there is none."""
    cp = card_path(path)
    if not cp.exists():
        return None
    try:
        return json.loads(cp.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FileFormatError(f"{cp}: model card is not valid JSON ({e})") from None


def load_weights(model, path, strict=True, verify=True):
    """Load weights saved by :func:`save_weights` (or any safetensors file with
    PyTorch ``state_dict`` key names) into ``model``.

    Every key of the model must be present with the same shape (a ValueError
    names the missing, unexpected or mis-shaped keys); with ``strict=False``
    unexpected keys in the file are ignored.  Floating values are cast to the
    dtype of the model's arrays.  With ``verify`` the SHA-256 recorded in the
    model card (if any) must match the file.  Returns the model card or None.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    card = read_model_card(path)
    if verify and card and card.get("sha256"):
        digest = _sha256(path)
        if digest != card["sha256"]:
            raise FileFormatError(f"{path}: SHA-256 {digest} does not match the model card "
                                  f"({card['sha256']}); the file was changed or corrupted")
    tensors = load_safetensors(path)
    expected = _state_arrays(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shapes = [f"{k}: file {tensors[k].shape} vs model {expected[k].shape}"
              for k in sorted(set(expected) & set(tensors)) if tensors[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected and strict:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes))
    if problems:
        raise ValueError(f"weights file {path} does not fit the model: " + "; ".join(problems))
    state = {k: np.require(tensors[k], dtype=expected[k].dtype, requirements="C") for k in expected}
    model.load_state_dict(state)
    return card
