"""Workers: claim staged tasks, stage their data, run the payload, publish the outputs."""
