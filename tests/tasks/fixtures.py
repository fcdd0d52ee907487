"""Small labelled files in every supported format, written by the tests."""

import csv
import gzip
import json
import os

# Two well-separated classes, so a tiny model can learn them in a few steps.
POSITIVE = ["a wonderful and delightful film", "great acting and a great story",
            "I loved every minute of it", "brilliant, moving and funny",
            "a superb cast and a lovely score", "truly excellent work"]
NEGATIVE = ["a dull and boring mess", "terrible acting and an awful plot",
            "I hated every minute of it", "tedious, clumsy and flat",
            "a weak cast and a dreadful score", "truly awful work"]


def single_rows(repeat=4):
    rows = []
    for _ in range(repeat):
        rows += [{"sentence": t, "label": "pos"} for t in POSITIVE]
        rows += [{"sentence": t, "label": "neg"} for t in NEGATIVE]
    return rows


def pair_rows(repeat=4, regression=False):
    rows = []
    for _ in range(repeat):
        for a, b in zip(POSITIVE, NEGATIVE):
            rows.append({"premise": a, "hypothesis": a.upper(),
                         "label": 4.8 if regression else "same"})
            rows.append({"premise": a, "hypothesis": b,
                         "label": 0.4 if regression else "different"})
    return rows


def write_rows(path, rows, fmt=None):
    """Writes dict rows as .csv/.tsv/.jsonl (gzipped when the name ends .gz)."""
    path = str(path)
    fmt = fmt or path.replace(".gz", "").rsplit(".", 1)[-1]
    opener = gzip.open if path.endswith(".gz") else open
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            for row in rows:
                handle.write(json.dumps(row) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]),
                                    delimiter="," if fmt == "csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)
    return path


def write_glue(root, task):
    """A tiny GLUE folder (train, dev, test) in the real file layout."""
    folders = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B",
               "mnli": "MNLI", "rte": "RTE"}
    folder = os.path.join(str(root), folders[task])
    os.makedirs(folder, exist_ok=True)

    def tsv(name, header, rows):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            if header:
                handle.write("\t".join(header) + "\n")
            for row in rows:
                handle.write("\t".join(str(v) for v in row) + "\n")

    pos, neg = POSITIVE * 3, NEGATIVE * 3
    if task == "cola":
        rows = [("src", 1, "", t) for t in pos] + [("src", 0, "*", t) for t in neg]
        tsv("train.tsv", None, rows)
        tsv("dev.tsv", None, rows[::3])
        tsv("test.tsv", ("index", "sentence"), [(i, t) for i, t in enumerate(pos[:3])])
    elif task == "sst2":
        rows = [(t, 1) for t in pos] + [(t, 0) for t in neg]
        tsv("train.tsv", ("sentence", "label"), rows)
        tsv("dev.tsv", ("sentence", "label"), rows[::3])
    elif task == "mrpc":
        header = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
        rows = [(1, i, i, a, a + " indeed") for i, a in enumerate(pos)] + [
            (0, i, i, a, b) for i, (a, b) in enumerate(zip(pos, neg))]
        tsv("train.tsv", header, rows)
        tsv("dev.tsv", header, rows[::3])
    elif task == "stsb":
        header = ("index", "genre", "filename", "year", "old_index", "source1", "source2",
                  "sentence1", "sentence2", "score")
        rows = [(i, "g", "f", 2012, i, "s", "s", a, a, 4.75) for i, a in enumerate(pos)] + [
            (i, "g", "f", 2012, i, "s", "s", a, b, 0.5) for i, (a, b) in enumerate(zip(pos, neg))]
        tsv("train.tsv", header, rows)
        tsv("dev.tsv", header, rows[::3])
    elif task == "mnli":
        header = ("index", "promptID", "pairID", "genre", "sentence1_binary_parse",
                  "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
                  "sentence1", "sentence2", "label1", "gold_label")
        labels = ["entailment", "contradiction", "neutral"]
        rows = [(i, 0, 0, "g", "", "", "", "", a, b, labels[i % 3], labels[i % 3])
                for i, (a, b) in enumerate(zip(pos + neg, neg + pos))]
        tsv("train.tsv", header, rows)
        tsv("dev_matched.tsv", header, rows[::3])
        tsv("dev_mismatched.tsv", header, rows[1::3])
    elif task == "rte":
        header = ("index", "sentence1", "sentence2", "label")
        rows = [(i, a, a, "entailment") for i, a in enumerate(pos)] + [
            (i, a, b, "not_entailment") for i, (a, b) in enumerate(zip(pos, neg))]
        tsv("train.tsv", header, rows)
        tsv("dev.tsv", header, rows[::3])
    return str(root)
