"""Benchmark one Markovian GRPO training step: markovian's step vs a plain baseline that does what the seed did, and TRL.

Run: .venv/bin/python bench/bench_step.py [--steps 5] [--out bench/results/step-cpu.json]
Each variant runs in its own process (separate peak RSS), on the same model, LoRA, questions, G, CoT length and
temperature; one warm-up step, then `--steps` timed steps; medians and ratios are printed as a table and written as JSON.
The plain baseline: a deep-copied frozen reference model, `generate` with num_return_sequences (every prompt prefilled
G times), full-vocabulary fp32 logits over whole sequences for scoring, policy log-probs and KL. TRL (when installed,
`pip install -e ".[bench]"`): GRPOTrainer in bf16 without gradient checkpointing, with a reward function doing the same
Markovian reward work (its gen/score/update split is not available; 'score s' is its reward function's time).
"""
import argparse, copy, importlib.util, json, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import torch, torch.nn.functional as F

def matmul_peak(dtype=torch.bfloat16, n=2048, reps=10):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b; t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)

def project_variant(args):
    from markovian.train import Trainer
    from markovian.config import make_config
    cfg = make_config(run_dir=tempfile.mkdtemp() + '/r', questions_per_step=args.questions, group_size=args.group, cot_length=args.cot)
    tr = Trainer(cfg)
    times, parts = [], []
    for s in range(1, args.steps + 2):
        t = time.perf_counter(); m = tr.step(s)['metrics']; times.append(time.perf_counter() - t)
        parts.append(m)
    return times[1:], parts[1:]

def plain_variant(args):
    """What the seed did: separate frozen copy, no prompt/cache reuse, fp32 full-logit scoring."""
    from markovian.config import make_config
    from markovian.models import load_model, add_lora, make_optimizer
    from markovian.reward import cot_prompt, answer_context, answer_ids
    from markovian.train import left_pad, eos_ids, strip_eos, standardize, hash_seed
    from markovian.data import get_batch
    cfg = make_config(questions_per_step=args.questions, group_size=args.group, cot_length=args.cot)
    base, tok = load_model(cfg.model)
    ref = copy.deepcopy(base).float().eval()                     # a second, frozen copy, scored in fp32
    torch.manual_seed(0); pol = add_lora(base, cfg.model); opt = make_optimizer(pol.parameters(), cfg.optim)
    eos, G, K = eos_ids(pol, tok), args.group, args.cot

    def full_logp(model, seqs, starts, grad=False):            # full-vocabulary logits for every position
        ids, mask = left_pad(seqs, tok.pad_token_id)
        with torch.set_grad_enabled(grad):
            lp = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        L = ids.shape[1]
        return [lp[i, L - len(s) + st - 1:L - 1].gather(-1, ids[i, L - len(s) + st:, None])[:, 0] for i, (s, st) in enumerate(zip(seqs, starts))]

    def gen(model, prompts, n, sample):
        ids, mask = left_pad(prompts, tok.pad_token_id)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=K, do_sample=sample, temperature=1.0 if sample else None,
                             top_k=0 if sample else None, top_p=1.0 if sample else None, num_return_sequences=n, pad_token_id=tok.pad_token_id)
        return [[t for t in r.tolist()] for r in out[:, ids.shape[1]:]]

    times, parts = [], []
    for s in range(1, args.steps + 2):
        torch.manual_seed(hash_seed(0, 'plain', s))
        t0 = time.perf_counter()
        recs = get_batch(cfg.task, 'train', 0, s, args.questions)
        prompts = [cot_prompt(tok, r.question) for r in recs]
        pol.eval()
        with torch.no_grad():
            acts = [a[:a.index(next(x for x in a if x in eos)) + 1] if any(x in eos for x in a) else a for a in gen(pol, prompts, G, True)]
            base_acts = [a[:a.index(next(x for x in a if x in eos)) + 1] if any(x in eos for x in a) else a for a in gen(ref, prompts, 1, False)]
        t1 = time.perf_counter()
        ans = [answer_ids(tok, r.answer) for r in recs]
        ctx = [answer_context(tok, strip_eos(a, eos)) for a in acts]; bctx = [answer_context(tok, strip_eos(a, eos)) for a in base_acts]
        with torch.no_grad():
            lnp = torch.stack([x.mean() for x in full_logp(ref, [c + ans[i // G] for i, c in enumerate(ctx)], [len(c) for c in ctx])])
            blnp = torch.stack([x.mean() for x in full_logp(ref, [c + a for c, a in zip(bctx, ans)], [len(c) for c in bctx])])
        R = lnp - blnp.repeat_interleave(G); adv, _ = standardize(R, G)
        t2 = time.perf_counter()
        pol.train(); opt.zero_grad()
        seqs, starts = [prompts[i // G] + a for i, a in enumerate(acts)], [len(prompts[i // G]) for i in range(len(acts))]
        lp = full_logp(pol, seqs, starts, grad=True)
        with torch.no_grad(): rlp = full_logp(ref, seqs, starts)
        pg = torch.stack([-(l * a).mean() for l, a in zip(lp, adv)]).mean()
        kl = torch.stack([((r.to(l.dtype) - l).exp() - (r.to(l.dtype) - l) - 1).mean() for l, r in zip(lp, rlp)]).mean()
        loss = pg + cfg.algo.kl_coef * kl; loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in pol.parameters() if p.requires_grad], 1.0); opt.step()
        t3 = time.perf_counter()
        times.append(t3 - t0)
        parts.append(dict(time_generate=t1 - t0, time_score=t2 - t1, time_update=t3 - t2, reward=float(R.mean()),
                          tokens_per_s=(sum(map(len, acts)) + sum(map(len, base_acts))) / (t1 - t0)))
    return times[1:], parts[1:]

def trl_variant(args):
    """TRL's GRPOTrainer on the same work: same model, LoRA, batch, G, CoT length, temperature, KL coefficient, and a
    reward function computing the same Markovian reward (reference greedy CoT', reference scoring, mean over tokens)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    from markovian.config import make_config
    from markovian.models import load_model, add_lora
    from markovian.reward import cot_prompt, answer_context, answer_ids, score_answers
    from markovian.train import sample_tokens, eos_ids, strip_eos
    from markovian.data import get_batch
    cfg = make_config(questions_per_step=args.questions, group_size=args.group, cot_length=args.cot)
    base, tok = load_model(cfg.model)
    torch.manual_seed(0); pol = add_lora(base, cfg.model)
    eos, K = eos_ids(pol, tok), args.cot
    recs = [r for s in range(1, args.steps + 2) for r in get_batch(cfg.task, 'train', 0, s, args.questions)]
    ds = Dataset.from_dict(dict(prompt=[tok.decode(cot_prompt(tok, r.question)) for r in recs], answer=[r.answer for r in recs]))
    stats = {}
    def markovian_reward(prompts, completions, completion_ids, answer, **kw):
        t = time.perf_counter()
        uniq = list(dict.fromkeys(prompts))
        with torch.no_grad(), pol.disable_adapter():
            base_acts = sample_tokens(pol, [tok(p, add_special_tokens=False).input_ids for p in uniq], 1, K, None, eos, tok.pad_token_id)
            ans = {p: answer_ids(tok, a) for p, a in zip(prompts, answer)}
            lnp = score_answers(pol, tok, [answer_context(tok, strip_eos(list(c), eos)) for c in completion_ids], [answer_ids(tok, a) for a in answer])['mean']
            blnp = score_answers(pol, tok, [answer_context(tok, strip_eos(b, eos)) for b in base_acts], [ans[p] for p in uniq])['mean']
        b = dict(zip(uniq, blnp.tolist()))
        stats.setdefault('reward_s', []).append(time.perf_counter() - t)
        return [float(l) - b[p] for l, p in zip(lnp.tolist(), prompts)]
    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k): self.t = time.perf_counter()
        def on_step_end(self, *a, **k): stats.setdefault('step_s', []).append(time.perf_counter() - self.t)
    targs = GRPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.questions * args.group, num_generations=args.group,
                       max_completion_length=K, temperature=1.0, top_k=0, top_p=1.0, beta=cfg.algo.kl_coef, learning_rate=cfg.optim.lr,
                       max_steps=args.steps + 1, logging_steps=1, report_to='none', use_cpu=True, bf16=True, gradient_checkpointing=False,
                       save_strategy='no', max_grad_norm=1.0, disable_dropout=True, shuffle_dataset=False)
    GRPOTrainer(model=pol, reward_funcs=markovian_reward, args=targs, train_dataset=ds, processing_class=tok, callbacks=[Timer()]).train()
    times = stats['step_s'][1:]
    return times, [dict(time_generate=float('nan'), time_score=r, time_update=float('nan'), tokens_per_s=float('nan')) for r in stats['reward_s'][1:]]

def child(args):
    times, parts = dict(project=project_variant, plain=plain_variant, trl=trl_variant)[args.variant](args)
    med = lambda k: statistics.median(p[k] for p in parts)
    res = dict(variant=args.variant, step_s=statistics.median(times), steps=times, generate_s=med('time_generate'),
               score_s=med('time_score'), update_s=med('time_update'), gen_tokens_per_s=med('tokens_per_s'),
               peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    print(json.dumps(res))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=5); ap.add_argument('--questions', type=int, default=4)
    ap.add_argument('--group', type=int, default=4); ap.add_argument('--cot', type=int, default=24)
    ap.add_argument('--variant', default=None); ap.add_argument('--out', default='bench/results/step-cpu.json')
    args = ap.parse_args()
    if args.variant: return child(args)
    peak = matmul_peak() / 1e9
    rows = []
    variants = ['project', 'plain'] + (['trl'] if importlib.util.find_spec('trl') else [])
    for v in variants:
        r = subprocess.run([sys.executable, __file__, '--variant', v] + [f'--{k}={getattr(args, k)}' for k in ('steps', 'questions', 'group', 'cot')],
                           capture_output=True, text=True)
        if r.returncode: sys.exit(f'{v} failed:\n{r.stderr[-3000:]}')
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    if len(rows) < 3: print('TRL is not installed (pip install -e ".[bench]"): its column is left out')
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; bf16 matmul peak {peak:.0f} GFLOP/s")
    print(f"{'variant':10} {'step s':>8} {'gen s':>7} {'score s':>8} {'update s':>9} {'gen tok/s':>10} {'peak RSS GB':>12} {'project is':>11}")
    for r in rows:
        print(f"{r['variant']:10} {r['step_s']:8.2f} {r['generate_s']:7.2f} {r['score_s']:8.2f} {r['update_s']:9.2f} {r['gen_tokens_per_s']:10.1f} {r['peak_rss_gb']:12.2f} {r['step_s'] / rows[0]['step_s']:9.2f}x faster")
    out = dict(date=time.strftime('%Y-%m-%d'), machine=platform.platform(), threads=torch.get_num_threads(), bf16_peak_gflops=peak,
               config=dict(questions=args.questions, group=args.group, cot=args.cot, steps=args.steps), results=rows,
               speedup=({r['variant']: r['step_s'] / rows[0]['step_s'] for r in rows[1:]}))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True); Path(args.out).write_text(json.dumps(out, indent=2))

if __name__ == '__main__': main()
