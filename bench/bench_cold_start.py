"""Cold start: each function's handler import in a fresh interpreter, next to `import boto3` in the same paths.

    PYTHONPATH=shared:functions:. .venv/bin/python -m bench.bench_cold_start [--runs 7] [--source-runs N] [--modes ...]

Modes (each import runs in its own `python -S` process, timed around the import itself):
- `source`: the work tree and the venv, with the bytecode Python writes on first import (a warmed dev machine).
- `build`: what Lambda puts on `sys.path`: the function's `sam build` artifact (/var/task), the DomainLayer and the
  DepsLayer (/opt/python), then the runtime's boto3. The arm64 DepsLayer cannot load on an x86 machine, so the
  same `layers/deps/Makefile` builds it for this machine's architecture into bench/out/; boto3 and its
  dependencies come from the venv, standing in for the runtime's.
- `nobytecode`: the same build with every `.pyc` removed and writing bytecode disabled, as a layer without
  bytecode behaves on Lambda's read-only /opt.

For every function the boto3 import and the handler import alternate, `--runs` times (`--source-runs` in the
source mode, `--nobytecode-runs` without bytecode); the ratio is of the medians.
Both the wall time and the process's CPU time are printed; the goals are judged on CPU time, which waiting for a
core on a shared, loaded machine does not inflate (on Lambda, an import runs on its own vCPU share).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from local.cfn import ROOT, FunctionSpec, Template, load_template

BUILD = ROOT / ".aws-sam" / "build"
OUT = ROOT / "bench" / "out"
HOST_DEPS = OUT / f"deps-layer-{platform.machine()}"
HOST_DEPS_SOURCES = OUT / f"deps-layer-{platform.machine()}-sources"  # BYTECODE=none: the sources, no bytecode
RUNTIME = OUT / "runtime"  # boto3 and what it imports, as the Lambda runtime ships them
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")

# Goals (issue 15): import time as a multiple of `import boto3`.
LIGHT = {"AuthorizerFunction", "DisconnectCascadeFunction", "DispatchFunction", "WebhooksFunction"}
RENDERS = {
    "DocumentsApiFunction",
    "TemplateChecksFunction",
    "LettersApiFunction",
    "CollectionFunction",
    "NightlyPagesFunction",
}
DEPS_LAYER_GOAL_MB = 60

ENV = {
    "AWS_DEFAULT_REGION": "eu-central-1",
    "POWERTOOLS_TRACE_DISABLED": "true",  # the template's default (TraceSubsegments=false)
    "POWERTOOLS_SERVICE_NAME": "postal-comms",
    "POWERTOOLS_METRICS_NAMESPACE": "PostalComms",
    "PYTHONHASHSEED": "0",
}

TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; t, c = time.perf_counter(), time.process_time(); import {module}; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def goal(logical_id: str) -> float:
    return 1.3 if logical_id in LIGHT else 2.5 if logical_id in RENDERS else 1.6


def site_packages() -> Path:
    return Path(next(p for p in sys.path if p.endswith("site-packages")))


def timed_import(module: str, paths: list[str], *, bytecode: bool) -> tuple[float, float]:
    """(wall ms, CPU ms) of `import module` in a fresh interpreter."""
    flags = ["-S"] if bytecode else ["-S", "-B"]
    env = {**ENV, "PATH": os.environ.get("PATH", "")}
    code = TIMER.format(paths=paths, module=module)
    out = subprocess.run([sys.executable, *flags, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{out.stderr[-2000:]}")
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall) * 1000, float(cpu) * 1000


def ensure_runtime() -> None:
    """A directory holding only boto3 and its dependencies (links into the venv)."""
    RUNTIME.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        link = RUNTIME / name
        if not link.exists():
            link.symlink_to(site_packages() / name)


def ensure_host_deps_layer(*, bytecode: bool = True) -> Path:
    """The DepsLayer built by its own Makefile for this machine's architecture (`bytecode=False`: sources only)."""
    out = HOST_DEPS if bytecode else HOST_DEPS_SOURCES
    recipe = max(p.stat().st_mtime for p in (ROOT / "layers" / "deps").iterdir())
    if out.is_dir() and (not (out / "python").is_dir() or out.stat().st_mtime < recipe):
        shutil.rmtree(out)  # built by an older recipe (or half built)
    if not out.is_dir():
        build = subprocess.run(
            ["make", "-s", "-C", str(ROOT / "layers" / "deps"), "build-DepsLayer", f"ARCH={platform.machine()}",
             f"ARTIFACTS_DIR={out}", f"PYTHON={sys.executable}", f"BYTECODE={'sourceless' if bytecode else 'none'}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if build.returncode != 0:
            sys.exit(f"building the deps layer for {platform.machine()} failed:\n{build.stderr[-3000:]}")
    return out / "python"


def without_bytecode(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def tree_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def paths_for(mode: str, logical_id: str, deps_layer: Path) -> tuple[list[str], list[str]]:
    """(sys.path for the handler, sys.path for the boto3 baseline) in `mode`."""
    if mode == "source":
        paths = [str(ROOT / "functions"), str(ROOT / "shared"), str(site_packages())]
        return paths, paths
    base = BUILD if mode == "build" else OUT / "nobytecode"
    bootstrap = deps_layer if mode == "build" else OUT / "nobytecode" / "DepsLayer"
    handler = [str(base / logical_id), str(base / "DomainLayer" / "python"), str(bootstrap), str(RUNTIME)]
    return handler, [str(RUNTIME)]


def prepare(modes: list[str]) -> Path:
    deps_layer = Path()
    if "build" in modes or "nobytecode" in modes:
        if not (BUILD / "DomainLayer").is_dir():
            sys.exit("no .aws-sam/build: run `make sam-build` first")
        ensure_runtime()
        deps_layer = ensure_host_deps_layer()
    if "nobytecode" in modes:
        nob = OUT / "nobytecode"
        nob.mkdir(parents=True, exist_ok=True)
        for name in [p.name for p in BUILD.iterdir() if p.is_dir() and p.name != "DepsLayer"]:
            without_bytecode(BUILD / name, nob / name)
        # The DepsLayer ships bytecode only (no sources): its sources-only build stands in for it.
        without_bytecode(ensure_host_deps_layer(bytecode=False), nob / "DepsLayer")
    return deps_layer


def run(modes: list[str], runs: dict[str, int]) -> None:
    """Each mode's table (`runs[mode]` alternations per function), then the build's sizes."""
    functions = Template(load_template()).functions()
    deps_layer = prepare(modes)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}")
    for mode in modes:
        if mode == "source":  # write the bytecode once, as a dev machine has it
            for f in functions:
                timed_import(f.handler.rsplit(".", 1)[0], paths_for(mode, f.logical_id, deps_layer)[0], bytecode=True)
        print_mode(mode, functions, deps_layer, runs.get(mode, runs["build"]))
    if BUILD.is_dir():
        print_sizes()


def print_mode(mode: str, functions: list[FunctionSpec], deps_layer: Path, n: int) -> None:
    """One mode's table: per function the medians of n boto3 and n handler imports, alternating."""
    bytecode = mode != "nobytecode"
    print(f"\nmode: {mode} (median of {n})")
    print(f"{'':28} {'wall ms':>17} {'':>6} {'CPU ms':>17}")
    print(f"{'function':28} {'boto3':>8} {'handler':>8} {'ratio':>6} {'boto3':>8} {'handler':>8} {'ratio':>6} "
          f"{'goal':>5}  result (CPU)")  # fmt: skip
    print("-" * 102)
    met = 0
    for f in functions:
        module = f.handler.rsplit(".", 1)[0]
        handler_paths, boto3_paths = paths_for(mode, f.logical_id, deps_layer)
        base, handler = [], []
        for _ in range(n):
            base.append(timed_import("boto3", boto3_paths, bytecode=True))
            handler.append(timed_import(module, handler_paths, bytecode=bytecode))
        bw, hw = statistics.median(b[0] for b in base), statistics.median(h[0] for h in handler)
        bc, hc = statistics.median(b[1] for b in base), statistics.median(h[1] for h in handler)
        ratio, target = hc / bc, goal(f.logical_id)
        met += ratio <= target
        result = "met" if ratio <= target else "missed"
        print(
            f"{f.logical_id:28} {bw:8.1f} {hw:8.1f} {hw / bw:5.2f}x {bc:8.1f} {hc:8.1f} {ratio:5.2f}x "
            f"{target:4.1f}x  {result}"
        )
    print(f"goals met: {met}/{len(functions)}")


def print_sizes() -> None:
    print("\nunzipped size after sam build")
    print(f"{'artifact':28} {'MB':>9}")
    print("-" * 38)
    for path in sorted(p for p in BUILD.iterdir() if p.is_dir()):
        print(f"{path.name:28} {tree_mb(path):9.3f}")
    bootstrap = tree_mb(BUILD / "DepsLayer")
    verdict = "met" if bootstrap <= DEPS_LAYER_GOAL_MB else f"missed by {bootstrap - DEPS_LAYER_GOAL_MB:.1f} MB"
    print(f"deps layer goal <= {DEPS_LAYER_GOAL_MB} MB: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="alternations per function in the build mode")
    parser.add_argument("--source-runs", type=int, default=None, help="in the source mode (default: --runs)")
    parser.add_argument("--modes", default="source,build,nobytecode")
    parser.add_argument("--nobytecode-runs", type=int, default=3, help="each import compiles everything: slow")
    parser.add_argument("--sizes-only", action="store_true", help="print the sam build sizes and stop")
    args = parser.parse_args()
    if args.sizes_only:
        print_sizes()
        return
    runs = {"build": args.runs, "source": args.source_runs or args.runs, "nobytecode": args.nobytecode_runs}
    run([m for m in args.modes.split(",") if m], runs)


if __name__ == "__main__":
    main()
