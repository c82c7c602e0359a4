"""Where one training step's time goes: torch.profiler over a step of the default config, by phase and by operator.

Run: .venv/bin/python bench/profile_step.py [--out bench/results/profile-cpu.json]
Two warm-up steps, then one profiled step. Prints the step's phases (sampling, scoring, update) and the operators with
the most self time, and writes both as JSON.
"""
import argparse, json, platform, sys, tempfile, time
from pathlib import Path

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='bench/results/profile-cpu.json'); ap.add_argument('--top', type=int, default=12)
    a = ap.parse_args()   # --help answers before torch is imported
    started = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    import torch
    from torch.profiler import profile, ProfilerActivity
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from markovian.config import make_config
    from markovian.train import Trainer
    tr = Trainer(make_config(run_dir=tempfile.mkdtemp() + '/r'))
    tr.step(1); tr.step(2)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter(); m = tr.step(3)['metrics']; wall = time.perf_counter() - t
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:a.top]
    rows = [dict(op=e.key, self_s=e.self_cpu_time_total / 1e6, calls=e.count) for e in ops]
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    phases = {k: m[f'time_{k}'] for k in ('generate', 'score', 'update')}
    print(f'profiled step: {wall:.2f} s wall (profiler overhead included), {total:.2f} s of operator self time')
    print('phases: ' + ', '.join(f'{k} {v:.2f} s' for k, v in phases.items()))
    print(f"{'operator':45} {'self s':>7} {'share':>6} {'calls':>7}")
    for r in rows: print(f"{r['op'][:45]:45} {r['self_s']:7.2f} {r['self_s'] / total:6.1%} {r['calls']:7d}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    from markovian.runtime import machine_facts, code_commit
    Path(a.out).write_text(json.dumps(dict(date=time.strftime('%Y-%m-%d'), started=started, commit=code_commit(), machine=machine_facts(),
                                           platform=platform.platform(), threads=torch.get_num_threads(), dtype=str(next(tr.model.parameters()).dtype),
                                           wall_s=wall, op_self_total_s=total, phases=phases, top_ops=rows), indent=2))

if __name__ == '__main__': main()
