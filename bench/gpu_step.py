"""GPU readiness: the `mistral` preset's training step on a randomly initialised model with Mistral-7B-Instruct's shapes.

Run on a GPU machine (no weights or network needed): python bench/gpu_step.py --tok TOKENIZER_DIR --out OUT.json
A CPU dry run of every code path on a tiny model of the same architecture: python bench/gpu_step.py --tiny --device cpu
The vocabulary is the tokenizer's (SmolLM2's 49,152 where Mistral's own tokenizer is unavailable); every other shape is
Mistral-7B's. Reports: step time (warm-up, then --steps timed), generation tokens/s, scoring and forward+backward
throughput as a share of a bf16 matmul peak measured in the same run (FLOP convention in flops.py), peak GPU memory.
"""
import argparse, importlib.util, json, platform, statistics, subprocess, sys, tempfile, time, traceback
from pathlib import Path
import torch
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])]
from flops import matmul_peak, sync
from bench_step import project_components
from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM
from markovian.config import make_config
from markovian.models import pick_attn
from markovian.train import Trainer

MISTRAL_7B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  head_dim=128, max_position_embeddings=32768, rope_theta=1e6, sliding_window=None, tie_word_embeddings=False)
TINY = MISTRAL_7B | dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16)

def build(tok, tiny:bool, device:str, attn:str):
    "A randomly initialised bf16 Mistral of the real (or tiny) shapes, built directly on `device`."
    cfg = MistralConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, **(TINY if tiny else MISTRAL_7B))
    torch.manual_seed(0)
    with torch.device(device): m = MistralForCausalLM._from_config(cfg, dtype=torch.bfloat16, attn_implementation=attn)
    return m.eval()

def steps(tr, n):
    "Step times (the first is warm-up, dropped) and the metrics of the timed steps."
    ts, ms = [], []
    for s in range(1, n + 2):
        sync(tr.device); t = time.perf_counter(); m = tr.step(s)['metrics']; sync(tr.device)
        ts.append(time.perf_counter() - t); ms.append(m)
    return ts[1:], ms[1:]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tok', default='.gpu/tok'); ap.add_argument('--device', default='cuda')
    ap.add_argument('--tiny', action='store_true'); ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--out', default='bench/results/gpu-step.json')
    a = ap.parse_args()
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
    res = dict(date=time.strftime('%Y-%m-%d'), commit=commit, torch=torch.__version__, host=platform.node(), tiny=a.tiny, errors=[])
    cuda = a.device.startswith('cuda')
    if cuda: res['gpu'] = torch.cuda.get_device_name()
    try:
        tok = AutoTokenizer.from_pretrained(a.tok); tok.padding_side = 'left'
        run = make_config('mistral', run_dir=tempfile.mkdtemp() + '/r', log_samples=False, **(dict(cot_length=16, answer_length=8) if a.tiny else {}))
        attn = pick_attn(run.model, a.device)
        res |= dict(attn=attn, flash_attn_installed=importlib.util.find_spec('flash_attn') is not None)
        res['bf16_peak_tflops'] = peak = matmul_peak(a.device) / 1e12
        t = time.perf_counter(); m = build(tok, a.tiny, a.device, attn); res['build_s'] = time.perf_counter() - t
        res['params_b'] = sum(p.numel() for p in m.parameters()) / 1e9
        tr = Trainer(run, model=m, tok=tok, device=a.device)
        res['preset'] = dict(questions=run.optim.questions_per_step, group=run.sampling.group_size, cot=run.sampling.cot_length,
                             answer=run.sampling.answer_length, lora=run.model.target_modules, grad_accum=run.optim.grad_accum,
                             optimizer=type(tr.opt).__name__)
        if cuda: torch.cuda.reset_peak_memory_stats()
        ts, ms = steps(tr, a.steps)
        med = lambda k: statistics.median(x[k] for x in ms)
        res |= dict(step_s=statistics.median(ts), steps=ts, step_generate_s=med('time_generate'), step_score_s=med('time_score'),
                    step_update_s=med('time_update'), step_cot_tokens=med('cot_tokens'))
        if cuda: res['peak_mem_gb_step'] = torch.cuda.max_memory_allocated() / 2**30
        res |= project_components(tr, peak * 1e12, a.device)
        if cuda: res['peak_mem_gb'] = torch.cuda.max_memory_allocated() / 2**30
    except Exception: res['errors'].append(traceback.format_exc()); print(traceback.format_exc())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2))
    for k, v in res.items(): print(f'{k:22} {v:.3f}' if isinstance(v, float) else f'{k:22} {v}')

if __name__ == '__main__': main()
