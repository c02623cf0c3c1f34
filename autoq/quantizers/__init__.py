"""The quantizer stage: quantizer specs as text (parse, validate, expand, build the QKeras object) and autoq's own
trainable quantizers (QIL), each folded to a fixed-point QKeras quantizer for pricing and export."""
from .spec import (KNOWN, MAX_EXPANSION, ROLES, QuantizerSpec, custom_objects, expand, name_bits_invalid, parse,  # noqa: F401
                   parse_list)


def __getattr__(name):  # autoq.quantizers.QIL without importing TensorFlow at import time
    if name == "QIL":
        from .qil import QIL
        return QIL
    raise AttributeError(name)
