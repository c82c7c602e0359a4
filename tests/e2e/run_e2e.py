"""End-to-end check of the inspection widgets in a real JupyterLab on 127.0.0.1 and Debian's headless chromium.

usage: python tests/e2e/run_e2e.py [OUT_DIR]   (default: /tmp/markovian-e2e) — writes inspector.png and usefulness.png there.
Shows the committed main-job run (data/runs/smollm2-main) and the older main-job log beside it in the inspector, and
scores the main job's own CoTs (its first and last test evaluation of one question) in the usefulness widget, with the
embedded model; serves the notebook with JupyterLab and runs inspector.mjs (playwright-core), which fails when a widget
area is empty or an error is displayed. `make e2e E2E_OUT=figures` refreshes the documentation pictures.
"""
import json, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
import nbformat

here = Path(__file__).resolve().parent
root = here.parents[1]
out = Path(sys.argv[1] if len(sys.argv) > 1 else '/tmp/markovian-e2e').resolve()
work = Path(tempfile.mkdtemp())
for name in ('smollm2-main', 'legacy-2026-11-28'): shutil.copytree(root / 'data/runs' / name, work / name)

log = [json.loads(l) for l in (work / 'smollm2-main/log.jsonl').read_text().splitlines()]
ev = [l for l in log if l.get('eval') and l['split'] == 'test' and l['protocol'] == 'sampled']
pairs = [(a, next(e for e in ev[-1]['examples'] if e['question'] == a['question'])) for a in ev[0]['examples']]
before, after = next((a, b) for a, b in pairs if a['cot'].strip() and b['cot'].strip() != a['cot'].strip())   # both CoTs written
last = max(l['step'] for l in log if not l.get('eval'))
cots = (after['cot'], before['cot'])

nb = nbformat.v4.new_notebook()
nb.metadata['kernelspec'] = dict(name='python3', display_name='Python 3', language='python')
nb.cells = [nbformat.v4.new_code_cell(s) for s in (
    "from markovian.inspect import Inspector, UsefulnessWidget",
    f"ins = Inspector('smollm2-main', 'legacy-2026-11-28'); ins.step.value = {last}; ins.cot_pick.value = ins.cot_pick.options[0][1]; ins",
    f"uw = UsefulnessWidget(question={before['question']!r}, answer={before['answer']!r}, cots={cots!r}); uw.score(); uw")]
nbformat.write(nb, work / 'inspect_demo.ipynb')

with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
token = secrets.token_hex(16)
bindir = Path(sys.executable).parent
server = subprocess.Popen([str(bindir / 'jupyter'), 'lab', '--no-browser', f'--port={port}', '--ip=127.0.0.1', '--allow-root', f'--ServerApp.token={token}',
                           f'--ServerApp.root_dir={work}', '--ServerApp.disable_check_xsrf=True', '--LabApp.news_url=',
                           '--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                          stdout=open(work / 'server.log', 'w'), stderr=subprocess.STDOUT)
try:
    for _ in range(120):
        try: urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status?token={token}', timeout=1); break
        except OSError: time.sleep(0.5)
    else: sys.exit('jupyter lab did not start:\n' + (work / 'server.log').read_text()[-2000:])
    out.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(['node', str(here / 'inspector.mjs'), f'http://127.0.0.1:{port}/lab/tree/inspect_demo.ipynb?token={token}', str(out)],
                       cwd=here, capture_output=True, text=True, timeout=400)
    print(r.stdout, r.stderr)
    if r.returncode: sys.exit(f'browser check failed (screenshot: {out}/failure.png)')
finally:
    server.terminate(); server.wait(timeout=30)
