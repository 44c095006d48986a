"""Parity against a float64 PyTorch twin (helpers for the model tests; not a test module).

Gradients that are exactly zero in exact arithmetic (the bias of a convolution
followed by a training-mode BatchNorm) are checked against the scale of the
gradient of the same layer's weight, since a relative error of rounding noise
around zero means nothing.
"""
import numpy as np

from nn_parity import TOL, copy_weights, rel_err


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_parity64(torch, tmod, ours, x, rng, tol=TOL, train=True, zero_bias=(), outputs=None):
    """Compare ``ours`` (float32) with ``tmod`` run in float64 on the same weights.

    ``zero_bias``: parameter names whose exact gradient is 0 (a list: each is compared with its
    layer's weight gradient; or a dict name -> name of the reference parameter).  Returns the errors.
    ``ours`` may return a list of outputs (then ``backward`` takes a list).
    """
    copy_weights(tmod, ours)
    tmod.double().train(train)
    ours.train(train)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = _as_list(tmod(tx))
    y = ours(x)
    ys = _as_list(y)
    errs = {f"output{i}": rel_err(a, b.detach().numpy()) for i, (a, b) in enumerate(zip(ys, ty))}
    assert len(ys) == len(ty)
    gs = [rng.standard_normal(t.shape).astype(np.float32) for t in ty]
    torch.autograd.backward(ty, [torch.tensor(g, dtype=torch.float64) for g in gs])
    if not train:
        from sacroai.nn import enable_grad
        with enable_grad():
            ours(x)
    dx = ours.backward(gs if isinstance(y, (list, tuple)) else gs[0])
    errs["grad_input"] = rel_err(dx, tx.grad.numpy())
    tparams = dict(tmod.named_parameters())
    ograds = {n: p.grad for n, p in ours.named_parameters()}
    for name, g in ograds.items():
        tg = tparams[name].grad
        if tg is None:
            assert g is None, f"{name}: PyTorch has no gradient, ours has one"
            continue
        if name in zero_bias:
            wname = zero_bias[name] if isinstance(zero_bias, dict) else name[:-len("bias")] + "weight"
            scale = np.abs(tparams[wname].grad.numpy()).max()
            errs["zero grad " + name] = float(np.abs(g).max() / scale)
        else:
            errs["grad " + name] = rel_err(g, tg.numpy())
    tb = dict(tmod.named_buffers())
    for name, b in ours.named_buffers():
        if b.dtype.kind == "f":
            errs["buffer " + name] = rel_err(b, tb[name].numpy())
        else:
            assert int(b) == int(tb[name]), name
    bad = {k: v for k, v in errs.items() if not v <= tol}
    assert not bad, f"{type(ours).__name__}: errors above {tol}: {bad}"
    return errs
