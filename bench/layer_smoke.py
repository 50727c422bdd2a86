"""The built layers run: every handler imports, and documents render, check and preview from the DepsLayer alone.

    PYTHONPATH=shared:functions:. .venv/bin/python -m bench.layer_smoke

The DepsLayer is pruned (fontTools subpackages, Pillow plugins, pycountry's translations, sources): this runs the
real renderer, checker and previewer in a `python -S` process whose `sys.path` is what Lambda gives a function
(`bench.bench_cold_start.paths_for`, the host-architecture DepsLayer), on the samples of `local.samples` (built
here, in the dev venv, and handed over pickled). A module the pruning removed but the code needs fails it.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

from bench.bench_cold_start import ENV, ensure_host_deps_layer, ensure_runtime, paths_for
from local.cfn import Template, load_template

CHILD = """
import pickle, sys
requests = pickle.load(sys.stdin.buffer)
from postal.documents.check import check_pdf
from postal.documents.preview import render_preview_png
from postal.documents.render import render_document
from postal.documents.zones import get_zone
for request in requests:
    doc = render_document(request)
    zone = get_zone(request.zone_id)
    result = check_pdf(doc.pdf, zone)
    png = render_preview_png(doc.pdf, zone, result)
    assert doc.pdf.startswith(b"%PDF") and png.startswith(b"\\x89PNG"), request.kind
    print(f"{request.kind.value:22} {request.language.value}  {doc.page_count} page(s)  {len(doc.pdf):7,} B  "
          f"check: {len(result.problems)} problem(s)  preview {len(png):,} B")
for module in sys.argv[1:]:
    __import__(module)
print(f"imported {len(sys.argv) - 1} handlers")
"""


def main() -> None:
    from local.samples import KINDS, sample_request
    from postal.models import Language

    requests = [sample_request(kind, language) for kind in KINDS for language in Language]
    functions = Template(load_template()).functions()
    ensure_runtime()
    deps_layer = ensure_host_deps_layer()
    paths, _ = paths_for("build", "DocumentsApiFunction", deps_layer)
    handlers = []
    for f in functions:  # each handler from its own artifact, after the shared layers
        paths.insert(0, str(paths_for("build", f.logical_id, deps_layer)[0][0]))
        handlers.append(f.handler.rsplit(".", 1)[0])
    code = f"import sys; sys.path[:0] = {paths!r}\n{CHILD}"
    env = {**ENV, "PATH": os.environ.get("PATH", "")}
    argv = [sys.executable, "-S", "-c", code, *handlers]
    out = subprocess.run(argv, input=pickle.dumps(requests), env=env, capture_output=True, check=False)
    sys.stdout.write(out.stdout.decode())
    if out.returncode != 0:
        sys.exit(f"the built layers failed:\n{out.stderr.decode()[-4000:]}")


if __name__ == "__main__":
    main()
