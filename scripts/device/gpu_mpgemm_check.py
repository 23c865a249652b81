# GPU check of the mixed-precision GEMM kernels without a Swift toolchain (CuPy + PyTorch):
# correctness vs a NumPy reference on odd and Vim-base shapes, timings vs cuBLAS FP16.
#   python3 scripts/device/gpu_mpgemm_check.py
import sys, os, json, time
import numpy as np, cupy as cp, torch
# The CUDA source is the raw string in Sources/OuroQuant/GPU/GPUMixedPrecisionKernels.swift.
here = os.path.dirname(os.path.abspath(__file__))
swift = open(os.path.join(here, '..', '..', 'Sources', 'OuroQuant', 'GPU', 'GPUMixedPrecisionKernels.swift')).read()
src = swift[swift.index('#"""\n') + 5:swift.index('"""#')]
t0 = time.time()
mod = cp.RawModule(code=src, options=('--std=c++17',))
TILES = {'128x128': 128, '128x128w4': 128, '128x256': 256}
gemm = {t: mod.get_function('ouro_mp_gemm_' + t) for t in TILES}
quant16 = mod.get_function('ouro_mp_quantize_f16')
quant32 = mod.get_function('ouro_mp_quantize_f32')
print('compiled in %.1fs on %s' % (time.time() - t0, torch.cuda.get_device_name()), flush=True)
i32 = np.int32

def problem(M, K, N, ncols, abits, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((M, K), dtype=np.float32)
    G = (M + 127) // 128
    width = (ncols + 15) // 16 * 16
    idx = -np.ones((G, max(width, 1)), np.int32)
    mask = np.zeros((M, K), bool)
    for g in range(G):
        l = np.sort(rng.choice(K, ncols, replace=False)) if ncols else np.zeros(0, int)
        idx[g, :ncols] = l
        x[g*128:(g+1)*128][:, l] *= 20
        mask[g*128:(g+1)*128][:, l] = True
    xh = x.astype(np.float16); xq = xh.astype(np.float32)
    qmax = 7 if abits == 4 else 127
    sI = (np.maximum(np.where(mask, 0, np.abs(xq)).max(1), np.float32(1e-8)) / np.float32(qmax)).astype(np.float32)
    W = rng.integers(-7, 8, (N, K)).astype(np.int8)
    sw = (0.001 + 0.01 * rng.random(N)).astype(np.float32)
    # reference quantization
    qI = np.clip(np.rint(xq / sI[:, None]), -qmax, qmax).astype(np.int8)
    qI[mask] = 0
    P = width
    qO = np.zeros((M, max(P, 1)), np.int8); sO = np.zeros(M, np.float32)
    for t in range(M):
        l = idx[t // 128, :ncols]
        v = xq[t, l]
        so = np.float32(max(np.abs(v).max() if ncols else np.float32(0), np.float32(1e-8))) / np.float32(127)
        sO[t] = so
        qO[t, :ncols] = np.clip(np.rint(v / so), -127, 127)
    return dict(M=M, K=K, N=N, P=P, ncols=ncols, qmax=qmax, xh=xh, sI=sI, W=W, sw=sw, idx=idx, qI=qI, qO=qO, sO=sO)

def ref_slice(p, rows, outs):
    qI, W, qO, idx = p['qI'], p['W'], p['qO'], p['idx']
    acc = qI[rows].astype(np.int64) @ W[outs].astype(np.int64).T
    accO = np.zeros_like(acc)
    if p['P']:
        for i, t in enumerate(rows):
            l = idx[t // 128]
            wg = np.where(l[None, :] >= 0, W[outs][:, np.maximum(l, 0)], 0).astype(np.int64)
            accO[i] = wg @ qO[t].astype(np.int64)
    return p['sw'][outs].astype(np.float64)[None, :] * (p['sI'][rows].astype(np.float64)[:, None] * acc + p['sO'][rows].astype(np.float64)[:, None] * accO)

def relerr(got, ref):
    fl = 1e-3 * np.abs(ref).max()
    return float((np.abs(got - ref) / np.maximum(np.maximum(np.abs(ref), fl), 1e-30)).max())

def timed(fn, reps=20, inner=10):
    for _ in range(3): fn()
    s, e = cp.cuda.Event(), cp.cuda.Event(); out = []
    for _ in range(reps):
        s.record()
        for _ in range(inner): fn()
        e.record(); e.synchronize()
        out.append(cp.cuda.get_elapsed_time(s, e) / inner)
    return float(np.median(out))

def run(M, K, N, ncols, abits, seed=1, do_time=True):
    p = problem(M, K, N, ncols, abits, seed)
    P = p['P']
    d = {k: cp.asarray(p[k]) for k in ['xh', 'sI', 'W', 'sw', 'idx']}
    qI = cp.zeros((M, K), cp.int8); qO = cp.zeros((M, max(P, 1)), cp.int8); sO = cp.zeros(M, cp.float32)
    out = cp.zeros((M, N), cp.float16)
    qa = lambda: quant16((M,), (128,), (d['xh'], d['sI'], i32(p['qmax']), d['idx'], i32(P), qI, qO, sO, i32(M), i32(K)))
    qa(); cp.cuda.Device().synchronize()
    res = dict(M=M, K=K, N=N, outlier_cols=ncols, P=P, abits=abits)
    res['quant_mismatch'] = int((qI.get() != p['qI']).sum() + (qO.get()[:, :P] != p['qO'][:, :P]).sum() + (sO.get() != p['sO']).sum())
    rows = list(range(min(256, M))) + list(range(max(0, M - 128), M)); outs = list(range(min(256, N))) + list(range(max(0, N - 128), N))
    rows = sorted(set(rows)); outs = sorted(set(outs))
    ref = ref_slice(p, rows, outs)
    for t, BN in TILES.items():
        nt = 128 if t == '128x128w4' else 256
        g = lambda: gemm[t](((N + BN - 1) // BN, (M + 127) // 128), (nt,), (qI, d['W'], d['sI'], d['sw'], d['idx'], qO, sO, out, i32(M), i32(N), i32(K), i32(P)))
        out.fill(0); g(); cp.cuda.Device().synchronize()
        got = out.get().astype(np.float64)[np.ix_(rows, outs)]
        res['err_' + t] = relerr(got, ref)
        if do_time: res['ms_' + t] = timed(g)
    if do_time:
        res['quant_ms'] = timed(qa)
        a = torch.from_numpy(p['xh']).cuda(); b = (torch.from_numpy(p['W'].astype(np.float32)) * torch.from_numpy(p['sw'])[:, None]).half().cuda()
        c = torch.empty((M, N), dtype=torch.float16, device='cuda')
        res['torch_fp16_ms'] = timed(lambda: torch.matmul(a, b.t(), out=c))
        ca, cb = cp.asarray(p['xh']), cp.asarray(b.cpu().numpy())
        res['cupy_fp16_ms'] = timed(lambda: cp.matmul(ca, cb.T))
        best = min(res['ms_' + t] for t in TILES)
        res['tops_best'] = 2 * M * N * K / best / 1e9
        res['ratio_vs_torch'] = res['torch_fp16_ms'] / best
        res['ratio_full_vs_torch'] = res['torch_fp16_ms'] / (best + res['quant_ms'])
    print(json.dumps(res), flush=True)
    return res

run(200, 48, 40, 3, 8, do_time=False)
run(200, 48, 40, 0, 4, do_time=False)
run(300, 64, 264, 20, 4, do_time=False)
for (K, N) in [(768, 3072), (1536, 768)]:
    for frac in [0.02, 0.05]:
        for abits in [8, 4]:
            run(12608, K, N, int(round(frac * K)), abits, do_time=(abits == 8))
run(12608, 768, 3072, 0, 8)
