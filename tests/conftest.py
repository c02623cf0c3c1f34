import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import autoq  # noqa: E402,F401 -- first, as for users: settles tf.keras before any test module imports TensorFlow
