"""Time to render every example (spec → plan → objects → YAML), and the objects of each example.

    .venv/bin/python benchmarks/render_examples.py [--repeat N]

Prints the first (cold) pass, which includes loading the catalog, and the median of N warm passes;
then the time to validate every example strictly for Kubernetes 1.29 and the newest version; then
one line per example with its object list.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render_all(paths: list[Path]) -> dict[str, list[dict[str, object]]]:
    from kubellm.catalog import default_catalog, resolve_model
    from kubellm.render import plan_service, render
    from kubellm.render.cluster import render_cluster
    from kubellm.render.output import to_yaml
    from kubellm.spec import load_spec
    from kubellm.spec.cluster import load_cluster_spec

    catalog = default_catalog()
    out: dict[str, list[dict[str, object]]] = {}
    for path in paths:
        if path.name == "cluster.yaml":
            objects = render_cluster(load_cluster_spec(path), catalog)
        else:
            spec = load_spec(path)
            model = resolve_model(spec.model.planning_name, spec.model.config, catalog)
            objects = render(plan_service(spec, catalog, model), catalog)
        to_yaml(objects)
        out[path.name] = objects
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm passes to take the median of")
    args = parser.parse_args()
    paths = sorted((ROOT / "examples").glob("*.yaml"))

    start = time.perf_counter()
    results = render_all(paths)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        render_all(paths)
        warm.append(time.perf_counter() - start)

    from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects

    versions = (OLDEST_VERSION, newest_version())
    start = time.perf_counter()
    problems = sum(len(validate_objects(objs, v)) for objs in results.values() for v in versions)
    validate_cold = time.perf_counter() - start
    start = time.perf_counter()
    for objs in results.values():
        for v in versions:
            validate_objects(objs, v)
    validate_warm = time.perf_counter() - start

    total = sum(len(o) for o in results.values())
    print(f"{len(paths)} examples, {total} objects")
    print(f"{'measure':<44} {'seconds':>8}")
    print(f"{'render all examples, first pass (cold)':<44} {cold:>8.3f}")
    print(f"{f'render all examples, median of {args.repeat} warm':<44} {statistics.median(warm):>8.3f}")
    print(f"{'validate all, ' + ' and '.join(versions) + ', first pass':<44} {validate_cold:>8.3f}")
    print(f"{'validate all, ' + ' and '.join(versions) + ', warm':<44} {validate_warm:>8.3f}")
    print(f"validation problems: {problems}")
    print()
    print(f"{'example':<38} {'objects':>7}  kinds")
    for name, objects in results.items():
        kinds = Counter(str(o["kind"]) for o in objects)
        listing = ", ".join(f"{k}×{n}" if n > 1 else k for k, n in kinds.items())
        print(f"{name:<38} {len(objects):>7}  {listing}")


if __name__ == "__main__":
    main()
