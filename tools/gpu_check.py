"""GPU check (issue 21): training-step throughput against peers, in one run of at most 8 minutes.

Run it only on a lent accelerator, through the `device` tool (never from
tests or CI); `tools/gpu_check.sh` is the command to give it. It measures:

- ALBERT-base pretraining step: keras_compact's `AlbertPretrainer` on
  `CompactBackbone.from_preset("albert_base")` (MLM + SOP heads) against
  keras-hub's `AlbertBackbone` + `AlbertMaskedLM` built from the same
  constructor arguments (MLM head only; the SOP head is one 768 x 2 dense),
  same batch, 20 masked positions per 128 tokens, LAMB, `jit_compile=True`,
  float32 and mixed_bfloat16, sequence 128 (and 512 as time allows);
- a TinyBERT distillation step (task stage, all TinyBERT losses):
  keras_compact's `Distiller` with a BERT-base-shaped teacher and the
  `tinybert_4` preset student against the same step in transformers on
  PyTorch (`BertForSequenceClassification` teacher and 4-layer, 312-hidden
  student, eager attention, MSE on hidden states (through a 312 -> 768
  projection) and on `output_attentions`, soft cross-entropy on logits,
  AdamW; `torch.autocast` for bfloat16), when torch sees CUDA;
- each run's peak device memory (`jax` memory_stats, TensorFlow's
  `get_memory_info`, `torch.cuda.max_memory_allocated`) and its tokens/s as
  a share of the card's dense bf16 peak (model FLOPs utilisation).

Weights are random (throughput does not depend on them) and nothing is
downloaded: keras-hub's backbone is built from its constructor, not
`from_preset`. Each run is its own process (clean peak memory, a hard
timeout); the runs share one deadline (`--budget`, default 450 s) and a run
that would not fit is reported as skipped, so the check always ends with a
table. Prints a markdown table; writes JSON to `$OUT/gpu_check.json` when
`$OUT` is set (or `--json PATH`).

FLOPs per token: 6 x the matmul weights a token passes through (ALBERT's
shared layer counted once per layer it runs as) + attention's 12 x L x S x H
for training; the distillation step counts the teacher's forward (2 x) and
the student's training (6 x).

    python tools/gpu_check.py                  # on the device machine
    python tools/gpu_check.py --smoke          # tiny sizes on a CPU, all runs in one process

`--smoke` checks that every run works; its figures (one process, a few
steps, thread pools of three frameworks sharing the CPU) are not measurements.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), by nvidia-smi's name.
BF16_PEAK_TFLOPS = (("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0),
                    ("L40S", 362.0), ("A10G", 70.0), ("L4", 121.0))
MASK_RATE = 20 / 128  # masked positions per token (ALBERT: 20 of 128)
FULL = dict(albert=dict(preset="albert_base"), teacher=dict(preset="bert_base"),
            student=dict(preset="tinybert_4"), steps=20, seconds=12, min_run_s=60,
            run_cap_s=150)
SMOKE_ALBERT = dict(num_layers=1, hidden_dim=64, num_heads=2, intermediate_dim=128,
                    embedding_dim=32, vocabulary_size=1000, max_sequence_length=64)
SMOKE = dict(albert=SMOKE_ALBERT,
             teacher=dict(num_layers=2, hidden_dim=64, num_heads=2, intermediate_dim=128,
                          vocabulary_size=1000, max_sequence_length=64),
             student=dict(num_layers=1, hidden_dim=32, num_heads=2, intermediate_dim=64,
                          vocabulary_size=1000, max_sequence_length=64),
             steps=3, seconds=5, min_run_s=15, run_cap_s=60)


def plan(smoke):
    """The runs in order: the pairs that matter most first, so a short budget keeps them."""
    b128, b512 = (4, 2) if smoke else (64, 16)
    s128, s512 = (32, 64) if smoke else (128, 512)
    runs = []
    for policy in ("mixed_bfloat16", "float32"):
        for impl in ("keras_compact", "keras_hub"):
            runs.append(dict(section="albert_pretrain", impl=impl, policy=policy, batch=b128,
                             seq=s128))
    for impl in ("keras_compact", "pytorch"):
        runs.append(dict(section="tinybert_distill", impl=impl, policy="mixed_bfloat16",
                         batch=b128 // 2, seq=s128))
    for impl in ("keras_compact", "keras_hub"):
        runs.append(dict(section="albert_pretrain", impl=impl, policy="mixed_bfloat16",
                         batch=b512, seq=s512))
    for impl in ("keras_compact", "pytorch"):
        runs.append(dict(section="tinybert_distill", impl=impl, policy="float32",
                         batch=b128 // 2, seq=s128))
    if smoke:  # one float32 pair per step kind: on a CPU, imports and compiles dominate
        runs = [runs[2], runs[3], runs[-2], runs[-1]]
    return runs


# ------------------------------------------------------------------ sizes and FLOPs
def get_preset_config(name):
    """keras_compact's preset arguments, read without importing the package.

    `import keras_compact` needs TensorFlow (its preprocessing is TF-only);
    the keras-hub and PyTorch runs must not, so that they still run on a
    machine without TensorFlow.
    """
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                        "keras_compact", "models", "presets.py")
    spec = importlib.util.spec_from_file_location("_keras_compact_presets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_preset_config(name)


def model_config(role, smoke):
    """Constructor arguments of the ALBERT model, the distillation teacher or student."""
    sizes = (SMOKE if smoke else FULL)[role]
    if "preset" in sizes:
        config = get_preset_config(sizes["preset"])
        if role == "teacher":
            config["vocabulary_size"] = 30522  # the student's (TinyBERT's) vocabulary
        return config
    base = "albert_base" if role == "albert" else "bert_base"
    return dict(get_preset_config(base), **sizes)


def encoder_flops(config, seq, passes):
    """FLOPs per token of `passes` x (forward matmuls) through the encoder and attention."""
    hidden, inner, layers = config["hidden_dim"], config["intermediate_dim"], config["num_layers"]
    weights = layers * (4 * hidden * hidden + 2 * hidden * inner)
    if config.get("embedding_dim"):  # ALBERT's E -> H projection
        weights += config["embedding_dim"] * hidden
    return passes * (weights + 2 * layers * seq * hidden)


def flops_per_token(run, smoke):
    if run["section"] == "albert_pretrain":
        config = model_config("albert", smoke)
        head = config["hidden_dim"] * config["embedding_dim"] + (
            config["embedding_dim"] * config["vocabulary_size"])
        return encoder_flops(config, run["seq"], 6) + 6 * MASK_RATE * head
    return (encoder_flops(model_config("teacher", smoke), run["seq"], 2)
            + encoder_flops(model_config("student", smoke), run["seq"], 6))


# ------------------------------------------------------------------ one run (child process)
def random_batch(batch, seq, vocab, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    predictions = max(1, round(seq * MASK_RATE))
    x = {"token_ids": rng.integers(5, vocab, (batch, seq)).astype("int32"),
         "segment_ids": (np.arange(seq) >= seq // 2)[None].repeat(batch, 0).astype("int32"),
         "padding_mask": np.ones((batch, seq), "int32")}
    mask_positions = np.sort(rng.integers(1, seq, (batch, predictions)), -1).astype("int32")
    mlm = {"mlm_ids": rng.integers(5, vocab, (batch, predictions)).astype("int32"),
           "mlm_weights": np.ones((batch, predictions), "float32"),
           "sop_label": rng.integers(0, 2, (batch,)).astype("int32")}
    return x, mask_positions, mlm


def albert_step(run, smoke):
    import keras

    keras.mixed_precision.set_global_policy(run["policy"])
    config = model_config("albert", smoke)
    x, mask_positions, mlm = random_batch(run["batch"], run["seq"], config["vocabulary_size"])
    # The same plain LAMB for both (keras_compact's make_lamb_optimizer adds a
    # schedule and excludes LayerNorm / biases from decay; the keras-hub run
    # must not import keras_compact).
    optimizer = keras.optimizers.Lamb(learning_rate=1e-3, weight_decay=0.01,
                                      global_clipnorm=1.0)
    if run["impl"] == "keras_compact":
        from keras_compact import CompactBackbone
        from keras_compact.models.pretrainer import AlbertPretrainer

        model = AlbertPretrainer(CompactBackbone(**config, dtype=run["policy"]))
        model.compile(optimizer=optimizer, jit_compile=True)
        x = dict(x, mask_positions=mask_positions)
        return model, lambda: model.train_on_batch(x, mlm)
    import keras_hub

    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config["vocabulary_size"], num_layers=config["num_layers"],
        num_heads=config["num_heads"], embedding_dim=config["embedding_dim"],
        hidden_dim=config["hidden_dim"], intermediate_dim=config["intermediate_dim"],
        dropout=config["dropout"], max_sequence_length=config["max_sequence_length"],
        dtype=run["policy"])
    model = keras_hub.models.AlbertMaskedLM(backbone, preprocessor=None)
    model.compile(optimizer=optimizer, jit_compile=True, weighted_metrics=[],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = dict(x, mask_positions=mask_positions)
    return model, lambda: model.train_on_batch(x, mlm["mlm_ids"],
                                               sample_weight=mlm["mlm_weights"])


def keras_distill_step(run, smoke):
    import keras

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.distill import Distiller

    keras.mixed_precision.set_global_policy(run["policy"])
    teacher = TextClassifier(CompactBackbone(**model_config("teacher", smoke),
                                             dtype=run["policy"]), num_classes=2)
    student = TextClassifier(CompactBackbone(**model_config("student", smoke),
                                             dtype=run["policy"]), num_classes=2)
    distiller = Distiller(teacher, student, stage=None, layer_mapping="uniform",
                          prediction_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4), jit_compile=True)
    x, _, _ = random_batch(run["batch"], run["seq"], 1000)
    return distiller, lambda: distiller.train_on_batch(x)


def torch_distill_step(run, smoke):
    import torch
    import torch.nn.functional as F
    from transformers import BertConfig
    from transformers import BertForSequenceClassification

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not smoke:
        raise RuntimeError("skipped: torch sees no CUDA device")
    # XLA and TensorFlow run float32 matmuls as TF32 on Ampere and later; same here.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    def bert(role):
        c = model_config(role, smoke)
        return BertForSequenceClassification(BertConfig(
            vocab_size=c["vocabulary_size"], hidden_size=c["hidden_dim"],
            num_hidden_layers=c["num_layers"], num_attention_heads=c["num_heads"],
            intermediate_size=c["intermediate_dim"], num_labels=2,
            max_position_embeddings=c["max_sequence_length"], attn_implementation="eager")
        ).to(device)

    teacher, student = bert("teacher").eval(), bert("student").train()
    t_layers, s_layers = teacher.config.num_hidden_layers, student.config.num_hidden_layers
    mapping = [(m + 1) * t_layers // s_layers for m in range(s_layers)]  # uniform
    fit = torch.nn.Linear(student.config.hidden_size, teacher.config.hidden_size).to(device)
    optimizer = torch.optim.AdamW(list(student.parameters()) + list(fit.parameters()), lr=1e-4)
    x, _, _ = random_batch(run["batch"], run["seq"], 1000)
    inputs = dict(input_ids=torch.from_numpy(x["token_ids"]).long().to(device),
                  token_type_ids=torch.from_numpy(x["segment_ids"]).long().to(device),
                  attention_mask=torch.from_numpy(x["padding_mask"]).long().to(device))
    bf16 = run["policy"] == "mixed_bfloat16"

    def step():
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            with torch.no_grad():
                t = teacher(**inputs, output_hidden_states=True, output_attentions=True)
            s = student(**inputs, output_hidden_states=True, output_attentions=True)
            loss = F.mse_loss(fit(s.hidden_states[0]), t.hidden_states[0])
            for m, n in enumerate(mapping):
                loss = loss + F.mse_loss(fit(s.hidden_states[m + 1]), t.hidden_states[n])
                loss = loss + F.mse_loss(s.attentions[m], t.attentions[n - 1])
            loss = loss + (-F.softmax(t.logits, -1) * F.log_softmax(s.logits, -1)).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the device, like Keras' train_on_batch
    return student, step


def peak_memory_bytes(impl):
    """The process's peak device memory, or None where the runtime does not say."""
    if impl == "pytorch":
        import torch

        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        stats = jax.local_devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use")
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    return None


def run_one(run, smoke):
    """Builds, warms up (compiles) and times one run; prints RESULT <json>."""
    import statistics

    sizes = SMOKE if smoke else FULL
    started = time.perf_counter()
    if run["section"] == "albert_pretrain":
        model, step = albert_step(run, smoke)
    elif run["impl"] == "pytorch":
        model, step = torch_distill_step(run, smoke)
    else:
        model, step = keras_distill_step(run, smoke)
    for _ in range(2):  # trace, compile, allocate
        step()
    compiled_s = time.perf_counter() - started
    times, begin = [], time.perf_counter()
    while len(times) < sizes["steps"] and time.perf_counter() - begin < sizes["seconds"]:
        tick = time.perf_counter()
        step()
        times.append(time.perf_counter() - tick)
    step_s = statistics.median(times)
    tokens_per_s = run["batch"] * run["seq"] / step_s
    result = dict(run, status="ok", steps=len(times), step_ms=1000 * step_s,
                  tokens_per_s=tokens_per_s, build_and_compile_s=compiled_s,
                  model_tflops=tokens_per_s * flops_per_token(run, smoke) / 1e12,
                  peak_memory_bytes=peak_memory_bytes(run["impl"]),
                  parameters=int(sum(p.numel() for p in model.parameters()))
                  if run["impl"] == "pytorch" else int(model.count_params()))
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------ parent
def gpu_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def bf16_peak(name):
    for key, tflops in BF16_PEAK_TFLOPS:
        if name and key in name:
            return tflops
    return None


def launch(runs, args, timeout):
    """Runs configurations in one child process; returns their result dicts.

    A run the child did not finish in `timeout` seconds is reported as timed
    out (the child is killed: a hard guard, also inside an XLA compile).
    """
    command = [sys.executable, os.path.abspath(__file__), "--run", json.dumps(runs),
               "--budget", str(timeout)]
    if args.smoke:
        command.append("--smoke")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        ended = None
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        ended = f"timed out after {timeout:.0f} s"
    done = {}
    for line in output.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            done[result["index"]] = result
    lines = [line for line in output.splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if "skipped:" in line), None)
    reason = reason[reason.index("skipped:"):] if reason else (
        "failed: " + (lines[-1][:200] if lines else f"exit {process.returncode}"))
    return [done.get(i, dict(run, status=ended or reason)) for i, run in enumerate(runs)]


def table(results, peak_tflops):
    lines = ["| step | stack | precision | batch x seq | ms/step | tokens/s | vs peer | "
             "peak memory (GiB) | share of bf16 peak | status |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        peer = next((p for p in results if p is not r and p["section"] == r["section"]
                     and p["policy"] == r["policy"] and p["seq"] == r["seq"]
                     and p.get("tokens_per_s")), None)
        ok = r.get("tokens_per_s")
        ratio = f"{ok / peer['tokens_per_s']:.2f}x" if ok and peer else "-"
        memory = (f"{r['peak_memory_bytes'] / 2**30:.2f}" if r.get("peak_memory_bytes")
                  else "-")
        share = (f"{100 * r['model_tflops'] / peak_tflops:.1f}%"
                 if ok and peak_tflops else "-")
        lines.append(f"| {r['section']} | {r['impl']} | {r['policy']} | {r['batch']} x "
                     f"{r['seq']} | {r['step_ms']:.1f} | {ok:,.0f} | {ratio} | {memory} | "
                     f"{share} | {r['status']} |" if ok else
                     f"| {r['section']} | {r['impl']} | {r['policy']} | {r['batch']} x "
                     f"{r['seq']} | - | - | - | - | - | {r['status']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps (CPU)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for all runs (default 450; 300 with --smoke)")
    parser.add_argument("--json", default=None, help="default: $OUT/gpu_check.json if $OUT is set")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Allocate on demand, so the peak memory read is the run's own.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if args.run:
        runs, end = json.loads(args.run), time.perf_counter() + (args.budget or 1e9)
        for index, run in enumerate(runs):
            left = end - time.perf_counter()
            if left < (SMOKE if args.smoke else FULL)["min_run_s"] / 3:
                status = f"skipped: {left:.0f} s of the budget left"
                print("RESULT " + json.dumps(dict(run, index=index, status=status)), flush=True)
                continue
            try:
                run_one(dict(run, index=index), args.smoke)
            except Exception as error:  # noqa: BLE001 - reported in the table, the rest runs
                message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
                status = message if message.startswith("skipped:") else f"failed: {message}"
                if isinstance(error, ModuleNotFoundError) and error.name:
                    package = error.name.split(".")[0].replace("_", "-")
                    status = f"skipped: {package} is not installed here (pip install {package})"
                    if package == "tensorflow":  # keras_compact's TF-only preprocessing
                        status += "; import keras_compact needs it"
                print("RESULT " + json.dumps(dict(run, index=index, status=status)), flush=True)
        return None
    sizes = SMOKE if args.smoke else FULL
    deadline = time.perf_counter() + (args.budget or (300 if args.smoke else 450))
    name = gpu_name()
    peak = bf16_peak(name)
    print(f"device: {name or 'no NVIDIA GPU (nvidia-smi)'}; dense bf16 peak "
          f"{f'{peak:g} TFLOP/s' if peak else 'unknown'}; KERAS_BACKEND="
          f"{os.environ['KERAS_BACKEND']}{'; SMOKE sizes' if args.smoke else ''}", flush=True)
    runs = plan(args.smoke)
    # Full size: each run in its own process (its own peak memory, a hard
    # timeout each). Smoke: one process for all, since imports dominate on CPU.
    groups = [runs] if args.smoke else [[run] for run in runs]
    results = []
    for group in groups:
        left = deadline - time.perf_counter()
        if left < sizes["min_run_s"]:
            got = [dict(run, status=f"skipped: {left:.0f} s of the budget left") for run in group]
        else:
            got = launch(group, args, left if args.smoke else min(sizes["run_cap_s"], left))
        for run, result in zip(group, got):
            result.pop("index", None)
            results.append(result)
            print(f"- {run['section']} {run['impl']} {run['policy']} {run['batch']}x"
                  f"{run['seq']}: {result['status']}"
                  + (f", {result['tokens_per_s']:,.0f} tokens/s"
                     if result.get("tokens_per_s") else ""), flush=True)
    print()
    print(table(results, peak))
    path = args.json or (os.path.join(os.environ["OUT"], "gpu_check.json")
                         if os.environ.get("OUT") else None)
    if path:
        with open(path, "w") as handle:
            json.dump({"device": name, "bf16_peak_tflops": peak,
                       "keras_backend": os.environ["KERAS_BACKEND"], "smoke": args.smoke,
                       "runs": results}, handle, indent=1)
        print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
