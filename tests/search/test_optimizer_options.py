"""Optimizer options are checked against the optimizer's constructor, at config time, with a clear message."""

import pytest

from emotune.exceptions import ConfigError, RegistryError
from emotune.experiments.config import TuneConfig
from emotune.search.optimizers import check_optimizer_options, make_optimizer


def test_an_option_the_optimizer_does_not_take_is_named_with_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"'random' takes no option 'pop_size'; its options are: none"):
        make_optimizer("random", 3, budget=10, seed=0, pop_size=10)
    with pytest.raises(ConfigError, match=r"'lwaro' takes no option 'popsize'.*pop_size"):
        check_optimizer_options("lwaro", {"popsize": 10})
    with pytest.raises(RegistryError):
        check_optimizer_options("no-such-optimizer", {})
    check_optimizer_options("lwaro", {"pop_size": 10, "rho0": 0.5})  # accepted: no error
    assert make_optimizer("ipso", 3, budget=10, seed=0, pop_size=4).pop_size == 4


def test_tune_config_refuses_it_before_any_data_is_read():
    with pytest.raises(ConfigError, match="takes no option 'pop_size'"):
        TuneConfig(dataset="tweets", optimizer="random", optimizer_options={"pop_size": 10})
    assert TuneConfig(dataset="tweets", optimizer="lwaro", optimizer_options={"pop_size": 4}).optimizer_options == {
        "pop_size": 4}
