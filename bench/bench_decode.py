"""Sampling a training step's CoTs: the three decoding loops and the CoT′ cache, side by side, against their floor.

Run: .venv/bin/python bench/bench_decode.py [--steps 4] [--variants eager-nocache,eager,static,compiled,sdpa]
                                            [--out bench/results/decode-cpu.json]
Each variant runs in its own process (separate peak RSS) on the default config: a trainer, then the sampling phase of
steps 1 .. steps+1 (`rollout`, the project's own call, with the trainer's CoT′ cache unless the variant disables it).
The first step is warm-up; for `compiled` it pays the compilation, reported as compile_s = first step − median step.
The baseline, in the same run, is `eager-nocache`: the loop as it was before the cache and the static/compiled loops.
`sdpa` is the eager loop with PyTorch's sdpa attention instead of the plain attention a CPU run picks (`--variants
eager,sdpa`: the baseline is then the first named).
Also printed: how many of each variant's CoTs equal the baseline's token for token (same generator), and the floor of
one decoding forward on this machine — every linear weight of the model (layers and LM head) streamed once through
`F.linear` at the decoding batch shape, measured at the start of the run — so a reader sees how far the loop is above it.
"""
import argparse, json, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=4)
    ap.add_argument('--variants', default='eager-nocache,eager,static,compiled')
    ap.add_argument('--out', default='bench/results/decode-cpu.json'); ap.add_argument('--variant', help=argparse.SUPPRESS)
    return ap.parse_args(argv)

if __name__ == '__main__': ARGS = parse_args()   # --help answers here, before torch is imported

import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {'eager-nocache': dict(decoder='eager', ref_cache=0), 'eager': dict(decoder='eager'),
            'static': dict(decoder='static'), 'compiled': dict(decoder='compiled'),
            'sdpa': dict(decoder='eager', attn='sdpa')}   # PyTorch's sdpa kernels instead of the CPU's default, eager attention

def trainer(**kw):
    from markovian.config import make_config
    from markovian.train import Trainer
    return Trainer(make_config(run_dir=tempfile.mkdtemp() + '/r', **kw))

def floor_ms(model, batch:int, reps:int=3)->float:
    "Milliseconds to stream every linear weight of `model` once through `F.linear` at `batch` rows (best of `reps`)."
    ws = [p for n, p in model.named_parameters() if p.dim() == 2 and 'lora_' not in n and 'embed' not in n]
    head = model.get_output_embeddings().weight
    ws += [head] if all(w is not head for w in ws) else []
    best = float('inf')
    with torch.no_grad():
        for _ in range(reps):
            xs = {w.shape[1]: torch.randn(batch, w.shape[1], dtype=w.dtype) for w in ws}
            t = time.perf_counter()
            for w in ws: F.linear(xs[w.shape[1]], w)
            best = min(best, time.perf_counter() - t)
    return best * 1000

def run_variant(name:str, steps:int)->dict:
    "Time the sampling phase of `steps` + 1 steps of the default config with variant `name`."
    from markovian.rollout import rollout
    from markovian.models import lora_compute
    from markovian.sampling import hash_seed
    from markovian.lm import unwrap
    tr, times, cots, forwards = trainer(**VARIANTS[name]), [], [], 0
    for s in range(1, steps + 2):
        gen = torch.Generator().manual_seed(hash_seed(0, 'bench-decode', s))
        t = time.perf_counter()
        with lora_compute(tr.model): ro = rollout(tr.model, tr.tok, tr.cfg, tr.batch(s), gen, tr.ref_cache)
        times.append(time.perf_counter() - t)
        cots.append(ro.actions + ro.ref_actions)
        if s > 1: forwards += max(map(len, ro.actions + [a for a, c in zip(ro.ref_actions, ro.ref_cached) if not c]))
    B = tr.cfg.optim.questions_per_step * (tr.cfg.sampling.group_size + 1)
    med = statistics.median(times[1:])
    return dict(variant=name, step_s=med, first_s=times[0], compile_s=max(times[0] - med, 0.) if name == 'compiled' else 0.,
                ms_per_forward=1000 * sum(times[1:]) / max(forwards, 1), floor_ms=floor_ms(unwrap(tr.model), B),
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, cots=cots[1:],
                dtype=str(unwrap(tr.model).dtype))

def main(a):
    if a.variant:   # a child process: one variant, JSON on the last line of stdout
        print(json.dumps(run_variant(a.variant, a.steps))); return
    global STARTED, T0
    STARTED, T0 = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), time.time()
    names = a.variants.split(',')
    bad = [n for n in names if n not in VARIANTS]
    if bad: sys.exit(f'--variants: unknown variant {bad[0]!r} (choose from {", ".join(VARIANTS)})')
    res = {}
    for n in names:
        p = subprocess.run([sys.executable, __file__, '--variant', n, '--steps', str(a.steps)], capture_output=True, text=True)
        if p.returncode: sys.exit(f'variant {n} failed:\n{p.stderr[-3000:]}')
        res[n] = json.loads(p.stdout.strip().splitlines()[-1])
    base = res.get('eager-nocache') or res[names[0]]
    print(f"{'variant':14} {'sampling s/step':>15} {'vs base':>8} {'ms/forward':>10} {'floor ms':>8} {'x floor':>7} "
          f"{'compile s':>9} {'same CoTs':>9} {'peak RSS GB':>11}")
    for n, r in res.items():
        same = sum(x == y for a_, b_ in zip(r['cots'], base['cots']) for x, y in zip(a_, b_))
        total = sum(map(len, base['cots']))
        r['same_cots_as_base'], r['speedup_vs_base'] = same / total, base['step_s'] / r['step_s']
        print(f"{n:14} {r['step_s']:15.2f} {r['speedup_vs_base']:7.2f}x {r['ms_per_forward']:10.0f} {r['floor_ms']:8.0f} "
              f"{r['ms_per_forward'] / r['floor_ms']:7.2f} {r['compile_s']:9.1f} {same:4d}/{total:<4d} {r['peak_rss_gb']:11.2f}")
    from markovian.runtime import machine_facts, code_commit
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    out = dict(date=time.strftime('%Y-%m-%d %H:%M'), started=STARTED, commit=code_commit(), machine=machine_facts(),
               platform=platform.platform(), threads=torch.get_num_threads(), steps=a.steps, wall_s=round(time.time() - T0, 1),
               variants={n: {k: v for k, v in r.items() if k != 'cots'} for n, r in res.items()})
    Path(a.out).write_text(json.dumps(out, indent=2))

if __name__ == '__main__': main(ARGS)
