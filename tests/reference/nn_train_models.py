"""Small models on the Module contract (forward/backward, parameters, state dicts),
used by the training, weights and inference tests when nn-core layers are not
needed: a dense layer, ReLU and a sequential container, all in plain NumPy."""
import numpy as np


class Param:
    def __init__(self, data):
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.grad = None


class Dense:
    def __init__(self, n_in, n_out, rng):
        bound = 1.0 / np.sqrt(n_in)
        self.weight = Param(rng.uniform(-bound, bound, (n_out, n_in)))
        self.bias = Param(rng.uniform(-bound, bound, n_out))

    def params(self):
        return {"weight": self.weight, "bias": self.bias}

    def forward(self, x):
        self._x = x
        return (x @ self.weight.data.T + self.bias.data).astype(np.float32)

    def backward(self, g):
        gw = (g.T @ self._x).astype(np.float32)
        gb = g.sum(axis=0).astype(np.float32)
        for p, d in ((self.weight, gw), (self.bias, gb)):
            if p.grad is None:
                p.grad = d
            else:
                p.grad += d
        return (g @ self.weight.data).astype(np.float32)


class Relu:
    def params(self):
        return {}

    def forward(self, x):
        self._m = x > 0
        return x * self._m

    def backward(self, g):
        return g * self._m


class TinySequential:
    """Sequential of Dense/Relu with PyTorch-style keys '0.weight', '2.bias', ..."""

    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i:
                self.layers.append(Relu())
            self.layers.append(Dense(a, b, rng))
        self.training = True

    def named_parameters(self):
        for i, layer in enumerate(self.layers):
            for k, p in layer.params().items():
                yield f"{i}.{k}", p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def forward(self, x):
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, g):
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self):
        return {k: p.data.copy() for k, p in self.named_parameters()}

    def load_state_dict(self, sd):
        own = dict(self.named_parameters())
        if set(sd) != set(own):
            raise KeyError(f"keys differ: {sorted(set(sd) ^ set(own))}")
        for k, p in own.items():
            p.data[...] = sd[k]
