"""Speed of this checkout against an earlier version of keras_compact.

Exports the package at a git ref (`git archive`) to a temporary directory,
then runs `tools/benchmarks/speed_probe.py` for the earlier version and for this
checkout back to back, alternating (old, new, new, old, ...) so machine drift
hits both alike, and prints the ratios new / old for the ALBERT-base train
step (tokens/s) and for tinybert_4 classifier inference (latency), per dtype
policy, and for that classifier exported for TF Serving (raw text in, p50).
Both runs use the same probe, this checkout's, with each version's defaults.

    python tools/benchmarks/bench_vs_previous.py --ref 196ec02          # TensorFlow backend
    python tools/benchmarks/bench_vs_previous.py --ref HEAD --rounds 1  # uncommitted changes
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "tools", "benchmarks", "speed_probe.py")


def export_ref(ref, directory):
    """Writes the package at `ref` under `directory`; returns the import root."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref, "keras_compact"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return directory


def train_probe_vocabulary(directory):
    """An 8,000-piece SentencePiece model on the bundled corpus, for serving."""
    sys.path.insert(0, ROOT)
    from keras_compact.data import default_corpus_text_file
    from keras_compact.data import train_vocabulary

    return train_vocabulary(default_corpus_text_file(os.path.join(directory, "corpus.txt")),
                            os.path.join(directory, "spm.model"), vocab_size=8000,
                            max_sentences=50000)


def probe(import_root, policies, vocab):
    env = dict(os.environ, PYTHONPATH=import_root, KERAS_BACKEND="tensorflow")
    # Run outside the checkout so the current directory does not shadow PYTHONPATH.
    run = subprocess.run([sys.executable, PROBE, "--policies", *policies, "--vocab", vocab],
                         env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"speed_probe.py failed on {import_root}:\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    expected = os.path.join(os.path.realpath(import_root), "keras_compact")
    if os.path.realpath(result["keras_compact"]) != expected:
        raise RuntimeError(f"The probe imported {result['keras_compact']}, not {expected}.")
    return result


def best(results, policy, key, larger_is_better):
    values = [r[policy][key] for r in results]
    return max(values) if larger_is_better else min(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True,
                        help="The earlier version: a commit, tag or branch.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "--verify",
                             f"{args.ref}^{{commit}}"], capture_output=True, text=True)
    if commit.returncode != 0:
        parser.error(f"--ref {args.ref!r} is not a commit of {ROOT}; pass a commit, tag or "
                     "branch (git log --oneline lists them).")
    commit = commit.stdout.strip()
    runs = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="keras_compact_ref_") as directory:
        roots = {"old": export_ref(args.ref, directory), "new": ROOT}
        vocab = train_probe_vocabulary(directory)
        for round_index in range(args.rounds):
            order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
            for version in order:
                print(f"round {round_index + 1}/{args.rounds}: {version} ...", flush=True)
                runs[version].append(probe(roots[version], args.policies, vocab))
    print(f"\nthis checkout vs {args.ref} ({commit}); best of {args.rounds} runs each; "
          "ratio > 1 means this checkout is faster")
    print(f"{'policy':>15} | {'measure':<30} | {'old':>9} | {'new':>9} | ratio")
    for policy in args.policies:
        jit = {v: runs[v][0][policy]["train_jit_compile"] for v in runs}
        rows = [("train tokens/s (ALBERT-base)", "train_tokens_per_s", True),
                ("infer ms, batch 1 (tinybert_4)", "infer_b1_ms", False),
                ("infer ms, batch 32", "infer_b32_ms", False)]
        for label, key, larger in rows:
            old, new = (best(runs[v], policy, key, larger) for v in ("old", "new"))
            ratio = new / old if larger else old / new
            print(f"{policy:>15} | {label:<30} | {old:9.1f} | {new:9.1f} | {ratio:.3f}")
        print(f"{'':>15} | jit_compile old={jit['old']} new={jit['new']}")
    for batch in (1, 32):
        old, new = (min(r["serving"][f"serve_b{batch}_ms"] for r in runs[v])
                    for v in ("old", "new"))
        label = f"serving p50 ms, batch {batch}"
        print(f"{'float32':>15} | {label:<30} | {old:9.1f} | {new:9.1f} | {old / new:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
