"""Full-batch gradient descent on f(x) = M^{-1/2} Σ_j a_j relu(w_jᵀx), squared loss, float64,
both layers trained, in PyTorch (autograd + a manual SGD step): seconds per step."""
import time
import torch
from common import N, D, M, STEPS, LR, threads, report

torch.set_num_threads(threads())
torch.manual_seed(0)
dtype = torch.float64
x = torch.randn(N, D, dtype=dtype) / D ** 0.5
y = torch.randn(N, 1, dtype=dtype)
w = torch.randn(M, D, dtype=dtype, requires_grad=True)
a = (torch.randint(0, 2, (M, 1), dtype=dtype) * 2 - 1).requires_grad_(True)
scale = M ** -0.5


def step():
    f = scale * torch.relu(x @ w.T) @ a
    loss = 0.5 * ((f - y) ** 2).mean()
    gw, ga = torch.autograd.grad(loss, (w, a))
    with torch.no_grad():
        w.sub_(LR * gw)
        a.sub_(LR * ga)
    return loss


for _ in range(5):
    step()
start = time.perf_counter()
for _ in range(STEPS):
    loss = step()
elapsed = time.perf_counter() - start
report("train_step", f"torch {torch.__version__}", elapsed / STEPS, final_loss=float(loss), threads=threads())
