"""End-to-end check of the inspection widgets in a real JupyterLab on 127.0.0.1 and Debian's headless chromium.

usage: python tests/e2e/run_e2e.py [OUT_DIR]   (default: figures/) — writes inspector.png and usefulness.png there.
Builds two tiny run directories and a notebook showing both widgets, serves it with JupyterLab, and runs
inspector.mjs (playwright-core), which fails when a widget area is empty or an error is displayed.
"""
import secrets, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
import nbformat
from markovian.config import make_config
from markovian.models import tiny_model_dir
from markovian.train import Trainer

here = Path(__file__).resolve().parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else here.parents[1] / 'figures').resolve()
work = Path(tempfile.mkdtemp())
tiny_model_dir(work / 'tiny')
small = dict(model_name=str(work / 'tiny'), dtype='float32', cot_length=8, group_size=3, questions_per_step=2, eval_size=4,
             steps=6, eval_every=3, checkpoint_every=3)
for name, seed in (('run-a', 0), ('run-b', 1)): Trainer(make_config(**small, run_dir=str(work / name), seed=seed)).fit(progress=False)

nb = nbformat.v4.new_notebook()
nb.metadata['kernelspec'] = dict(name='python3', display_name='Python 3', language='python')
nb.cells = [nbformat.v4.new_code_cell(s) for s in (
    "from markovian.inspect import Inspector, UsefulnessWidget",
    "ins = Inspector('run-a', 'run-b'); ins.step.value = 3; ins.cot_pick.value = ins.cot_pick.options[0][1]; ins",
    "uw = UsefulnessWidget(['run-a']); uw.add_cot('The solution to 23 + 14 + 81 + 92 is 210.'); uw.score(); uw")]
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
