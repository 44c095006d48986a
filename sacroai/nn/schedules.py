"""Learning-rate schedules, stepped once per epoch.

Each schedule sets ``group["lr"]`` of every parameter group of an optimizer
from the group's initial learning rate with a closed-form rule of the epoch
count, so resuming at epoch ``e`` gives exactly the same rates:

* :class:`PolyLR` -- nnU-Net's ``lr0 * (1 - epoch / max_epochs) ** 0.9``
* :class:`CosineAnnealingLR` -- ``eta_min + (lr0 - eta_min) (1 + cos(pi t / T_max)) / 2``
* :class:`StepLR` -- ``lr0 * gamma ** (epoch // step_size)``

``warmup_epochs=w`` prepends a linear warmup from ``warmup_start_factor * lr0``
to ``lr0`` over ``w`` epochs (as ``torch.optim.lr_scheduler.LinearLR``); the
main schedule then runs on ``epoch - w`` (and over ``max_epochs - w`` / ``T_max - w``).
"""
from __future__ import annotations

import math

__all__ = ["LRScheduler", "PolyLR", "CosineAnnealingLR", "StepLR"]


class LRScheduler:
    """Base class.  ``step()`` after each epoch; ``last_epoch`` counts steps."""

    def __init__(self, optimizer, warmup_epochs=0, warmup_start_factor=0.0):
        if warmup_epochs < 0 or int(warmup_epochs) != warmup_epochs:
            raise ValueError(f"warmup_epochs must be a non-negative integer, got {warmup_epochs}")
        if not 0.0 <= warmup_start_factor <= 1.0:
            raise ValueError(f"warmup_start_factor must be in [0, 1], got {warmup_start_factor}")
        self.optimizer = optimizer
        self.warmup_epochs = int(warmup_epochs)
        self.warmup_start_factor = float(warmup_start_factor)
        self.base_lrs = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def _main_lr(self, base_lr, t):
        raise NotImplementedError

    def lr_at(self, epoch):
        """Learning rates of every group at ``epoch`` (0-based)."""
        out = []
        for base in self.base_lrs:
            w = self.warmup_epochs
            if epoch < w:
                f = self.warmup_start_factor + (1.0 - self.warmup_start_factor) * epoch / w
                out.append(base * f)
            else:
                out.append(self._main_lr(base, epoch - w))
        return out

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def _apply(self):
        for g, lr in zip(self.optimizer.param_groups, self.lr_at(self.last_epoch)):
            g["lr"] = lr

    def step(self):
        self.last_epoch += 1
        self._apply()

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update({k: v for k, v in state.items() if k != "optimizer"})
        self._apply()


class PolyLR(LRScheduler):
    """nnU-Net's polynomial decay: ``lr0 * (1 - t / max_epochs) ** exponent``."""

    def __init__(self, optimizer, max_epochs, exponent=0.9, **warmup):
        if max_epochs <= 0:
            raise ValueError(f"max_epochs must be > 0, got {max_epochs}")
        self.max_epochs, self.exponent = int(max_epochs), float(exponent)
        super().__init__(optimizer, **warmup)

    def _main_lr(self, base_lr, t):
        total = max(self.max_epochs - self.warmup_epochs, 1)
        return base_lr * (1.0 - min(t, total) / total) ** self.exponent


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing to ``eta_min`` over ``T_max`` epochs (PyTorch's closed form)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, **warmup):
        if T_max <= 0:
            raise ValueError(f"T_max must be > 0, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, **warmup)

    def _main_lr(self, base_lr, t):
        total = max(self.T_max - self.warmup_epochs, 1)
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + math.cos(math.pi * t / total)) / 2.0


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, **warmup):
        if step_size <= 0:
            raise ValueError(f"step_size must be > 0, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, **warmup)

    def _main_lr(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)
