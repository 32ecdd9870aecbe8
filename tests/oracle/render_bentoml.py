"""Renders Bentos' Dockerfiles with BentoML 1.1.11 itself, as `bentoml containerize` does
(construct_containerfile -> generate_containerfile, BuildKit on, no header), without
copying models. Usage: python render_bentoml.py OUT_DIR BENTO_DIR...
Writes OUT_DIR/<basename>.Dockerfile, or <basename>.error on failure."""
import os
import sys
import traceback

import io
import shlex

import attr
import fs
import jinja2
import yaml

from bentoml._internal.bento.bento import BentoInfo
from bentoml._internal.bento.build_config import CondaOptions
from bentoml._internal.bento.build_config import DockerOptions
from bentoml._internal.bento.build_config import PythonOptions
from bentoml._internal.container.generate import generate_containerfile
from bentoml._internal.utils import bentoml_cattr


# Newer BentoML adds a `bash_quote` filter (shlex.quote); give 1.1.11 the same one.
_original_init = jinja2.Environment.__init__


def _init_with_bash_quote(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.filters["bash_quote"] = shlex.quote


jinja2.Environment.__init__ = _init_with_bash_quote

# BentoML 1.1.11 rejects option keys added by later versions; drop them before loading.
KNOWN = {
    "docker": {a.name for a in attr.fields(DockerOptions)},
    "python": {a.name for a in attr.fields(PythonOptions)},
    "conda": {a.name for a in attr.fields(CondaOptions)},
}


def render(bento_dir: str) -> str:
    os.chdir(bento_dir)  # env files and templates resolve relative to the Bento
    with open(os.path.join(bento_dir, "bento.yaml")) as f:
        data = yaml.safe_load(f)
    for section, names in KNOWN.items():
        if isinstance(data.get(section), dict):
            data[section] = {k: v for k, v in data[section].items() if k in names}
    info = BentoInfo.from_yaml_file(io.StringIO(yaml.safe_dump(data, sort_keys=False)))
    attrs = bentoml_cattr.unstructure(info.docker)
    if attrs.get("dockerfile_template") is not None:
        attrs["dockerfile_template"] = "env/docker/Dockerfile.template"
    return generate_containerfile(
        docker=DockerOptions(**attrs),
        build_ctx=bento_dir,
        conda=info.conda,
        bento_fs=fs.open_fs(bento_dir),
        enable_buildkit=True,
        add_header=False,
    )


def main() -> None:
    out_dir = sys.argv[1]
    for bento_dir in sys.argv[2:]:
        name = os.path.basename(os.path.normpath(bento_dir))
        try:
            text = render(os.path.abspath(bento_dir))
            with open(os.path.join(out_dir, name + ".Dockerfile"), "w") as f:
                f.write(text)
        except Exception:  # noqa: BLE001 - reported per Bento
            with open(os.path.join(out_dir, name + ".error"), "w") as f:
                f.write(traceback.format_exc())


if __name__ == "__main__":
    main()
