"Packaging for markovian: metadata and requirements come from settings.ini (nbdev 2 convention)."
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
licenses = {'apache2': 'Apache-2.0'}
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
requirements = cfg.get('requirements', '').split()
extras = {
    'dev': cfg.get('dev_requirements', '').split(),
    # GPU only: 4-bit base weights and 8-bit AdamW; the package imports and runs without it. flash-attn is installed
    # separately (README), since it builds against the installed torch and CUDA toolkit (--no-build-isolation).
    'gpu': ['bitsandbytes'],
    # benchmark-only comparison against TRL's GRPOTrainer
    'bench': ['trl==1.16.0'],
}
setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], license=licenses[cfg['license']],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title(),
                 'Programming Language :: Python :: 3'],
    url=cfg['git_url'], packages=setuptools.find_packages(include=['markovian', 'markovian.*']),
    include_package_data=True, install_requires=requirements, extras_require=extras,
    python_requires='>=' + cfg['min_python'], description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(), long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'], zip_safe=False,
    keywords=cfg['keywords'].split(), project_urls={'Repository': cfg['git_url']},
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
)
