"""
Zips a staged package tree into a wheel, with its .dist-info made from the
plugin's pyproject.toml: METADATA, WHEEL, entry_points.txt, top_level.txt and
RECORD (PEP 427, PEP 566). Standard library only: the machines that build
releases reach no Python package index, so no `build` or `wheel` here.

    python3 build_wheel.py PYPROJECT TREE TAG OUT_DIR

TREE holds the import package (spyder_remote/) as it is to be installed.
Modes are kept, so the bundled node stays executable; times are fixed, so
the same tree gives the same wheel. Prints the wheel's path.
"""

import ast
import base64
import hashlib
import os
import os.path as osp
import sys
import tomllib
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def read_version(tree, attribute):
    """`dynamic = ["version"]` from a module attribute, read without importing it."""
    module, name = attribute.rsplit('.', 1)
    source = osp.join(tree, *module.split('.'), '__init__.py')
    with open(source, encoding='utf-8') as handle:
        for node in ast.parse(handle.read()).body:
            if isinstance(node, ast.Assign) and any(getattr(target, 'id', None) == name for target in node.targets):
                return ast.literal_eval(node.value)
    raise SystemExit('no {} in {}'.format(name, source))


def metadata(project, version, readme):
    lines = [
        'Metadata-Version: 2.1',
        'Name: ' + project['name'],
        'Version: ' + version,
        'Summary: ' + project['description'],
        'License: ' + project['license']['text'],
        'Requires-Python: ' + project['requires-python'],
    ]
    lines += ['Requires-Dist: ' + dependency for dependency in project.get('dependencies', [])]
    lines += ['Description-Content-Type: text/markdown', '', readme]
    return '\n'.join(lines)


def entry_points(project):
    sections = []
    for group, entries in project.get('entry-points', {}).items():
        sections.append('[{}]\n'.format(group) + ''.join('{} = {}\n'.format(key, value) for key, value in entries.items()))
    return '\n'.join(sections)


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode('ascii')
    return '{},sha256={},{}'.format(path, digest, len(data))


def main(pyproject, tree, tag, out_dir):
    with open(pyproject, 'rb') as handle:
        config = tomllib.load(handle)
    project = config['project']
    version = read_version(tree, config['tool']['setuptools']['dynamic']['version']['attr'])
    distribution = project['name'].replace('-', '_')
    info = '{}-{}.dist-info'.format(distribution, version)
    with open(osp.join(osp.dirname(pyproject), project['readme']), encoding='utf-8') as handle:
        readme = handle.read()
    generated = {
        info + '/METADATA': metadata(project, version, readme),
        # Not purelib: it carries a native Node for one platform.
        info + '/WHEEL': 'Wheel-Version: 1.0\nGenerator: spyder-remote scripts/release\nRoot-Is-Purelib: false\nTag: {}\n'.format(tag),
        info + '/entry_points.txt': entry_points(project),
        info + '/top_level.txt': ''.join(sorted(name + '\n' for name in os.listdir(tree))),
    }
    wheel = osp.join(out_dir, '{}-{}-{}.whl'.format(distribution, version, tag))
    records = []
    with zipfile.ZipFile(wheel, 'w', zipfile.ZIP_DEFLATED) as archive:
        for folder, subfolders, files in os.walk(tree):
            subfolders[:] = sorted(name for name in subfolders if name != '__pycache__')
            for name in sorted(files):
                path = osp.join(folder, name)
                with open(path, 'rb') as handle:
                    data = handle.read()
                arcname = osp.relpath(path, tree).replace(os.sep, '/')
                add(archive, arcname, data, os.stat(path).st_mode)
                records.append(record_line(arcname, data))
        for arcname, text in generated.items():
            add(archive, arcname, text.encode('utf-8'), 0o100644)
            records.append(record_line(arcname, text.encode('utf-8')))
        records.append(info + '/RECORD,,')
        add(archive, info + '/RECORD', ''.join(line + '\n' for line in records).encode('utf-8'), 0o100644)
    print(wheel)


def add(archive, arcname, data, mode):
    entry = zipfile.ZipInfo(arcname, FIXED_TIME)
    entry.external_attr = (mode & 0xFFFF) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


if __name__ == '__main__':
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
