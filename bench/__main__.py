"""Run every benchmark and print its report."""

import sys

from bench import generator, program_eval

if __name__ == "__main__":
    sizes = [int(n) for n in sys.argv[1:]] or None
    program_eval.main(sizes)
    generator.main()
