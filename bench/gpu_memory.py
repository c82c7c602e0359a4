"""Simulated GPU peak memory of the GPU presets' training steps, on the CPU (fake tensors; markovian.memory, nbs/22_memory).

Run: .venv/bin/python bench/gpu_memory.py [--presets mistral llama] [--variants preset 'no checkpointing' 4-bit]
                                          [--out data/results/gpu-memory/memory.json]
For each preset and variant: the project's own update (one micro-batch of `losses.sample_losses` and its backward,
AdamW moments held) on the preset's real widths with 2 and 4 layers, extended linearly to full depth; the sampling
phase from the shapes. Figures are the bytes of live tensors (what `torch.cuda.max_memory_allocated` counts): add
~1-2 GiB on a card for the CUDA context, workspaces and fragmentation. Simulated, not measured.
"""
import argparse, json, sys, time
from pathlib import Path

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--presets', nargs='+', default=['mistral', 'llama'])
    ap.add_argument('--variants', nargs='+', default=['preset', 'no checkpointing', '4-bit'])
    ap.add_argument('--out', default='data/results/gpu-memory/memory.json')
    return ap.parse_args(argv)

def main(args):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from markovian.memory import predict, VARIANTS, SHAPES, GiB
    from markovian.models import load_tokenizer
    from markovian.runtime import machine_facts, code_commit
    for p in args.presets:
        if p not in SHAPES: sys.exit(f"error: --presets: {p!r} has no memory model (known: {', '.join(SHAPES)})")
    for v in args.variants:
        if v not in VARIANTS: sys.exit(f"error: --variants: {v!r} is not one of {', '.join(VARIANTS)}")
    t0, tok = time.time(), load_tokenizer('embedded:smollm2')
    rows = [predict(p, v, tok=tok) for p in args.presets for v in args.variants]
    print(f"{'preset':8} {'variant':17} {'weights GiB':>11} {'update GiB':>10} {'sampling GiB':>12} {'peak GiB':>8}")
    for r in rows:
        print(f"{r['preset']:8} {r['variant']:17} {r['weights'] / GiB:11.2f} {r['update'] / GiB:10.2f} {r['sampling'] / GiB:12.2f} {r['peak'] / GiB:8.2f}")
    out = dict(command=' '.join(['python bench/gpu_memory.py'] + sys.argv[1:]), started=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t0)),
               commit=code_commit(), wall_s=round(time.time() - t0, 1), machine=machine_facts(), simulated=True, rows=rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))

if __name__ == '__main__': main(parse_args())
