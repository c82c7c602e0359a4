"""FLOP counts for the benchmarks' utilisation figures (shared by bench_step.py and gpu_step.py).

Convention: useful FLOPs only (no padding), matrix products only. A forward pass costs 2·P per token for the P weights of
the decoder layers' linear maps, 4·d_attn per (query, key) pair for attention (QKᵀ and AV, causal: only the keys a query
sees), and 2·d·V per row that goes through `lm_head`. LoRA's extra products (rank 8 against d = 576..4096) are left out:
under 1 % of the base. Backward through a frozen base computes input gradients only (no weight gradients): 1× the
linear FLOPs and 2× the attention FLOPs of the forward, so fwd+bwd = 2 × linear + 3 × attention. (The common "6·N"
rule assumes weight gradients for every parameter and would report 1.5× our figure.) These are model FLOPs, as in MFU:
work done twice (the second LM-head product with which `target_logp` recomputes logits in backward) counts once.
"""
import torch.nn as nn  # noqa

def model_shape(m):
    "(P of the decoder layers' linear maps, layers, attention width, hidden size, vocabulary) of a causal LM."
    m = m.get_base_model() if hasattr(m, 'get_base_model') else m
    c = m.config
    layers = m.model.layers
    P = sum(mod.weight.numel() for l in layers for n, mod in l.named_modules() if isinstance(mod, nn.Linear) and 'lora_' not in n)
    head_dim = getattr(c, 'head_dim', None) or c.hidden_size // c.num_attention_heads
    return P, c.num_hidden_layers, c.num_attention_heads * head_dim, c.hidden_size, c.vocab_size

def flop_parts(shape, new:list[int], past:list[int]|int=0, rows:int=0)->tuple[float, float, float]:
    "Forward FLOPs (linear maps, attention, lm_head): sequences of `new[i]` tokens attending to `past[i]` cached ones, `rows` rows through lm_head."
    P, L, da, d, V = shape
    past = past if isinstance(past, list) else [past] * len(new)
    pairs = sum(n * p + n * (n + 1) / 2 for n, p in zip(new, past))
    return 2 * P * sum(new), 4 * L * da * pairs, 2 * d * V * rows

def forward_flops(shape, new, past=0, rows=0)->float: return sum(flop_parts(shape, new, past, rows))

def fwd_bwd_flops(shape, new, past=0, rows=0)->float:
    "Forward + backward (input gradients only) FLOPs of the same work."
    lin, att, head = flop_parts(shape, new, past, rows)
    return 2 * (lin + head) + 3 * att

def score_flops(shape, seqs:list[list[int]], starts:list[int], batch_size:int=64)->float:
    "FLOPs of `score_answers` on `seqs` (answers from `starts` on), counting a shared prefix once as `tail_logits` does."
    from markovian.lm import shared_prefix_len
    tot = 0.
    for i in range(0, len(seqs), batch_size):
        s, st = seqs[i:i + batch_size], starts[i:i + batch_size]
        k = shared_prefix_len(s, st)
        rows = sum(len(x) - y for x, y in zip(s, st))
        tot += forward_flops(shape, [k], 0, 0) if k else 0.
        tot += forward_flops(shape, [len(x) - k for x in s], k, rows)
    return tot

def action_flops(shape, prompts:list[list[int]], acts:list[list[int]], backward:bool=False)->float:
    "FLOPs of `action_logits` (each prompt once, each action after its prompt, lm_head on action tokens), with its backward if asked."
    G, f = len(acts) // len(prompts), fwd_bwd_flops if backward else forward_flops
    return (f(shape, [len(p) for p in prompts]) +
            f(shape, [len(a) for a in acts], [len(prompts[i // G]) for i in range(len(acts))], sum(map(len, acts))))

def sync(device:str):
    if str(device).startswith('cuda'):
        import torch; torch.cuda.synchronize()

def timed(fn, device:str='cpu', reps:int=3)->float:
    "Median wall time of `fn()` over `reps` runs after one warm-up, synchronising the device around each."
    import statistics, time
    fn(); ts = []
    for _ in range(reps):
        sync(device); t = time.perf_counter(); fn(); sync(device); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def matmul_peak(device:str='cpu', n:int|None=None, dtype:str='bfloat16')->float:
    "Measured matmul rate in FLOP/s in `dtype` (n×n by n×n; n = 2048 on CPU, 8192 on GPU)."
    import torch
    n = n or (8192 if str(device).startswith('cuda') else 2048)
    a, b = (torch.randn(n, n, dtype=getattr(torch, dtype), device=device) for _ in range(2))
    return 2 * n**3 / timed(lambda: a @ b, device, reps=10)

def bench_dtype(requested:str='auto', device:str='cpu')->str:
    "The dtype a benchmark runs in: the run's own choice for 'auto' (`pick_dtype`); bf16 that this CPU only emulates is refused."
    from markovian.config import Model
    from markovian.models import pick_dtype, cpu_has_bf16
    dt = str(pick_dtype(Model(dtype=requested), device)).replace('torch.', '')
    if dt == 'bfloat16' and device == 'cpu' and not cpu_has_bf16():
        raise SystemExit('error: --dtype: bfloat16 is emulated on this CPU (no AVX512-BF16 or AMX), a run would take hours; '
                         'use --dtype auto or float32')
    return dt

def result_path(kind:str, dtype:str)->str:
    "Where a benchmark's JSON goes: one file per kind, CPU model and dtype, so another machine's results are never overwritten."
    from markovian.runtime import cpu_facts
    slug = '-'.join(w for w in cpu_facts()['cpu'].lower().replace('(r)', '').replace('(tm)', '').split() if w.isalnum())[:40]
    return f'bench/results/{kind}-{slug or "cpu"}-{dtype}.json'

def stream_rate(device:str='cpu', dtype:str='float32', mib:int=512)->float:
    "Measured weight-streaming rate in bytes/s: a matrix-vector product over `mib` MiB of weights (far past any cache), in `dtype`."
    import torch
    dt = getattr(torch, dtype)
    n = 4096; rows = mib * 2**20 // (n * torch.finfo(dt).bits // 8)
    w, x = torch.randn(rows, n, dtype=dt, device=device), torch.randn(n, 1, dtype=dt, device=device)
    return w.numel() * w.element_size() / timed(lambda: w @ x, device, reps=10)

def weight_bytes(m)->int:
    "Bytes of the frozen weights one forward pass streams: decoder layers' and LM head's (the embedding lookup reads a few rows)."
    base = m.get_base_model() if hasattr(m, 'get_base_model') else m
    head = base.get_output_embeddings().weight
    P = model_shape(m)[0]
    return (P + head.numel()) * head.element_size()

def call_floor(flops:float, calls:int, wbytes:int, peak:float, stream:float)->float:
    "Lower bound in seconds of `calls` forward passes doing `flops` in all: each at least streams the weights once."
    return max(flops / peak, calls * wbytes / stream)

def generate_floor(shape, wbytes, peak, stream, prompts:list[list[int]], rows:int, steps:int)->float:
    "Floor of batched decoding: one prefill of `prompts`, then `steps` one-token forwards of `rows` rows, LM head on those rows only."
    L = max(map(len, prompts))
    t = call_floor(forward_flops(shape, [len(p) for p in prompts], 0, len(prompts)), 1, wbytes, peak, stream)
    for s in range(1, steps):   # the first token comes from the prefill's last state
        t += call_floor(forward_flops(shape, [1] * rows, L + s, rows), 1, wbytes, peak, stream)
    return t

def phase_floors(shape, wbytes, peak, stream, ro, score_fl:float, n_score:int)->dict:
    "Floors per phase of one project step on rollout `ro`: generation, scoring (`score_fl` FLOPs in `n_score` rows), update."
    cached = ro.ref_cached or [False] * len(ro.ref_actions)
    ref = [a for a, c in zip(ro.ref_actions, cached) if not c]     # CoTs′ from the cache are not decoded
    steps = max(map(len, ro.actions + ref))
    gen = generate_floor(shape, wbytes, peak, stream, ro.prompts + [p for p, c in zip(ro.prompts, cached) if not c],
                         len(ro.actions) + len(ref), steps)
    score = call_floor(score_fl, -(-n_score // 64), wbytes, peak, stream)
    upd = (action_flops(shape, ro.prompts, ro.actions, backward=True) + action_flops(shape, ro.prompts, ro.actions)) / peak
    return dict(generate=gen, score=score, update=upd, step=gen + score + upd)
