"""The output scale's shallower network (``output_depth``): which scales it cuts, and a real job with it."""

from __future__ import annotations

import pytest

from styletransfer import StyleConfig
from styletransfer.output_scale import CONTENT_SHARE, is_shallow, scale_config

from .conftest import EXAMPLES


def test_only_the_output_scale_of_a_multi_scale_job_is_cut():
    config = StyleConfig(output_depth="relu3_1")
    assert [is_shallow(config, scale, 3) for scale in range(3)] == [False, False, True]
    assert not is_shallow(config, 0, 1)  # one scale: nothing coarser settled the deep layers
    assert not is_shallow(StyleConfig(), 2, 3)  # the default keeps the whole network
    cut = scale_config(config, 2, 3)
    assert cut.style_layers == ("relu1_1", "relu2_1", "relu3_1")
    assert cut.layer_weights == {"relu1_1": 256, "relu2_1": 64, "relu3_1": 16}  # the job's own weights, kept
    assert cut.content_layers == ("relu3_1",) and cut.network_layers[-1] == "relu3_1"
    assert cut.content_weight == pytest.approx(config.content_weight * CONTENT_SHARE)


def test_a_cut_that_would_leave_no_style_layer_changes_nothing():
    config = StyleConfig(output_depth="relu3_1", style_layers=("relu4_1", "relu5_1"))
    assert scale_config(config, 2, 3) is config


def test_a_job_with_the_shallower_output_scale_runs_it_there(stylizer, monkeypatch):
    built = []
    network = stylizer.network

    def recorded(layers, pooling):
        built.append(tuple(layers))
        return network(layers, pooling)

    monkeypatch.setattr(stylizer, "network", recorded)
    config = StyleConfig(size=96, min_size=48, scales=2, iterations=4, coarse_iterations=4, output_depth="relu3_1")
    events = list(stylizer.stylize(EXAMPLES / "cat.jpg", EXAMPLES / "style_swirls.jpg", config))
    assert events[-1].final and events[-1].image.size == (96, 64)
    assert built == [config.network_layers, ("relu3_1", "relu1_1", "relu2_1", "relu3_1")]
    fractions = [event.fraction_done for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
