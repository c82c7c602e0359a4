"""GPU smoke test and memory check: the `mistral` and `llama` presets' training steps on randomly initialised models of
Mistral-7B's and Llama-3.1-8B's shapes, with gradient checkpointing, 4-bit base weights and the compiled decoder (CUDA
graphs) on and off; beside each measured peak, the CPU memory model's prediction for the same config (`make gpu-check`).

On a GPU machine (no weights or network needed):  python bench/gpu_step.py [--variants ...] [--out OUT.json]
A CPU dry run of every code path on tiny models of the same architectures:  python bench/gpu_step.py --tiny --device cpu
Each variant runs in its own process (a clean peak-memory count): two training steps, each timed with its phase split
(sampling, scoring, update) and the peak GPU memory after it; a bf16 matmul peak is measured first (not with --tiny).
A `+ddp` variant runs under `torchrun --nproc_per_node 2` (NCCL on two GPUs, gloo on a CPU): the same step with the
global batch split over two ranks and the gradients all-reduced; it is in the default list where two GPUs are visible.
The vocabulary is the real model's (32,000 / 128,256); token ids come from the tokenizer at hand (SmolLM2's, 49,152
ids, which fit inside Llama's vocabulary; for Mistral the embedding is enlarged to 49,152). 4-bit variants quantise the
random weights with bitsandbytes' NF4 (double quantisation) and need CUDA; on a CPU they are reported as skipped.
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time, traceback
from pathlib import Path
import torch
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])]
from flops import matmul_peak, sync
from markovian.memory import SHAPES, predict_run   # the presets' real widths, shared with the memory model

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16)
VARIANTS = ['mistral', 'mistral+ckpt', 'mistral+ckpt+compiled', 'mistral+ckpt+4bit', 'llama+ckpt', 'llama+ckpt+4bit', 'llama+4bit']
TWO_RANKS = ['mistral+ckpt+ddp']   # in the default list where two GPUs are visible

def rank_of_device(device:str)->str:
    "Under torchrun each rank takes its own GPU (`cuda:LOCAL_RANK`); a CPU stays a CPU."
    local = int(os.environ.get('LOCAL_RANK', '0'))
    return f'cuda:{local}' if device.startswith('cuda') and 'LOCAL_RANK' in os.environ else device

def build(preset:str, tok, tiny:bool, device:str, attn:str):
    "A randomly initialised bf16 model of the preset's real shapes (tiny on CPU: fp32), built directly on `device`."
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
    shape = dict(SHAPES[preset])
    arch = shape.pop('arch')
    shape['vocab_size'] = max(shape['vocab_size'], len(tok))
    cls, cfg_cls = (MistralForCausalLM, MistralConfig) if arch == 'mistral' else (LlamaForCausalLM, LlamaConfig)
    cfg = cfg_cls(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                  tie_word_embeddings=False, max_position_embeddings=8192, **(shape | (TINY if tiny else {})))
    torch.manual_seed(0)
    dtype = torch.float32 if tiny and device == 'cpu' else torch.bfloat16   # a CPU without native bf16 crawls
    with torch.device(device): m = cls._from_config(cfg, dtype=dtype, attn_implementation=attn)
    return m.eval()

def quantize_4bit(model, device:str):
    "Replace every decoder linear layer by bitsandbytes' NF4 `Linear4bit`, quantising its (random) weights."
    import bitsandbytes as bnb
    for layer in model.model.layers:
        for name, lin in [(n, m) for n, m in layer.named_modules() if isinstance(m, torch.nn.Linear)]:
            q = bnb.nn.Linear4bit(lin.in_features, lin.out_features, bias=False, compute_dtype=torch.bfloat16,
                                  compress_statistics=True, quant_type='nf4')
            q.weight = bnb.nn.Params4bit(lin.weight.data.cpu(), requires_grad=False, compress_statistics=True,
                                         quant_type='nf4').to(device)
            parent = layer.get_submodule(name.rsplit('.', 1)[0]) if '.' in name else layer
            setattr(parent, name.rsplit('.', 1)[-1], q)
    model.is_loaded_in_4bit = True
    torch.cuda.empty_cache()
    return model

def run_variant(name:str, a)->dict:
    "Two training steps of one variant: times, phase split and peak memory after each."
    from markovian.config import make_config
    from markovian.models import pick_attn, load_tokenizer
    from markovian.train import Trainer
    preset, opts = name.split('+')[0], set(name.split('+')[1:])
    device = rank_of_device(a.device)
    cuda, res = device.startswith('cuda'), dict(variant=name)
    if '4bit' in opts and not cuda: return res | dict(skipped='4-bit base weights need CUDA and bitsandbytes')
    tok = load_tokenizer(a.tok) if a.tok else load_tokenizer('embedded:smollm2')
    short = dict(cot_length=16, answer_length=8) if a.tiny else {}
    run = make_config(preset, run_dir=tempfile.mkdtemp() + '/r', log_samples=False, gradient_checkpointing='ckpt' in opts,
                      quantization='4bit' if '4bit' in opts else 'none', decoder='compiled' if 'compiled' in opts else 'eager',
                      verify_every=0, path='data/gsm8k', **short)
    attn = pick_attn(run.model, device)
    t = time.perf_counter()
    m = build(preset, tok, a.tiny, device, attn)
    if '4bit' in opts: m = quantize_4bit(m, device)
    res |= dict(attn=attn, build_s=time.perf_counter() - t, params_b=sum(p.numel() for p in m.parameters()) / 1e9)
    tr = Trainer(run, model=m, tok=tok, device=device)
    res['world'] = tr.world
    if 'ddp' in opts and tr.world != 2: raise RuntimeError(f'+ddp runs under torchrun with 2 ranks, got world size {tr.world}')
    s = run.sampling
    res['shape'] = dict(questions=run.optim.questions_per_step, group=s.group_size, cot=s.cot_length,
                        answer=s.answer_length, grad_accum=run.optim.grad_accum, optimizer=type(tr.opt).__name__)
    if cuda: res['mem_gb_loaded'] = torch.cuda.memory_allocated() / 2**30
    if cuda and not a.tiny:   # the CPU memory model's prediction for this very config, beside the measurement
        res['predicted_peak_gb'] = predict_run(run, preset, tok=tok, vocab_size=m.config.vocab_size)['peak'] / 2**30
    res['steps'] = []
    for step in (1, 2):
        if cuda: torch.cuda.reset_peak_memory_stats()
        sync(device); t = time.perf_counter(); mt = tr.step(step)['metrics']; sync(device)
        row = dict(step_s=time.perf_counter() - t, sample_s=mt['time_generate'], score_s=mt['time_score'],
                   update_s=mt['time_update'], sampled_tokens_per_s=mt['tokens_per_s'], cot_tokens=mt['cot_tokens'])
        if cuda: row['peak_mem_gb'] = torch.cuda.max_memory_allocated() / 2**30
        res['steps'].append(row)
    return res

def table(results:list[dict]):
    "The variants side by side."
    print('| variant | step 1 | step 2 | sampling | scoring | update | sampled tok/s | peak GPU memory | simulated |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in results:
        if 'steps' not in r:
            print(f"| {r['variant']} | {r.get('skipped') or 'failed: ' + r.get('error', '?').splitlines()[-1]} ||||||||")
            continue
        s1, s2 = r['steps']
        mem = f"{max(s['peak_mem_gb'] for s in r['steps']):.1f} GiB" if 'peak_mem_gb' in s1 else '—'
        sim = f"{r['predicted_peak_gb']:.1f} GiB" if 'predicted_peak_gb' in r else '—'
        print(f"| {r['variant']} | {s1['step_s']:.2f} s | {s2['step_s']:.2f} s | {s2['sample_s']:.2f} s | "
              f"{s2['score_s']:.2f} s | {s2['update_s']:.2f} s | {s2['sampled_tokens_per_s']:.0f} | {mem} | {sim} |")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    two = torch.cuda.is_available() and torch.cuda.device_count() >= 2
    ap.add_argument('--variants', default=','.join(VARIANTS + TWO_RANKS * two), help='comma-separated preset[+ckpt][+4bit][+compiled][+ddp]')
    ap.add_argument('--tok', default='', help='tokenizer folder (default: the embedded SmolLM2 tokenizer)')
    ap.add_argument('--device', default='cuda'); ap.add_argument('--tiny', action='store_true')
    ap.add_argument('--one', help=argparse.SUPPRESS); ap.add_argument('--out', default='bench/results/gpu-step.json')
    a = ap.parse_args()
    if a.one:                                   # a child process: one variant, its result as JSON on the last line
        try: r = run_variant(a.one, a)
        except Exception: r = dict(variant=a.one, error=traceback.format_exc())
        if os.environ.get('RANK', '0') == '0': print(json.dumps(r), flush=True)   # rank 0 speaks for both ranks
        return
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    res = dict(date=time.strftime('%Y-%m-%d'), commit=commit, torch=torch.__version__, host=platform.node(),
               device=torch.cuda.get_device_name() if a.device.startswith('cuda') else platform.processor() or 'cpu',
               tiny=a.tiny, bf16_peak_tflops=None if a.tiny else matmul_peak(a.device) / 1e12, variants=[])
    for v in a.variants.split(','):
        launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2'] if '+ddp' in v else [sys.executable]
        cmd = launch + [__file__, '--one', v, '--device', a.device, '--tok', a.tok] + ['--tiny'] * a.tiny
        p = subprocess.run(cmd, capture_output=True, text=True)
        try: r = json.loads(p.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError): r = dict(variant=v, error=(p.stderr or p.stdout)[-3000:] or 'no output')
        if 'error' in r: print(r['error'], file=sys.stderr)
        res['variants'].append(r)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    peak = 'not measured (--tiny)' if a.tiny else f"{res['bf16_peak_tflops']:.1f} TFLOP/s"
    print(f"{res['device']}, torch {res['torch']}, commit {commit}, bf16 matmul peak {peak}")
    table(res['variants'])
    sys.exit(1 if any('error' in r for r in res['variants']) else 0)

if __name__ == '__main__': main()
