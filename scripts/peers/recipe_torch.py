"""The tutorial's recipe (784-500-10 MLP, SGD, exp-decay LR, L2, EMA) in PyTorch.
Peer baseline for accuracy and speed. Usage: python3 recipe_torch.py MNIST_DIR [steps] [threads]"""
import os, sys, time, struct, numpy as np, torch

def idx(path):
    b = open(path, 'rb').read()
    magic, = struct.unpack('>I', b[:4]); nd = magic & 0xff
    dims = struct.unpack('>' + 'I' * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)

d = sys.argv[1]; steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
X = torch.tensor(idx(d + '/train-images-idx3-ubyte').reshape(-1, 784) / 255.0, dtype=torch.float32)
Y = torch.tensor(idx(d + '/train-labels-idx1-ubyte').astype(np.int64))
Xt = torch.tensor(idx(d + '/t10k-images-idx3-ubyte').reshape(-1, 784) / 255.0, dtype=torch.float32)
Yt = torch.tensor(idx(d + '/t10k-labels-idx1-ubyte').astype(np.int64))
Xtr, Ytr = X[5000:], Y[5000:]  # TF's read_data_sets: first 5000 are validation
n = Xtr.shape[0]
torch.manual_seed(0)
def tn(shape, std):
    t = torch.empty(shape); torch.nn.init.trunc_normal_(t, 0, std, -2 * std, 2 * std); return t
w1 = tn((784, 500), .1).requires_grad_(); b1 = torch.full((500,), .1, requires_grad=True)
w2 = tn((500, 10), .1).requires_grad_(); b2 = torch.full((10,), .1, requires_grad=True)
params = [w1, b1, w2, b2]; ema = [p.detach().clone() for p in params]
def inf(x, p): return torch.relu(x @ p[0] + p[1]) @ p[2] + p[3]
perm = torch.randperm(n); pos = 0
t0 = time.perf_counter(); log = []
for i in range(steps):
    if i % 1000 == 0 and os.environ.get('EVAL', '1') != '0':
        with torch.no_grad(): acc = (inf(Xt, ema).argmax(1) == Yt).float().mean().item()
        log.append((i, acc)); print(f'step {i} test acc {acc*100:.2f}%', flush=True)
    if pos + 100 > n: perm = torch.randperm(n); pos = 0
    idxs = perm[pos:pos + 100]; pos += 100
    lr = 0.8 * 0.99 ** (i // 550)
    loss = torch.nn.functional.cross_entropy(inf(Xtr[idxs], params), Ytr[idxs]) + 1e-4 * ((w1 ** 2).sum() + (w2 ** 2).sum()) / 2
    gs = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, gs): p -= lr * g
        dec = min(0.99, (1 + i + 1) / (10 + i + 1))  # TF applies EMA after the step's global_step increment
        for e, p in zip(ema, params): e.mul_(dec).add_(p, alpha=1 - dec)
with torch.no_grad(): acc = (inf(Xt, ema).argmax(1) == Yt).float().mean().item()
dt = time.perf_counter() - t0
print(f'final step {steps} test acc {acc*100:.2f}%  train seconds {dt:.1f}  ms/step {dt/steps*1000:.2f}')
