"""The default parallelism follows the machine's memory, capped by AWS's control-plane rates."""

from fleet.capacity import RATE_CEILING, default_parallelism, rate_bound

GB = 2**30


def test_a_16_gb_laptop_runs_about_a_dozen_stacks_at_once():
    assert default_parallelism(16 * GB) == 13  # 16 GB * 0.6 / 750 MB


def test_a_small_machine_still_runs_one():
    assert default_parallelism(1 * GB) == 1


def test_a_big_machine_is_capped_below_the_control_plane_rates():
    assert default_parallelism(512 * GB) == RATE_CEILING <= rate_bound()
