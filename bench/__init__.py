"""teabox's benchmark suite: ``python bench/run.py [--quick]`` writes bench/results/."""
