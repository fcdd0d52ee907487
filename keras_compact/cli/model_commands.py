"""`keras-compact summary`: build a model and inspect it."""

import json


def _add_model_arguments(parser):
    parser.add_argument(
        "--preset",
        default="albert_base",
        help="Preset name (albert_base, albert_large, albert_xlarge, "
        "albert_xxlarge, bert_base, bert_large, tinybert_4, tinybert_6).",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="JSON object of CompactBackbone arguments; overrides the preset's "
        'values, e.g. \'{"num_layers": 4, "sharing": "ffn"}\'.',
    )


def parse_config_json(config_json, flag="--config"):
    """Parses a JSON object of CompactBackbone arguments given as `flag`.

    Unknown keys are an error naming the key and the closest valid one
    (`keras_compact.models.backbone.check_config_keys`).
    """
    if config_json is None:
        return {}
    try:
        overrides = json.loads(config_json)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{flag} is not valid JSON ({error.msg}): {config_json!r}. "
            'Pass an object such as \'{"num_layers": 4}\'.'
        ) from None
    if not isinstance(overrides, dict):
        raise ValueError(f"{flag} must be a JSON object, got {config_json!r}.")
    from keras_compact.models.backbone import check_config_keys

    check_config_keys(overrides, flag)
    return overrides


def build_backbone(preset, config_json=None):
    """Builds a backbone from a preset name and optional JSON overrides."""
    from keras_compact.models import CompactBackbone

    return CompactBackbone.from_preset(preset, **parse_config_json(config_json))


def run_summary(args):
    backbone = build_backbone(args.preset, args.config)
    backbone.summary(expand_nested=args.expand)
    print(f"{args.preset}: {backbone.count_params():,} parameters")
    return 0


def register(subparsers):
    summary = subparsers.add_parser(
        "summary", help="Print a preset's layers and parameter count."
    )
    _add_model_arguments(summary)
    summary.add_argument(
        "--expand", action="store_true", help="Expand nested layers."
    )
    summary.set_defaults(func=run_summary)
