"""The one model-graph walk (autoq.graph.rebuild) on real Keras models: a Sequential and a two-input functional model
come back with the same layer names, weights and outputs; a hook's replacement layer is the one the new model uses."""
import numpy as np
import tensorflow as tf

from helpers_models import bn_mlp

from autoq.graph import rebuild


def _sequential():
    tf.keras.utils.set_random_seed(1)
    return tf.keras.Sequential([
        tf.keras.layers.Dense(16, activation="relu", input_shape=(8,), name="fc1"),
        tf.keras.layers.Dense(8, name="fc2"), tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Dropout(0.1, name="drop"), tf.keras.layers.Dense(3, activation="softmax", name="out"),
    ], name="seq")


def _two_inputs():
    """Inputs a (6) and b (4); b feeds two Dense layers; two outputs."""
    tf.keras.utils.set_random_seed(5)
    a, b = tf.keras.Input((6,), name="a"), tf.keras.Input((4,), name="b")
    ha = tf.keras.layers.Dense(8, activation="relu", name="fa")(a)
    ha = tf.keras.layers.Dense(8, activation="relu", name="fa2")(ha)
    hb = tf.keras.layers.Dense(8, activation="relu", name="fb")(b)
    hb2 = tf.keras.layers.Dense(8, name="fb2")(b)
    h = tf.keras.layers.Concatenate(name="cat")([ha, hb, hb2])
    return tf.keras.Model([a, b], [tf.keras.layers.Dense(3, name="o1")(h), tf.keras.layers.Dense(2, name="o2")(h)],
                          name="two")


def _same(old, new, x):
    assert [l.name for l in new.layers if type(l).__name__ != "InputLayer"] == [
        l.name for l in old.layers if type(l).__name__ != "InputLayer"]
    for lo, ln in zip([l for l in old.layers if l.weights], [l for l in new.layers if l.weights]):
        for u, v in zip(lo.get_weights(), ln.get_weights()):
            np.testing.assert_array_equal(u, v)
    for u, v in zip(tf.nest.flatten(old(x)), tf.nest.flatten(new(x))):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_sequential_comes_back_functional_and_equal():
    model = _sequential()
    new, walk = rebuild(model)
    assert not isinstance(new, tf.keras.Sequential) and new.name == "seq"
    assert new.input_names == ["seq_input"] and walk.inbound["fc1"] == ["seq_input"]
    _same(model, new, np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32))
    assert all(new.get_layer(n) is walk.new[n] for n in ("fc1", "bn", "out"))


def test_functional_model_with_two_inputs_and_a_hook():
    model = _two_inputs()
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(5, 6)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)]
    new, walk = rebuild(model, name="copy")
    assert new.name == "copy" and new.input_names == ["a", "b"] and new.output_names == ["o1", "o2"]
    assert walk.reads_input("fa") == "a" and walk.reads_input("fb2") == "b" and walk.reads_input("cat") is None
    _same(model, new, x)

    seen = {}

    def negate_fb(layer, t, walk):  # fb becomes a Dense of the opposite weights; every other layer copied
        seen[layer.name] = walk.inbound[layer.name]
        if layer.name != "fb":
            return None
        neg = tf.keras.layers.Dense(8, activation="relu", name="fb_neg")
        y = neg(t)
        neg.set_weights([-w for w in layer.get_weights()])
        walk.new[layer.name] = neg
        return y

    hooked, walk = rebuild(model, negate_fb, input_names={"b": "b_renamed"})
    assert seen["cat"] == ["fa2", "fb", "fb2"] and "a" not in seen  # inputs are the walk's own
    assert hooked.input_names == ["a", "b_renamed"]
    assert "fb_neg" in [l.name for l in hooked.layers] and "fb" not in [l.name for l in hooked.layers]
    assert hooked.get_layer("fb_neg") is walk.new["fb"]
    model.get_layer("fb").set_weights([-w for w in model.get_layer("fb").get_weights()])  # the expected model
    for u, v in zip(model(x), hooked(x)):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_weights_left_to_the_caller_when_asked():
    model = bn_mlp()
    new, walk = rebuild(model, copy_weights=False)
    assert [old.name for old, _ in walk.copied] == ["fc1", "fc2", "bn", "act2", "out"]
    assert not np.array_equal(new.get_layer("fc1").get_weights()[0], model.get_layer("fc1").get_weights()[0])
