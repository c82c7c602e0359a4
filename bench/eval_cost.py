"""What one evaluation and one fragility table of the pre-registered text experiment cost on this machine.

Run: .venv/bin/python bench/eval_cost.py [--out data/results/text/eval-cost.json]
The embedded model (no adapter update: the base policy), fp32, the experiment's settings (data/results/text/sweep.yaml):
one held-out test evaluation of 120 windows x 2 sampled CoTs under each protocol, and one fragility table (delete and
back-truncation at 0, 20, 60, 100 %, ln pi only) under each. Prints the seconds and writes them with the machine's facts,
and splits each evaluation into its phases: sampling the CoTs, the scorer's greedy answers, and the ln pi scorings
(its own, the empty CoT's and the shuffled CoTs').
"""
import argparse, json, sys, time, types
from pathlib import Path

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='data/results/text/eval-cost.json')
    ap.add_argument('--eval_size', type=int, default=120)
    return ap.parse_args(argv)

if __name__ == '__main__': ARGS = parse_args()   # --help answers here, before torch is imported

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
from markovian.config import make_config
from markovian.models import load_model, add_lora
from markovian.evaluate import perturbation_effects
from markovian.runtime import machine_facts, code_commit

SETTINGS = dict(task='wiki', question_length=64, target_length=16, cot_length=16, answer_length=20, prompt_length=256,
                eval_cots=2, eval_protocols='sampled', dtype='float32')
DAMAGE = dict(kinds=('delete', 'truncate_back'), severities=(0.0, 0.2, 0.6, 1.0), answers=False)

def timed(f):
    t = time.perf_counter(); out = f(); return out, time.perf_counter() - t

PHASES = {'heldout_cots': 'cot_sampling_s', 'predict_answers': 'answers_and_own_lnp_s', 'answer_lnp': 'lnp_scorings_s'}

def phase_timers(mod, acc:dict):
    "Wrap the functions of `PHASES` in module `mod` so that each call adds its seconds to `acc` (outermost call only)."
    depth = [0]
    def wrap(name, f):
        def g(*a, **k):
            depth[0] += 1; t = time.perf_counter()
            try: return f(*a, **k)
            finally:
                depth[0] -= 1
                if depth[0] == 0: acc[PHASES[name]] = acc.get(PHASES[name], 0) + time.perf_counter() - t
        return g
    for name in PHASES: setattr(mod, name, wrap(name, getattr(mod, name)))

def main(a):
    import markovian.heldout as H
    rows, model, tok, acc = [], None, None, {}
    phase_timers(H, acc)
    for markovian in (True, False):
        cfg = make_config(markovian=markovian, eval_size=a.eval_size, **SETTINGS)
        if model is None: base, tok = load_model(cfg.model); model = add_lora(base, cfg.model)
        acc.clear()
        line, t_eval = timed(lambda: H.heldout_eval(model, tok, cfg, 'test', False, 0))
        phases = {k: round(v, 1) for k, v in acc.items()}
        pol = types.SimpleNamespace(model=model, tok=tok, cfg=cfg, step=0)
        _, t_frag = timed(lambda: perturbation_effects(pol, 'test', progress=False, **DAMAGE))
        rows.append(dict(protocol='markovian' if markovian else 'non_markovian', cots=line['n'], eval_s=round(t_eval, 1),
                         fragility_table_s=round(t_frag, 1)) | phases)
        print(rows[-1], flush=True)
    out = dict(rows=rows, settings=SETTINGS | dict(eval_size=a.eval_size), damage=DAMAGE, commit=code_commit(),
               machine=machine_facts(), date=time.strftime('%Y-%m-%d'))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))

if __name__ == '__main__': main(ARGS)
