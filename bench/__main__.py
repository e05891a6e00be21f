"""Run every benchmark and print its report."""

import sys

from bench import (
    control_plane,
    edge_load,
    edge_tls,
    fleet_bounds,
    generator,
    inference_handler,
    leaderboard,
    program_eval,
    rehearsal_scale,
    retraining,
    topology,
    training,
)

if __name__ == "__main__":
    sizes = [int(n) for n in sys.argv[1:]] or None
    program_eval.main(sizes)
    generator.main()
    control_plane.main()
    fleet_bounds.main()
    topology.main()
    inference_handler.main()
    edge_load.main()
    edge_tls.main()
    training.main()
    retraining.main()
    leaderboard.main()
    rehearsal_scale.main()  # whole rehearsals of 3, 30 and 100: the slowest, last
