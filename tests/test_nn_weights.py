"""safetensors weights and model cards: round trip, interop with the safetensors package, bad files."""
import json

import numpy as np
import pytest

import sacroai
from sacroai.nn import weights as W
from reference.nn_train_models import TinySequential


def sample_tensors():
    r = np.random.default_rng(0)
    return {
        "conv1.weight": r.standard_normal((4, 1, 3, 3, 3)).astype(np.float32),
        "conv1.bias": r.standard_normal(4).astype(np.float32),
        "bn.running_var": r.uniform(size=4).astype(np.float64),
        "bn.num_batches_tracked": np.array(17, dtype=np.int64),
        "mask": r.uniform(size=(2, 3)) > 0.5,
        "codes": r.integers(0, 255, (5,), dtype=np.uint8),
        "half": r.standard_normal(3).astype(np.float16),
        "empty": np.zeros((0, 3), np.float32),
    }


def test_round_trip(tmp_path):
    t = sample_tensors()
    W.save_safetensors(t, tmp_path / "a.safetensors", metadata={"note": "x"})
    back, meta = W.load_safetensors(tmp_path / "a.safetensors", with_metadata=True)
    assert meta == {"note": "x"}
    assert set(back) == set(t)
    for k in t:
        assert back[k].dtype == t[k].dtype and back[k].shape == t[k].shape
        assert np.array_equal(back[k], t[k])
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed away


def test_interop_with_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    t = sample_tensors()
    W.save_safetensors(t, tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k in t:
        assert np.array_equal(theirs[k], t[k]) and theirs[k].dtype == t[k].dtype
    st.save_file(t, str(tmp_path / "theirs.safetensors"), metadata={"format": "pt"})
    ours, meta = W.load_safetensors(tmp_path / "theirs.safetensors", with_metadata=True)
    assert meta == {"format": "pt"}
    for k in t:
        assert np.array_equal(ours[k], t[k]) and ours[k].dtype == t[k].dtype


def test_bf16_from_torch_is_widened(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    x = torch.tensor([1.5, -2.25, 3.0e-3, 65504.0]).to(torch.bfloat16)
    save_file({"w": x}, str(tmp_path / "bf.safetensors"))
    got = W.load_safetensors(tmp_path / "bf.safetensors")["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x.float().numpy())


def test_model_weights_and_card(tmp_path):
    m = TinySequential([6, 5, 3], seed=1)
    card = W.save_weights(m, tmp_path / "net.safetensors",
                          card={"architecture": "MLP 6-5-3", "input_spacing_mm": [0.8, 0.8, 3.0],
                                "normalization": {"kind": "zscore"}, "data": "synthetic",
                                "metrics": {"accuracy": 0.9}})
    on_disk = json.loads((tmp_path / "net.json").read_text())
    assert on_disk == card
    import hashlib
    assert card["sha256"] == hashlib.sha256((tmp_path / "net.safetensors").read_bytes()).hexdigest()
    assert card["parameters"] == 6 * 5 + 5 + 5 * 3 + 3 and card["architecture"] == "MLP 6-5-3"
    m2 = TinySequential([6, 5, 3], seed=2)
    assert W.load_weights(m2, tmp_path / "net.safetensors")["metrics"] == {"accuracy": 0.9}
    for (k, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
        assert np.array_equal(a.data, b.data), k
    # keys are PyTorch-style
    assert set(W.load_safetensors(tmp_path / "net.safetensors")) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_load_torch_state_dict_file(tmp_path):
    """A torch nn.Sequential saved with safetensors.torch loads by key name."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from safetensors.torch import save_file
    tm = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    save_file(tm.state_dict(), str(tmp_path / "t.safetensors"))
    m = TinySequential([6, 5, 3])
    W.load_weights(m, tmp_path / "t.safetensors")
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(m.forward(x), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_missing_unexpected_and_misshaped_keys(tmp_path):
    m = TinySequential([6, 5, 3])
    sd = m.state_dict()
    W.save_safetensors({k: v for k, v in sd.items() if k != "2.bias"}, tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\]"):
        W.load_weights(m, tmp_path / "missing.safetensors")
    bad = dict(sd, **{"0.weight": np.zeros((5, 7), np.float32)})
    W.save_safetensors(bad, tmp_path / "shape.safetensors")
    with pytest.raises(ValueError, match=r"0.weight: file \(5, 7\) vs model \(5, 6\)"):
        W.load_weights(m, tmp_path / "shape.safetensors")
    extra = dict(sd, extra=np.zeros(2, np.float32))
    W.save_safetensors(extra, tmp_path / "extra.safetensors")
    with pytest.raises(ValueError, match="unexpected keys"):
        W.load_weights(m, tmp_path / "extra.safetensors")
    W.load_weights(m, tmp_path / "extra.safetensors", strict=False)
    with pytest.raises(FileNotFoundError):
        W.load_weights(m, tmp_path / "nope.safetensors")


def test_truncated_and_corrupt_files(tmp_path):
    t = sample_tensors()
    p = tmp_path / "a.safetensors"
    W.save_safetensors(t, p)
    raw = p.read_bytes()
    cases = {
        "tiny": raw[:5],
        "truncated_data": raw[:-7],
        "truncated_header": raw[:40],
        "trailing": raw + b"\0" * 4,
        "huge_header": np.uint64(1 << 40).tobytes() + raw[8:],
        "not_json": raw[:8] + b"{" + b"x" * (len(raw[8:]) - 1),
    }
    header_len = int(np.frombuffer(raw[:8], "<u8")[0])
    header = json.loads(raw[8:8 + header_len])
    header["conv1.bias"]["dtype"] = "F99"
    blob = json.dumps(header).encode()
    cases["bad_dtype"] = np.uint64(len(blob)).tobytes() + blob + raw[8 + header_len:]
    header = json.loads(raw[8:8 + header_len])
    header["conv1.bias"]["shape"] = [5]
    blob = json.dumps(header).encode()
    cases["bad_shape"] = np.uint64(len(blob)).tobytes() + blob + raw[8 + header_len:]
    for name, data in cases.items():
        q = tmp_path / f"{name}.safetensors"
        q.write_bytes(data)
        with pytest.raises(sacroai.FileFormatError, match="not a valid safetensors file"):
            W.load_safetensors(q)


def test_checksum_mismatch_is_detected(tmp_path):
    m = TinySequential([4, 2])
    p = tmp_path / "w.safetensors"
    W.save_weights(m, p)
    raw = bytearray(p.read_bytes())
    raw[-1] ^= 0xFF   # flip bits inside the last float
    p.write_bytes(bytes(raw))
    with pytest.raises(sacroai.FileFormatError, match="SHA-256"):
        W.load_weights(m, p)
    W.load_weights(m, p, verify=False)


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="cannot be stored"):
        W.save_safetensors({"c": np.zeros(2, np.complex64)}, tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="json"):
        W.save_weights(TinySequential([2, 2]), tmp_path / "w.json")
    with pytest.raises(TypeError, match="JSON-serializable"):
        W.save_weights(TinySequential([2, 2]), tmp_path / "w.safetensors", card={"x": object()})


def test_real_conv_model_round_trip_and_torch_weights(tmp_path):
    """nn-core's Conv2d model: save/load round trip, and a torch model's safetensors file."""
    conv = pytest.importorskip("sacroai.nn.conv")
    from sacroai.nn.module import Sequential
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from safetensors.torch import save_file

    def ours(seed):
        return Sequential(conv.Conv2d(1, 3, 3, padding=1, rng=seed), conv.Conv2d(3, 2, 1, rng=seed + 1))

    m = ours(0)
    W.save_weights(m, tmp_path / "m.safetensors", card={"architecture": "conv3x3-conv1x1"})
    m2 = ours(7)
    W.load_weights(m2, tmp_path / "m.safetensors")
    for k, v in m.state_dict().items():
        assert np.array_equal(v, m2.state_dict()[k]), k

    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.Conv2d(3, 2, 1))
    save_file(tm.state_dict(), str(tmp_path / "t.safetensors"))
    W.load_weights(m2, tmp_path / "t.safetensors")
    x = np.random.default_rng(0).standard_normal((2, 1, 9, 8)).astype(np.float32)
    m2.eval()
    np.testing.assert_allclose(m2(x), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
