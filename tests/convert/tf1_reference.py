"""Writes a Hugging Face ALBERT's weights as a google-research/albert TF1
checkpoint, under the variable names that repository's code creates."""

import json

import numpy as np


def _linear(state, hf_name, tf1_scope):
    """torch Linear (out, in) -> TF1 dense kernel (in, out) and bias."""
    return {
        f"{tf1_scope}/kernel": state[f"{hf_name}.weight"].T,
        f"{tf1_scope}/bias": state[f"{hf_name}.bias"],
    }


def _layer_norm(state, hf_name, tf1_scope):
    return {
        f"{tf1_scope}/gamma": state[f"{hf_name}.weight"],
        f"{tf1_scope}/beta": state[f"{hf_name}.bias"],
    }


def tf1_variables(hf_model, with_projection=True):
    """{TF1 variable name: array} for an HF `AlbertForPreTraining`."""
    state = {k: v.detach().numpy().copy() for k, v in hf_model.state_dict().items()}
    config = hf_model.config
    variables = {
        "bert/embeddings/word_embeddings": state[
            "albert.embeddings.word_embeddings.weight"
        ],
        "bert/embeddings/position_embeddings": state[
            "albert.embeddings.position_embeddings.weight"
        ],
        "bert/embeddings/token_type_embeddings": state[
            "albert.embeddings.token_type_embeddings.weight"
        ],
        "global_step": np.array(1000, dtype=np.int64),
    }
    variables.update(
        _layer_norm(state, "albert.embeddings.LayerNorm", "bert/embeddings/LayerNorm")
    )
    if with_projection:
        variables.update(
            _linear(
                state,
                "albert.encoder.embedding_hidden_mapping_in",
                "bert/encoder/embedding_hidden_mapping_in",
            )
        )
    for group in range(config.num_hidden_groups):
        for inner in range(config.inner_group_num):
            hf = f"albert.encoder.albert_layer_groups.{group}.albert_layers.{inner}"
            tf1 = f"bert/encoder/transformer/group_{group}/inner_group_{inner}"
            for name in ("query", "key", "value"):
                variables.update(
                    _linear(
                        state,
                        f"{hf}.attention.{name}",
                        f"{tf1}/attention_1/self/{name}",
                    )
                )
            variables.update(
                _linear(
                    state, f"{hf}.attention.dense", f"{tf1}/attention_1/output/dense"
                )
            )
            variables.update(
                _layer_norm(state, f"{hf}.attention.LayerNorm", f"{tf1}/LayerNorm")
            )
            variables.update(
                _linear(state, f"{hf}.ffn", f"{tf1}/ffn_1/intermediate/dense")
            )
            variables.update(
                _linear(
                    state, f"{hf}.ffn_output", f"{tf1}/ffn_1/intermediate/output/dense"
                )
            )
            variables.update(
                _layer_norm(state, f"{hf}.full_layer_layer_norm", f"{tf1}/LayerNorm_1")
            )
    variables.update(_linear(state, "albert.pooler", "bert/pooler/dense"))
    variables.update(
        _linear(state, "predictions.dense", "cls/predictions/transform/dense")
    )
    variables.update(
        _layer_norm(
            state, "predictions.LayerNorm", "cls/predictions/transform/LayerNorm"
        )
    )
    variables["cls/predictions/output_bias"] = state["predictions.bias"]
    # Stored (2, H), as run_pretraining.py creates it.
    variables["cls/seq_relationship/output_weights"] = state[
        "sop_classifier.classifier.weight"
    ]
    variables["cls/seq_relationship/output_bias"] = state[
        "sop_classifier.classifier.bias"
    ]
    # An optimizer slot, which importers must ignore.
    variables["bert/pooler/dense/kernel/adam_m"] = np.zeros_like(
        variables["bert/pooler/dense/kernel"]
    )
    return variables


def write_tf1_checkpoint(variables, prefix, scope=""):
    """Saves {name: array} with a TF1 `Saver`, names exactly as given."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        var_list = {
            scope + name: tf.compat.v1.Variable(value, name=f"v{index}")
            for index, (name, value) in enumerate(variables.items())
        }
        saver = tf.compat.v1.train.Saver(var_list=var_list)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, str(prefix), write_meta_graph=False)


def write_albert_config(hf_config, path):
    """google-research/albert's albert_config.json ("gelu" = tanh GELU)."""
    config = {
        "vocab_size": hf_config.vocab_size,
        "embedding_size": hf_config.embedding_size,
        "hidden_size": hf_config.hidden_size,
        "num_hidden_layers": hf_config.num_hidden_layers,
        "num_hidden_groups": hf_config.num_hidden_groups,
        "num_attention_heads": hf_config.num_attention_heads,
        "intermediate_size": hf_config.intermediate_size,
        "inner_group_num": hf_config.inner_group_num,
        "down_scale_factor": 1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0,
        "attention_probs_dropout_prob": 0,
        "max_position_embeddings": hf_config.max_position_embeddings,
        "type_vocab_size": hf_config.type_vocab_size,
        "initializer_range": 0.02,
    }
    with open(path, "w") as handle:
        json.dump(config, handle)
    return path
