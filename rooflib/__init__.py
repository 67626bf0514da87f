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
from .context import (PrefillStep, attention_flops, attention_intensity, cache_equals_weights_context,
                      compute_bound_batch, context_for_kv_bytes, crossover_context, decode_intensity,
                      goldilocks_context, max_context, mfu_ceiling, prefill_intensity, prefill_step,
                      recompute_flops, recompute_to_read_ratio, topk_decode_step, topk_read_bytes)
from .kv import attention_designs, kv_bytes, kv_bytes_per_token, redesign
from .models import MODELS, Model, model
from .moe import (SCALEOUT_BANDWIDTH, MoEDecodeStep, all_to_all_time, chips_needed, comm_exposed_batch,
                  experts_touched, moe_decode_step, moe_weight_bytes_read, tp_comm_ratio)
from .pipeline import (bubble_fraction, kv_batch_ceiling, kv_crossover_stages, max_microbatch, min_stages,
                       pipeline_decode, pipeline_schedule, stage_memory)
from .prices import PRICE_SHEETS, PriceSheet, implied_kv_bytes_per_token, price_sheet, read_price_sheet
from .roofline import (DecodeStep, cost_per_token, critical_intensity, decode_step, max_batch,
                       memory_turnover, optimal_batch, weight_bytes)
from .training import (balanced_pretraining_tokens, chinchilla_optimal, chinchilla_tokens, implied_mfu,
                       inference_flops_per_token, lifetime_compute, lifetime_optimum, overtraining_factor,
                       training_chip_hours, training_flops, training_time)
from .units import (bytes_per_element, fmt_bandwidth, fmt_bytes, fmt_count, fmt_dollars, fmt_flops,
                    fmt_time)

__all__ = [
    "UnknownNameError", "CHIPS", "Hardware", "hardware", "rack", "kv_bytes", "kv_bytes_per_token",
    "attention_designs", "redesign", "PrefillStep", "attention_flops", "attention_intensity",
    "cache_equals_weights_context", "compute_bound_batch", "context_for_kv_bytes", "crossover_context",
    "decode_intensity", "goldilocks_context", "max_context", "mfu_ceiling", "prefill_intensity",
    "prefill_step", "recompute_flops", "recompute_to_read_ratio", "topk_decode_step", "topk_read_bytes",
    "MODELS", "Model", "model", "PRICE_SHEETS", "PriceSheet", "implied_kv_bytes_per_token", "price_sheet",
    "read_price_sheet", "SCALEOUT_BANDWIDTH", "MoEDecodeStep", "all_to_all_time", "chips_needed",
    "comm_exposed_batch", "experts_touched", "moe_decode_step", "moe_weight_bytes_read", "tp_comm_ratio",
    "balanced_pretraining_tokens", "chinchilla_optimal", "implied_mfu", "lifetime_compute",
    "lifetime_optimum", "overtraining_factor", "training_chip_hours", "training_time", "bubble_fraction", "kv_batch_ceiling", "kv_crossover_stages",
    "max_microbatch", "min_stages", "pipeline_decode", "pipeline_schedule", "stage_memory", "DecodeStep", "cost_per_token", "critical_intensity", "decode_step",
    "max_batch", "memory_turnover", "optimal_batch", "weight_bytes", "chinchilla_tokens",
    "inference_flops_per_token", "training_flops", "bytes_per_element", "fmt_bandwidth", "fmt_bytes",
    "fmt_count", "fmt_dollars", "fmt_flops", "fmt_time",
]
