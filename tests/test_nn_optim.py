"""Optimizer steps and learning-rate schedules vs torch.optim."""
import math

import numpy as np
import pytest

from sacroai.nn import optim, schedules

torch = pytest.importorskip("torch")
torch.set_num_threads(2)


class P:
    """The Parameter contract: a float32 .data updated in place and a .grad."""

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float32)
        self.grad = None


SHAPES = [(7, 5), (3,), (2, 3, 3, 3), (70000,)]  # the last one takes the parallel path


def make(seed=0):
    r = np.random.default_rng(seed)
    init = [r.standard_normal(s).astype(np.float32) for s in SHAPES]
    targets = [r.standard_normal(s).astype(np.float32) for s in SHAPES]
    return init, targets


def run_both(make_ours, make_torch, steps, seed=0):
    """Minimize sum((p - target)^2 * scale) with both; gradients come from each own weights."""
    init, targets = make(seed)
    ours = [P(a) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    o, t = make_ours(ours), make_torch(theirs)
    for k in range(steps):
        o.zero_grad()
        t.zero_grad()
        for p, q, tgt in zip(ours, theirs, targets):
            scale = np.float32(1.0 + 0.5 * k)
            p.grad = (np.float32(2.0) * (p.data - tgt) * scale).astype(np.float32)
            loss = torch.sum((q - torch.tensor(tgt)) ** 2 * float(scale))
            loss.backward()
        o.step()
        t.step()
    return ours, theirs, o, t


def assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=atol)


SGD_OPTS = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=1e-3),
    dict(lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5),  # nnU-Net's setting
    dict(lr=0.01, momentum=0.5, weight_decay=1e-2, maximize=True),
]


@pytest.mark.parametrize("opts", SGD_OPTS)
@pytest.mark.parametrize("steps", [1, 6])
def test_sgd_matches_torch(opts, steps):
    ours, theirs, _, _ = run_both(lambda ps: optim.SGD(ps, **opts),
                                  lambda ps: torch.optim.SGD(ps, **opts), steps)
    assert_same(ours, theirs)


ADAM_OPTS = [
    (optim.Adam, torch.optim.Adam, dict(lr=1e-2)),
    (optim.Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2, betas=(0.8, 0.99))),
    (optim.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=1e-2)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=3e-2, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    (optim.Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.3, 0.9), amsgrad=True, weight_decay=1e-3)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=1e-2, betas=(0.2, 0.99), maximize=True)),
]


@pytest.mark.parametrize("ours_cls,torch_cls,opts", ADAM_OPTS)
@pytest.mark.parametrize("steps", [1, 8])
def test_adam_matches_torch(ours_cls, torch_cls, opts, steps):
    ours, theirs, o, t = run_both(lambda ps: ours_cls(ps, **opts),
                                  lambda ps: torch_cls(ps, foreach=False, **opts), steps)
    assert_same(ours, theirs)
    # the moments too (absolute tolerance relative to their scale: the gradients
    # 2 (p - target) cancel near the optimum, where a 1-ulp weight difference shows)
    for p, q in zip(ours, theirs):
        for key in ("exp_avg", "exp_avg_sq"):
            ref = t.state[q][key].numpy()
            np.testing.assert_allclose(o.state[id(p)][key], ref, rtol=1e-5,
                                       atol=1e-6 * float(np.abs(ref).max()))


def test_param_groups_and_none_grads():
    a, b, c = P(np.ones(3)), P(np.ones(3)), P(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.5}], lr=0.1)
    a.grad = np.ones(3, np.float32)
    b.grad = np.ones(3, np.float32)
    opt.step()          # c has no gradient: untouched
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    np.testing.assert_allclose(c.data, 1.0)
    opt.zero_grad()
    assert np.all(a.grad == 0) and c.grad is None
    opt.zero_grad(set_to_none=True)
    assert a.grad is None


@pytest.mark.parametrize("cls,opts", [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                      (optim.AdamW, dict(lr=0.01, amsgrad=True))])
def test_state_dict_resume_is_exact(cls, opts):
    """Run 6 steps straight vs 3 steps, save, restore in a fresh optimizer, 3 more."""
    init, targets = make(1)

    def grads(ps, k):
        for p, tgt in zip(ps, targets):
            p.grad = ((p.data - tgt) * np.float32(1 + k)).astype(np.float32)

    straight = [P(a) for a in init]
    o = cls(straight, **opts)
    for k in range(6):
        grads(straight, k)
        o.step()

    resumed = [P(a) for a in init]
    o1 = cls(resumed, **opts)
    for k in range(3):
        grads(resumed, k)
        o1.step()
    sd = o1.state_dict()
    assert sorted(sd["state"]) == list(range(len(SHAPES)))
    copies = [P(p.data) for p in resumed]
    o2 = cls(copies, lr=123.0)          # hyper-parameters come from the state dict
    o2.load_state_dict(sd)
    for k in range(3, 6):
        grads(copies, k)
        o2.step()
    for p, q in zip(straight, copies):
        assert np.array_equal(p.data, q.data)


def test_bad_optimizer_input():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([P(np.ones(2))], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([P(np.ones(2))], lr=0.1, nesterov=True)
    p = P(np.ones(2))
    p.data = np.ones(2)  # float64
    with pytest.raises(TypeError, match="float32"):
        optim.Adam([p])
    q = P(np.ones(2))
    q.grad = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="grad of shape"):
        optim.Adam([q]).step()
    o = optim.Adam([P(np.ones(2))])
    with pytest.raises(ValueError, match="parameter groups"):
        o.load_state_dict({"state": {}, "param_groups": []})


# ---------------------------------------------------------------- schedules
def lrs_ours(sched_cls, epochs, **kw):
    opt = optim.SGD([P(np.ones(2))], lr=0.1)
    s = sched_cls(opt, **kw)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        s.step()
    return out


def lrs_torch(make, epochs):
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    s = make(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return out


def test_poly_matches_torch_and_nnunet():
    ours = lrs_ours(schedules.PolyLR, 12, max_epochs=10)
    ref = lrs_torch(lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=10, power=0.9), 12)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12)
    nnunet = [0.1 * (1 - min(e, 10) / 10) ** 0.9 for e in range(12)]
    np.testing.assert_allclose(ours, nnunet, rtol=1e-12)


def test_cosine_and_step_match_torch():
    ours = lrs_ours(schedules.CosineAnnealingLR, 15, T_max=10, eta_min=1e-3)
    ref = lrs_torch(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3), 15)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    ours = lrs_ours(schedules.StepLR, 15, step_size=4, gamma=0.5)
    ref = lrs_torch(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5), 15)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_warmup_matches_linear_lr_then_main_schedule():
    ours = lrs_ours(schedules.CosineAnnealingLR, 14, T_max=12, warmup_epochs=4, warmup_start_factor=0.1)
    ref = lrs_torch(lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=4), 4)
    np.testing.assert_allclose(ours[:4], ref, rtol=1e-6)
    main = [0.1 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(10)]
    np.testing.assert_allclose(ours[4:], main, rtol=1e-12)


def test_scheduler_state_dict_resume():
    opt = optim.SGD([P(np.ones(2))], lr=0.1)
    s = schedules.PolyLR(opt, max_epochs=20, warmup_epochs=2)
    for _ in range(7):
        s.step()
    sd = s.state_dict()
    opt2 = optim.SGD([P(np.ones(2))], lr=0.1)
    s2 = schedules.PolyLR(opt2, max_epochs=20, warmup_epochs=2)
    s2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    s.step(), s2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    with pytest.raises(ValueError, match="max_epochs"):
        schedules.PolyLR(opt, max_epochs=0)


def test_threads_do_not_change_steps():
    import sacroai
    before = sacroai.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            sacroai.set_num_threads(n)
            ps = [P(np.linspace(-1, 1, 200000))]
            o = optim.AdamW(ps, lr=0.01, amsgrad=True)
            for k in range(3):
                ps[0].grad = np.sin(ps[0].data * (k + 1)).astype(np.float32)
                o.step()
            out.append(ps[0].data.copy())
    finally:
        sacroai.set_num_threads(before)
    assert np.array_equal(out[0], out[1])


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, 1.0), (0.2, float("inf"))])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    r = np.random.default_rng(3)
    grads = [r.standard_normal(s).astype(np.float32) for s in [(4, 3), (5,), (2, 2, 2)]]
    ours = [P(np.zeros(g.shape)) for g in grads]
    for p, g in zip(ours, grads):
        p.grad = g.copy()
    ours.append(P(np.zeros(3)))   # no gradient: ignored
    total = optim.clip_grad_norm_(ours, max_norm, norm_type)
    ts = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for t, g in zip(ts, grads):
        t.grad = torch.tensor(g)
    ref = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    assert total == pytest.approx(float(ref), rel=1e-6)
    for p, t in zip(ours, ts):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_(ours, 0.0)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_gradient_memory_layouts(cls):
    """Fortran-ordered, strided, read-only and float64 gradients give the C-order result."""
    r = np.random.default_rng(5)
    g = r.standard_normal((6, 4)).astype(np.float32)
    strided = np.zeros((6, 8), np.float32)
    strided[:, ::2] = g
    ro = g.copy()
    ro.setflags(write=False)
    results = []
    for grad in [g, np.asfortranarray(g), strided[:, ::2], ro, g.astype(np.float64)]:
        p = P(np.ones((6, 4)))
        p.grad = grad
        o = cls([p], lr=0.1)
        o.step()
        o.step()
        results.append(p.data)
    for res in results[1:]:
        assert np.array_equal(res, results[0])
