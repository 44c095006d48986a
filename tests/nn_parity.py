"""Shared helpers for the PyTorch parity tests of sacroai.nn (not a test module)."""
import numpy as np

TOL = 1e-4


def rel_err(a, b):
    """max |a - b| / max |b| (relative to the largest reference magnitude)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != reference {b.shape}"
    scale = max(np.abs(b).max(), 1e-12)
    return float(np.abs(a - b).max() / scale)


def copy_weights(torch_module, ours):
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})


def check_parity(torch, tmod, ours, x, rng, tol=TOL, train=True, input_grad=True):
    """Forward and backward of ``ours`` against ``tmod`` on x; returns the error dict."""
    copy_weights(tmod, ours)
    tmod.train(train)
    ours.train(train)
    tx = torch.tensor(x, requires_grad=input_grad)
    ty = tmod(tx)
    y = ours(x)
    errs = {"output": rel_err(y, ty.detach().numpy())}
    g = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    if not train:
        from sacroai.nn import enable_grad
        with enable_grad():
            ours(x)
    dx = ours.backward(g)
    if input_grad:
        errs["grad_input"] = rel_err(dx, tx.grad.numpy())
    tparams = dict(tmod.named_parameters())
    for name, p in ours.named_parameters():
        if tparams[name].grad is None:
            continue
        errs["grad " + name] = rel_err(p.grad, tparams[name].grad.numpy())
    # buffers (e.g. BatchNorm running statistics) after the step
    tb = dict(tmod.named_buffers())
    for name, b in ours.named_buffers():
        if b.dtype.kind == "f":
            errs["buffer " + name] = rel_err(b, tb[name].numpy())
        else:
            assert int(b) == int(tb[name]), name
    bad = {k: v for k, v in errs.items() if not v <= tol}
    assert not bad, f"{type(ours).__name__}: errors above {tol}: {bad}"
    return errs
