"""Evidence about explanations: faithfulness against ground truth (faithfulness.py), speed beside the other
methods (bench.py, gpu_bench.py), the metrics they share (metrics.py) and the methods compared, behind one
interface (methods/)."""
