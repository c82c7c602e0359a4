"""Benchmark one Markovian GRPO training step: markovian's step vs a plain baseline that does what the seed did, and TRL.

Run: .venv/bin/python bench/bench_step.py [--steps 3] [--dtype auto] [--out bench/results/step-<cpu>-<dtype>.json]
Each variant runs in its own process (separate peak RSS), on the same model, LoRA, questions, G, CoT length and
temperature; one warm-up step, then `--steps` timed steps; medians and ratios are printed as a table and written as JSON.
- project: `Trainer.step` with the default (smollm2) config.
- plain, what the seed did: transformers' default attention (sdpa); a second, frozen fp32 copy of the model as the
  reference; `generate` with num_return_sequences (every prompt prefilled G times); full-vocabulary fp32 logits over
  whole sequences for scoring, the policy's log-probs and the KL.
- trl (when installed, `pip install -e ".[bench]"`): TRL's GRPOTrainer in bf16 without gradient checkpointing, on the
  model as the project loads it (eager attention on a CPU, the faster choice here), with a reward function doing the
  same Markovian reward work. Its gen/score/update split is not available; 'score s' is its reward function's time.
Every variant runs in the benchmark's dtype: `auto` is the run's own choice (bf16 only where the hardware computes it
natively, fp32 otherwise), and bf16 that the CPU only emulates is refused in one line. Peak RSS is that of the timed steps. Component figures (project, plain), measured after the steps on one rollout:
scoring and policy forward+backward throughput as a share of the matmul peak measured in that dtype at the start of the run
(FLOP convention in flops.py). The floor row is the project's own work on that rollout at this machine's limits, both
measured at the start of the run: every matrix product at the matmul peak, and every forward pass streaming the weights
at least once at the rate of a large matrix-vector product (decoding is bound by the second, scoring and the update by
the first); 'project / floor' says how far each phase is from it. First, a `check` process computes rewards, KL and the loss gradient with the project's
code and with the plain path on one shared rollout: for a fp32 model they must agree (|ΔR| < 1e-4, relative gradient
difference < 1e-3, else the benchmark fails); for bf16 (where native) the difference is the cost of bf16 compute, reported.
"""
import argparse, importlib.util, json, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=3); ap.add_argument('--questions', type=int, default=4)
    ap.add_argument('--group', type=int, default=4); ap.add_argument('--cot', type=int, default=24)
    ap.add_argument('--dtype', default='auto', choices=('auto', 'float32', 'bfloat16'), help="the variants' compute dtype")
    ap.add_argument('--variant', default=None); ap.add_argument('--peak', type=float, default=None)
    ap.add_argument('--stream', type=float, default=None)
    ap.add_argument('--out', default=None, help='default: bench/results/step-<cpu>-<dtype>.json')
    return ap.parse_args(argv)

if __name__ == '__main__': ARGS = parse_args()   # --help answers here, before torch is imported

import torch, torch.nn.functional as F
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])]
from flops import (model_shape, forward_flops, fwd_bwd_flops, score_flops, action_flops, timed, matmul_peak, sync, bench_dtype,
                   result_path, stream_rate, weight_bytes, phase_floors)

def peak_rss_gb()->float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def trainer(args, **kw):
    from markovian.train import Trainer
    from markovian.config import make_config
    return Trainer(make_config(run_dir=tempfile.mkdtemp() + '/r', questions_per_step=args.questions, group_size=args.group,
                               cot_length=args.cot, **dict(dtype=args.dtype) | kw))

# ---- the plain path: what the seed did -------------------------------------------------------------------------------
def full_logp(model, tok, seqs, starts, grad=False):
    "Log-probs of seq[start:] from full-vocabulary fp32 logits at every position of the whole padded batch."
    from markovian.lm import pad_batch
    ids, mask, _ = pad_batch(seqs, tok.pad_token_id, 'left')
    with torch.set_grad_enabled(grad):
        lp = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
    L = ids.shape[1]
    return [lp[i, L - len(s) + st - 1:L - 1].gather(-1, ids[i, L - len(s) + st:, None])[:, 0] for i, (s, st) in enumerate(zip(seqs, starts))]

def plain_rewards(ref, tok, cfg, ro):
    "R = mean ln π′(a|CoT) − mean ln π′(a|CoT′), each context scored in full by the fp32 reference copy."
    from markovian.sampling import eos_ids
    from markovian.rollout import answer_prompts
    from markovian.reward import given_tokens
    eos, G = eos_ids(ref, tok), ro.group_size
    ctx, bctx = answer_prompts(tok, cfg, ro.records, ro.actions, eos), answer_prompts(tok, cfg, ro.records, ro.ref_actions, eos)
    ans = [a for a in ro.answers for _ in range(G)]
    start = lambda c, a: len(c) + given_tokens(tok, a)   # a separator before the answer is given, not scored
    lnp = torch.stack([x.mean() for x in full_logp(ref, tok, [c + a for c, a in zip(ctx, ans)], [start(c, a) for c, a in zip(ctx, ans)])])
    blnp = torch.stack([x.mean() for x in full_logp(ref, tok, [c + a for c, a in zip(bctx, ro.answers)], [start(c, a) for c, a in zip(bctx, ro.answers)])])
    return lnp - blnp.repeat_interleave(G)

def plain_loss(pol, ref, tok, ro, adv, kl_coef):
    "Token-mean policy gradient + k3 KL, every prompt + CoT run in full by the policy (with grad) and the reference."
    G = ro.group_size
    seqs, starts = [ro.prompts[i // G] + a for i, a in enumerate(ro.actions)], [len(ro.prompts[i // G]) for i in range(len(ro.actions))]
    lp = full_logp(pol, tok, seqs, starts, grad=True)
    with torch.no_grad(): rlp = full_logp(ref, tok, seqs, starts)
    pg = torch.stack([-(l * a).mean() for l, a in zip(lp, adv)]).mean()
    kl = torch.stack([((r.to(l.dtype) - l).exp() - (r.to(l.dtype) - l) - 1).mean() for l, r in zip(lp, rlp)]).mean()
    return pg + kl_coef * kl, pg.item(), kl.item()

def frozen_fp32_copy(cfg):
    "The seed's reference: a second copy of the base model, frozen, in fp32."
    from markovian.models import load_model
    ref = load_model(cfg.model)[0].float().eval()   # (with the attention of `cfg`, as the policy)
    for p in ref.parameters(): p.requires_grad_(False)
    return ref

def plain_variant(args):
    "The plain step: separate frozen fp32 copy, `generate` without prompt reuse, full-logit scoring and losses."
    from markovian.reward import answer_ids
    from markovian.lm import pad_batch
    from markovian.sampling import eos_ids, trim_at_eos, hash_seed
    from markovian.rollout import Rollout, run_prompt
    from markovian.losses import standardize
    tr = trainer(args, attn='sdpa'); pol, tok, cfg, opt = tr.model, tr.tok, tr.cfg, tr.opt   # transformers' default attention
    ref = frozen_fp32_copy(cfg)
    eos, G, K = eos_ids(pol, tok), args.group, args.cot

    def gen(model, prompts, n, sample):
        ids, mask, _ = pad_batch(prompts, tok.pad_token_id, 'left')
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=K, do_sample=sample, temperature=1.0 if sample else None,
                             top_k=0 if sample else None, top_p=1.0 if sample else None, num_return_sequences=n, pad_token_id=tok.pad_token_id)
        return [trim_at_eos(r, eos) for r in out[:, ids.shape[1]:].tolist()]

    times, parts = [], []
    for s in range(1, args.steps + 2):
        torch.manual_seed(hash_seed(0, 'plain', s)); t0 = time.perf_counter()
        recs = tr.batch(s); prompts = [run_prompt(tok, cfg, r.question) for r in recs]
        pol.eval()
        with torch.no_grad(): acts, ref_acts = gen(pol, prompts, G, True), gen(ref, prompts, 1, False)
        ro = Rollout(recs, prompts, acts, ref_acts, [answer_ids(tok, r.answer, cfg.sampling.answer_length) for r in recs], G)
        t1 = time.perf_counter()
        with torch.no_grad(): R = plain_rewards(ref, tok, cfg, ro)
        adv, _ = standardize(R, G); t2 = time.perf_counter()
        pol.train(); opt.zero_grad(); loss, *_ = plain_loss(pol, ref, tok, ro, adv, cfg.algo.kl_coef); loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in pol.parameters() if p.requires_grad], 1.0); opt.step()
        t3 = time.perf_counter(); times.append(t3 - t0)
        parts.append(dict(time_generate=t1 - t0, time_score=t2 - t1, time_update=t3 - t2,
                          tokens_per_s=(sum(map(len, acts)) + sum(map(len, ref_acts))) / (t1 - t0)))
    rss = peak_rss_gb()   # of the steps, before the component measurements
    return times[1:], parts[1:], plain_components(pol, ref, tok, cfg, ro, adv, args.peak), rss

def plain_components(pol, ref, tok, cfg, ro, adv, peak):
    "The plain path's scoring and fwd+bwd throughput on its last rollout (its FLOPs: full sequences, logits everywhere)."
    from markovian.sampling import eos_ids
    from markovian.rollout import answer_prompts
    shape, G, eos = model_shape(pol), ro.group_size, eos_ids(pol, tok)
    ctx = answer_prompts(tok, cfg, ro.records, ro.actions, eos) + answer_prompts(tok, cfg, ro.records, ro.ref_actions, eos)
    lens = [len(c) + len(a) for c, a in zip(ctx, [a for a in ro.answers for _ in range(G)] + ro.answers)]
    sf = forward_flops(shape, lens, 0, sum(lens))
    ts = timed(lambda: torch.no_grad()(plain_rewards)(ref, tok, cfg, ro))
    seqs = [ro.prompts[i // G] + a for i, a in enumerate(ro.actions)]
    fb = fwd_bwd_flops(shape, [len(x) for x in seqs], 0, sum(map(len, seqs)))   # logits at every position
    def fwd_bwd():   # the policy's part of the update: every prompt + CoT in full, with gradient
        pol.train(); sum(l.sum() for l in full_logp(pol, tok, seqs, [len(ro.prompts[i // G]) for i in range(len(seqs))], grad=True)).backward()
        pol.zero_grad(set_to_none=True)
    tfb = timed(fwd_bwd)
    return dict(score_util=sf / ts / peak, fwd_bwd_util=fb / tfb / peak)

# ---- the project's step ----------------------------------------------------------------------------------------------
def project_variant(args):
    tr = trainer(args)
    times, parts = [], []
    for s in range(1, args.steps + 2):
        t = time.perf_counter(); m = tr.step(s)['metrics']; times.append(time.perf_counter() - t); parts.append(m)
    rss = peak_rss_gb()   # of the steps, before the component measurements (one un-micro-batched fwd+bwd)
    c = project_components(tr, args.peak, stream=args.stream)
    return times[1:], parts[1:], {k: c[k] for k in ('score_util', 'fwd_bwd_util', 'floor')}, rss

def project_components(tr, peak, device='cpu', stream=None):
    "Generation tokens/s, scoring and policy fwd+bwd throughput (and share of `peak`), and the phases' floors (given the `stream` rate), of the project's code on one fresh rollout."
    from markovian.sampling import hash_seed
    from markovian.rollout import rollout, score_rollout, answer_prompts
    from markovian.logprobs import action_logp
    from markovian.models import lora_compute
    from markovian.reward import given_tokens
    cfg, tok, shape = tr.cfg, tr.tok, model_shape(tr.model)
    gen = torch.Generator(device).manual_seed(hash_seed(0, 'bench'))
    def sample():
        with lora_compute(tr.model): return rollout(tr.model, tok, cfg, tr.batch(10_000), gen)
    sync(device); t = time.perf_counter(); ro = sample(); sync(device); tg = time.perf_counter() - t   # warm already: after the steps
    ctx = answer_prompts(tok, cfg, ro.records, ro.actions, tr.eos) + answer_prompts(tok, cfg, ro.records, ro.ref_actions, tr.eos)
    ans = [a for a in ro.answers for _ in range(ro.group_size)] + ro.answers
    sf = score_flops(shape, [c + a for c, a in zip(ctx, ans)], [len(c) + given_tokens(tok, a) for c, a in zip(ctx, ans)])
    def score():
        with lora_compute(tr.model): score_rollout(tr.model, tok, cfg, ro)
    ts = timed(score, device)
    def fwd_bwd():
        tr.model.train()
        with lora_compute(tr.model): lp, mask, *_ = action_logp(tr.model, ro.prompts, ro.actions, tok.pad_token_id)
        (lp * mask).sum().backward(); tr.opt.zero_grad(set_to_none=True); tr.model.eval()
    tfb = timed(fwd_bwd, device)
    fb = action_flops(shape, ro.prompts, ro.actions, backward=True)
    ntok = sum(map(len, ro.actions)) + sum(map(len, ro.ref_actions))
    floor = phase_floors(shape, weight_bytes(tr.model), peak, stream, ro, sf, len(ctx)) if stream else None
    return dict(floor=floor, gen_s=tg, gen_tokens_per_s=ntok / tg, cot_tokens_mean=ntok / (len(ro.actions) + len(ro.ref_actions)),
                score_s=ts, score_tflops=sf / ts / 1e12, score_util=sf / ts / peak,
                fwd_bwd_s=tfb, fwd_bwd_tflops=fb / tfb / 1e12, fwd_bwd_util=fb / tfb / peak)

# ---- TRL -------------------------------------------------------------------------------------------------------------
def trl_variant(args):
    """TRL's GRPOTrainer on the same work: same model, LoRA, batch, G, CoT length, temperature, KL coefficient, and a
    reward function computing the same Markovian reward (reference greedy CoT', reference scoring, mean over tokens)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    from markovian.config import make_config
    from markovian.models import load_model, add_lora
    from markovian.reward import answer_prompt, answer_ids, score_answers
    from markovian.rollout import run_prompt
    from markovian.sampling import sample_tokens, eos_ids, strip_eos
    from markovian.data import get_batch
    cfg = make_config(questions_per_step=args.questions, group_size=args.group, cot_length=args.cot, dtype=args.dtype)
    base, tok = load_model(cfg.model)
    torch.manual_seed(0); pol = add_lora(base, cfg.model)
    eos, K = eos_ids(pol, tok), args.cot
    recs = [r for s in range(1, args.steps + 2) for r in get_batch(cfg.task, 'train', 0, s, args.questions)]
    ds = Dataset.from_dict(dict(prompt=[tok.decode(run_prompt(tok, cfg, r.question)) for r in recs], answer=[r.answer for r in recs]))
    stats = {}
    def markovian_reward(prompts, completions, completion_ids, answer, **kw):
        t = time.perf_counter()
        uniq = list(dict.fromkeys(prompts))
        with torch.no_grad(), pol.disable_adapter():
            ref_acts = sample_tokens(pol, [tok(p, add_special_tokens=False).input_ids for p in uniq], 1, K, None, eos, tok.pad_token_id)
            ans = {p: answer_ids(tok, a) for p, a in zip(prompts, answer)}
            lnp = score_answers(pol, tok, [answer_prompt(tok, strip_eos(list(c), eos), None, cfg.task.name, K) for c in completion_ids], [answer_ids(tok, a) for a in answer])['mean']
            blnp = score_answers(pol, tok, [answer_prompt(tok, strip_eos(b, eos), None, cfg.task.name, K) for b in ref_acts], [ans[p] for p in uniq])['mean']
        b = dict(zip(uniq, blnp.tolist()))
        stats.setdefault('reward_s', []).append(time.perf_counter() - t)
        return [float(l) - b[p] for l, p in zip(lnp.tolist(), prompts)]
    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k): self.t = time.perf_counter()
        def on_step_end(self, *a, **k): stats.setdefault('step_s', []).append(time.perf_counter() - self.t)
    targs = GRPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.questions * args.group, num_generations=args.group,
                       max_completion_length=K, temperature=1.0, top_k=0, top_p=1.0, beta=cfg.algo.kl_coef, learning_rate=cfg.optim.lr,
                       max_steps=args.steps + 1, logging_steps=1, report_to='none', use_cpu=True, bf16=args.dtype == 'bfloat16', gradient_checkpointing=False,
                       save_strategy='no', max_grad_norm=1.0, disable_dropout=True, shuffle_dataset=False)
    GRPOTrainer(model=pol, reward_funcs=markovian_reward, args=targs, train_dataset=ds, processing_class=tok, callbacks=[Timer()]).train()
    nan = float('nan')
    return stats['step_s'][1:], [dict(time_generate=nan, time_score=r, time_update=nan, tokens_per_s=nan) for r in stats['reward_s'][1:]], {}, peak_rss_gb()

# ---- equivalence of project and plain on one shared rollout ---------------------------------------------------------
def check_variant(args):
    """Rewards, KL and the loss gradient of the project's code vs the plain path on one shared rollout, for a fp32 model
    and, where the CPU computes bf16 natively, a bf16 one. (The losses' values differ by design: the project's PPO surrogate is −A·ratio with ratio = 1, the plain
    one −A·ln π; their gradients are the same.)"""
    from markovian.rollout import rollout, score_rollout
    from markovian.models import lora_compute
    from markovian.models import cpu_has_bf16
    out = {}
    for dtype in ('float32', 'bfloat16') if cpu_has_bf16() else ('float32',):
        tr = trainer(args, dtype=dtype)
        with torch.no_grad():   # a trained-looking adapter, so that policy and reference differ
            for i, (n, p) in enumerate(tr.model.named_parameters()):
                if 'lora_B' in n: p.normal_(0, 0.02, generator=torch.Generator().manual_seed(i))
        with lora_compute(tr.model):
            ro = score_rollout(tr.model, tr.tok, tr.cfg, rollout(tr.model, tr.tok, tr.cfg, tr.batch(1), torch.Generator().manual_seed(0)))
        adv = tr.advantages(ro)   # grpo: group-standardised rewards, uniform weights
        params = [p for p in tr.model.parameters() if p.requires_grad]
        with lora_compute(tr.model): loss, parts, _ = tr.sample_losses(ro, list(range(len(ro.actions))), adv, None)
        g1 = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])
        ref = frozen_fp32_copy(tr.cfg)
        R = torch.no_grad()(plain_rewards)(ref, tr.tok, tr.cfg, ro)
        tr.model.train(); ploss, pg, kl = plain_loss(tr.model, ref, tr.tok, ro, adv.adv, tr.cfg.algo.kl_coef)
        g2 = torch.cat([g.flatten() for g in torch.autograd.grad(ploss, params)])
        out[dtype] = dict(reward_max_abs_diff=float((ro.reward.float() - R).abs().max()), reward_range=float(R.max() - R.min()),
                          kl=float(parts['kl']) / tr.cfg.algo.kl_coef, plain_kl=kl, grad_rel_diff=float((g1 - g2).norm() / g2.norm()),
                          grad_cosine=float(F.cosine_similarity(g1, g2, 0)))
    return out

def child(args):
    if args.variant == 'check': print(json.dumps(check_variant(args))); return
    times, parts, comp, rss = dict(project=project_variant, plain=plain_variant, trl=trl_variant)[args.variant](args)
    med = lambda k: statistics.median(p[k] for p in parts)
    res = dict(variant=args.variant, step_s=statistics.median(times), steps=times, generate_s=med('time_generate'),
               score_s=med('time_score'), update_s=med('time_update'), gen_tokens_per_s=med('tokens_per_s'), peak_rss_gb=rss) | comp
    print(json.dumps(res))

def run_child(v, args):
    r = subprocess.run([sys.executable, __file__, '--variant', v, f'--peak={args.peak}', f'--stream={args.stream}'] +
                       [f'--{k}={getattr(args, k)}' for k in ('steps', 'questions', 'group', 'cot', 'dtype')], capture_output=True, text=True)
    if r.returncode: sys.exit(f'{v} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])

def main(args):
    if args.variant: return child(args)
    from markovian.runtime import machine_facts, code_commit
    t0 = time.time()
    args.dtype = bench_dtype(args.dtype)
    args.out = args.out or result_path('step', args.dtype)
    args.peak, args.stream = matmul_peak(dtype=args.dtype), stream_rate(dtype=args.dtype)
    check = run_child('check', args); c = check['float32']
    if not (c['reward_max_abs_diff'] < 1e-4 and c['grad_rel_diff'] < 1e-3): sys.exit(f'equivalence check failed (float32): {c}')
    rows = [run_child(v, args) for v in ['project', 'plain'] + (['trl'] if importlib.util.find_spec('trl') else [])]
    if len(rows) < 3: print('TRL is not installed (pip install -e ".[bench]"): its column is left out')
    m = machine_facts()
    print(f"machine: {m['cpu']}, {torch.get_num_threads()} threads (AVX2 {m['avx2']}, AVX512-BF16 {m['avx512_bf16']}, AMX-BF16 {m['amx_bf16']}); "
          f"dtype {args.dtype}; {args.dtype} matmul peak {args.peak / 1e9:.0f} GFLOP/s")
    for d, c in check.items():
        print(f"check ({d}): max |ΔR| {c['reward_max_abs_diff']:.1e} (R spans {c['reward_range']:.2f}); KL {c['kl']:.3e} vs plain {c['plain_kl']:.3e}; "
              f"loss gradient: relative difference {c['grad_rel_diff']:.1e}, cosine {c['grad_cosine']:.4f}")
    print(f"{'variant':8} {'step s':>7} {'gen s':>6} {'score s':>7} {'update s':>8} {'gen tok/s':>9} {'score %pk':>9} {'fwd+bwd %pk':>11} {'peak RSS GB':>11} {'project is':>11}")
    for r in rows:
        pct = lambda k: f"{100 * r[k]:.0f}" if k in r else '-'
        print(f"{r['variant']:8} {r['step_s']:7.2f} {r['generate_s']:6.2f} {r['score_s']:7.2f} {r['update_s']:8.2f} {r['gen_tokens_per_s']:9.1f} "
              f"{pct('score_util'):>9} {pct('fwd_bwd_util'):>11} {r['peak_rss_gb']:11.2f} {r['step_s'] / rows[0]['step_s']:9.2f}x faster")
    f = rows[0]['floor']
    print(f"{'floor':8} {f['step']:7.2f} {f['generate']:6.2f} {f['score']:7.2f} {f['update']:8.2f}   (the project's work at the matmul peak, "
          f"each forward streaming the weights at {args.stream / 1e9:.1f} GB/s)")
    p = rows[0]
    print(f"project / floor: step {p['step_s'] / f['step']:.1f}x, generate {p['generate_s'] / f['generate']:.1f}x, "
          f"score {p['score_s'] / f['score']:.1f}x, update {p['update_s'] / f['update']:.1f}x; "
          + '; '.join(f"{r['variant']} steps {min(r['steps']):.2f}-{max(r['steps']):.2f} s" for r in rows))
    out = dict(command=' '.join(['python bench/bench_step.py'] + sys.argv[1:]), started=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t0)),
               commit=code_commit(), wall_s=round(time.time() - t0, 1), machine=m, platform=platform.platform(), threads=torch.get_num_threads(), dtype=args.dtype,
               peak_gflops=args.peak / 1e9, stream_gb_s=args.stream / 1e9, floor=f,
               floor_ratio=dict(step=p['step_s'] / f['step'], generate=p['generate_s'] / f['generate'], score=p['score_s'] / f['score'],
                                update=p['update_s'] / f['update']),
               config=dict(questions=args.questions, group=args.group, cot=args.cot, steps=args.steps), check=check, results=rows,
               speedup={r['variant']: r['step_s'] / rows[0]['step_s'] for r in rows[1:]})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True); Path(args.out).write_text(json.dumps(out, indent=2))

if __name__ == '__main__': main(ARGS)
