"""One TinyBERT distillation step: keras_compact's Distiller against the same
step written with transformers' models on PyTorch.

Teacher: the all-MiniLM-L6-v2 checkpoint (6 layers, H=384, 12 heads) with a
2-class head; student: TinyBERT-4's shape (4 layers, H=312, 12 heads, FFN
1200, the same 30,522-token vocabulary). One step = teacher forward (no
gradients) + student forward and backward + AdamW update, with TinyBERT's
losses all on: embedding MSE, hidden MSE and pre-softmax attention-score MSE
over the uniform layer mapping (student layers 1-4 -> teacher 1, 3, 4, 6),
projections W_e / W_h (312 -> 384), and soft cross-entropy on the logits.

PyTorch side: transformers' `BertForSequenceClassification` for both
models, as TinyBERT's and TextBrewer's code use them. transformers returns
post-softmax attention probabilities, so the pre-softmax scores come from
forward hooks on the query / key projections (Q K^T / sqrt(d) + mask), one
extra small matmul per layer, as TinyBERT's modified BERT computes them.

Float32, batch 16, sequence 128 by default; prints the median step time of
each and the ratio, from one run (each side alternates rounds):

    python tools/benchmarks/bench_distill_step.py [--batch 16] [--steps 5] [--rounds 3]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STUDENT = dict(num_layers=4, num_heads=12, hidden_dim=312, intermediate_dim=1200)


def batch_arrays(batch, seq_len, vocab, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_len // 2, seq_len + 1, batch)
    mask = (np.arange(seq_len)[None, :] < lengths[:, None]).astype("int32")
    ids = rng.integers(1000, vocab, (batch, seq_len)).astype("int32") * mask
    ids[:, 0] = 101
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}


def keras_step(features, threads):
    import keras

    import deploy_models
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact.distill import Distiller

    teacher_backbone, _ = deploy_models.minilm_backbone()
    teacher = TextClassifier(teacher_backbone, num_classes=2, dropout=0.1)
    student = TextClassifier(CompactBackbone(
        vocabulary_size=teacher_backbone.vocabulary_size, embedding_dim=None,
        sharing="none", max_sequence_length=512, activation="gelu", **STUDENT),
        num_classes=2, dropout=0.1)
    distiller = Distiller(teacher, student, stage=None, layer_mapping="uniform",
                          prediction_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.AdamW(1e-4))

    def step():
        distiller.train_on_batch(features)
    return step, distiller.teacher_layers


def torch_step(features, threads, teacher_layers):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from transformers import BertConfig
    from transformers import BertForSequenceClassification

    import deploy_models

    torch.set_num_threads(threads)
    teacher = BertForSequenceClassification.from_pretrained(
        deploy_models.minilm_dir(), num_labels=2, attn_implementation="eager").eval()
    config = BertConfig(vocab_size=teacher.config.vocab_size, hidden_size=STUDENT["hidden_dim"],
                        num_hidden_layers=STUDENT["num_layers"],
                        num_attention_heads=STUDENT["num_heads"],
                        intermediate_size=STUDENT["intermediate_dim"], num_labels=2,
                        attn_implementation="eager")
    student = BertForSequenceClassification(config).train()
    fit_embedding = torch.nn.Linear(config.hidden_size, teacher.config.hidden_size)
    fit_hidden = torch.nn.Linear(config.hidden_size, teacher.config.hidden_size)
    params = (list(student.parameters()) + list(fit_embedding.parameters())
              + list(fit_hidden.parameters()))
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    def score_hooks(model):
        """Captures Q and K per layer; returns a function giving the scores."""
        captured = {}
        heads = model.config.num_attention_heads
        for index, layer in enumerate(model.bert.encoder.layer):
            attention = layer.attention.self
            attention.query.register_forward_hook(
                lambda m, i, o, index=index: captured.__setitem__(("q", index), o))
            attention.key.register_forward_hook(
                lambda m, i, o, index=index: captured.__setitem__(("k", index), o))

        def scores(index, mask):
            q, k = captured[("q", index)], captured[("k", index)]
            b, t, width = q.shape
            q = q.view(b, t, heads, width // heads).transpose(1, 2)
            k = k.view(b, t, heads, width // heads).transpose(1, 2)
            raw = q @ k.transpose(-1, -2) / (width // heads) ** 0.5
            return raw.masked_fill(mask[:, None, None, :] == 0, -1e4)
        return scores

    teacher_scores, student_scores = score_hooks(teacher), score_hooks(student)
    ids = torch.from_numpy(features["token_ids"].astype(np.int64))
    segments = torch.from_numpy(features["segment_ids"].astype(np.int64))
    mask = torch.from_numpy(features["padding_mask"].astype(np.int64))
    inputs = dict(input_ids=ids, token_type_ids=segments, attention_mask=mask)

    def step():
        with torch.no_grad():
            t_out = teacher(**inputs, output_hidden_states=True)
            t_att = [teacher_scores(n - 1, mask) for n in teacher_layers]
        s_out = student(**inputs, output_hidden_states=True)
        loss = F.mse_loss(fit_embedding(s_out.hidden_states[0]), t_out.hidden_states[0])
        for m, n in enumerate(teacher_layers):
            loss = loss + F.mse_loss(fit_hidden(s_out.hidden_states[m + 1]),
                                     t_out.hidden_states[n])
            s_att = student_scores(m, mask)
            pairs = (mask[:, None, :, None] * mask[:, None, None, :]).float()
            loss = loss + ((s_att - t_att[m]) ** 2 * pairs).sum() / (
                pairs.sum() * s_att.shape[1])
        loss = loss + (-F.softmax(t_out.logits, -1)
                       * F.log_softmax(s_out.logits, -1)).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores")
    args = parser.parse_args()
    threads = args.threads or os.cpu_count()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    features = batch_arrays(args.batch, args.seq_len, 30522)
    keras_run, teacher_layers = keras_step(features, threads)
    torch_run = torch_step(features, threads, teacher_layers)
    times = {"keras_compact": [], "pytorch": []}
    for run in (keras_run, torch_run):
        run()  # warm-up: tracing / allocation
    for _ in range(args.rounds):
        for name, run in (("keras_compact", keras_run), ("pytorch", torch_run)):
            for _ in range(args.steps):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    print(f"distillation step: MiniLM-L6 teacher -> TinyBERT-4-shaped student, batch "
          f"{args.batch}, sequence {args.seq_len}, float32, {threads} thread(s), "
          f"teacher layers {list(teacher_layers)}")
    print("| stack | ms / step (median) | examples/s |")
    print("|---|---|---|")
    for name, value in ms.items():
        print(f"| {name} | {value:.0f} | {1000 * args.batch / value:.1f} |")
    print(f"- keras_compact vs PyTorch: {ms['pytorch'] / ms['keras_compact']:.2f}x "
          "(goal >= 1.00x)")


if __name__ == "__main__":
    main()
