"""rooflib: the roofline economics of large language models, in a library you can read in one sitting.

    import rooflib as rl
    h100, llama = rl.hardware("h100"), rl.model("llama-3.1-70b")
    rl.critical_intensity(h100)                           # 295 FLOP/byte
    step = rl.decode_step(llama, h100, batch=64, context=4096, chips=4)
    step.compute, step.weights, step.kv, step.time, step.bound

SI units everywhere (seconds, bytes, FLOP, FLOP/s, bytes/s, dollars); `units.fmt_*` for display.
"""
from .errors import UnknownNameError
from .hardware import CHIPS, Hardware, hardware, rack
from .kv import kv_bytes, kv_bytes_per_token
from .models import MODELS, Model, model
from .roofline import (DecodeStep, cost_per_token, critical_intensity, decode_step, max_batch,
                       memory_turnover, optimal_batch, weight_bytes)
from .training import chinchilla_tokens, inference_flops_per_token, training_flops
from .units import (bytes_per_element, fmt_bandwidth, fmt_bytes, fmt_count, fmt_dollars, fmt_flops,
                    fmt_time)

__all__ = [
    "UnknownNameError", "CHIPS", "Hardware", "hardware", "rack", "kv_bytes", "kv_bytes_per_token",
    "MODELS", "Model", "model", "DecodeStep", "cost_per_token", "critical_intensity", "decode_step",
    "max_batch", "memory_turnover", "optimal_batch", "weight_bytes", "chinchilla_tokens",
    "inference_flops_per_token", "training_flops", "bytes_per_element", "fmt_bandwidth", "fmt_bytes",
    "fmt_count", "fmt_dollars", "fmt_flops", "fmt_time",
]
