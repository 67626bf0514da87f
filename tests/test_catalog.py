"""Catalog entries pinned to their published numbers (sources in rooflib and in each comment)."""
import pytest

import rooflib as rl
from rooflib.units import GB, GiB, TB

SCALING_BOOK = "https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md"


@pytest.mark.parametrize("name, bf16_tflops, hbm_tbs, hbm_bytes, scaleup_one_way_gbs, domain", [
    # jax-ml scaling-book gpus.md 'Summary of GPU specs'; nvidia.com/en-us/data-center/h100 (sparse 1,979 / 2)
    ("H100", 989.4, 3.35, 80 * GB, 450, 8),
    # DeepSeek open-infra-index day 6 ('8 H800 GPUs' per node); NVLink cut to 400 GB/s bidirectional
    ("H800", 989.4, 3.35, 80 * GB, 200, 8),
    # scaling book; MLPerf v4.1 systems/H200-SXM-141GBx8_TRT.json ('18x 4th Gen NVLink, 900GB/s')
    ("H200", 989.4, 4.8, 141 * GB, 450, 8),
    # glennklockwood.com/garden/processors/B200 (HGX B200 1000 W); MLPerf v5.1 'B200-SXM-180GB'
    ("B200", 2250, 8.0, 180 * GB, 900, 8),
    # glennklockwood.com B200 page, GB200 1200 W column; MLPerf v5.1 'GB200-186GB'
    ("GB200", 2500, 8.0, 186 * GB, 900, 72),
    # verda.com/blog/gb300-nvl72-architecture (dense table)
    ("GB300", 2500, 8.0, 288 * GB, 900, 72),
    # rocm.docs.amd.com MI300 peak table: 1307.4 TFLOP/s matrix bf16, 5.3 TB/s
    ("MI300X", 1307.4, 5.3, 192 * GB, 448, 8),
    ("MI325X", 1307.4, 6.0, 256 * GB, 448, 8),
    ("MI355X", 2516.6, 8.0, 288 * GB, 537.6, 8),
    # docs.cloud.google.com/tpu/docs/v5e, v5p, v6e, tpu7x
    ("TPU v5e", 197, 0.819, 16 * GB, 200, 256),
    ("TPU v5p", 459, 2.765, 95 * GiB, 600, 8960),
    ("TPU v6e", 918, 1.638, 32 * GB, 400, 256),
    ("Ironwood", 2307, 7.38, 192 * GiB, 600, 9216),
])
def test_chip_specs(name, bf16_tflops, hbm_tbs, hbm_bytes, scaleup_one_way_gbs, domain):
    h = rl.hardware(name)
    assert h.flops["bf16"] == pytest.approx(bf16_tflops * 1e12)
    assert h.hbm_bandwidth == pytest.approx(hbm_tbs * TB)
    assert h.hbm_capacity == pytest.approx(hbm_bytes)
    assert h.scaleup_bandwidth == pytest.approx(scaleup_one_way_gbs * GB)
    assert h.scaleup_size == domain
    assert h.source.startswith("https://")


def test_dense_not_sparse_flops():
    # Vendor headline numbers are 2:4-sparse: H100 '3,958 TFLOPS fp8' and '1,979 bf16' are 2x dense.
    h = rl.hardware("H100")
    assert 2 * h.flops["bf16"] == pytest.approx(1978.8e12, rel=1e-3)
    assert 2 * h.flops["fp8"] == pytest.approx(3957.8e12, rel=1e-3)
    assert "fp4" not in h.flops  # Hopper has no fp4 tensor cores


def test_critical_intensity_published():
    # Scaling book worked answers: H100 990e12 / 3.35e12 = 295; B200 2250e12 / 8e12 = 281.
    assert rl.critical_intensity(rl.hardware("h100")) == pytest.approx(295, abs=0.5)
    assert rl.critical_intensity(rl.hardware("B200")) == pytest.approx(281, abs=0.5)
    assert rl.critical_intensity(rl.hardware("H200")) == pytest.approx(206, abs=0.5)  # 989.4 / 4.8


def test_nvl72_rack():
    # aiwiki.ai/wiki/nvidia_gb200_nvl72: 72 GPUs, 13.4 TB HBM, 576 TB/s; rack bf16 dense 180 PF
    r = rl.hardware("GB200 NVL72")
    assert r.chips == 72
    assert r.hbm_capacity == pytest.approx(13.4e12, rel=0.01)
    assert r.hbm_bandwidth == pytest.approx(576e12)
    assert r.flops["bf16"] == pytest.approx(180e15)
    assert rl.critical_intensity(r) == pytest.approx(rl.critical_intensity("GB200"))


@pytest.mark.parametrize("alias", ["h100", "H100-SXM", "h100 sxm", "H100_SXM5", "Hopper"])
def test_hardware_aliases(alias):
    assert rl.hardware(alias).name == "H100 SXM"


@pytest.mark.parametrize("name, total, rel_total, active, rel_active", [
    # DeepSeek-V3 README: 671B total, 37B active
    ("deepseek-v3", 671e9, 0.005, 37e9, 0.02),
    # Kimi K2 README: '1T' total, 32B active (the config gives 1.026T: '1T' is rounded)
    ("Kimi K2", 1000e9, 0.03, 32e9, 0.02),
    # Qwen3-235B-A22B: the name
    ("qwen3-235b-a22b", 235e9, 0.005, 22e9, 0.025),
    # gpt-oss README: 117B total (model card 116.8B), 5.1B active
    ("gpt-oss-120b", 116.8e9, 0.005, 5.1e9, 0.01),
    # Mixtral paper: 46.7B total, 12.9B active
    ("Mixtral 8x7B", 46.7e9, 0.005, 12.9e9, 0.015),
])
def test_moe_param_counts_follow_from_config(name, total, rel_total, active, rel_active):
    m = rl.model(name)
    assert m.total_params == pytest.approx(total, rel=rel_total)
    assert m.active_params == pytest.approx(active, rel=rel_active)


@pytest.mark.parametrize("name, total", [
    ("Llama 3.1 8B", 8.03e9),    # HF meta-llama/Llama-3.1-8B: 8.03B
    ("Llama 3.1 70B", 70.55e9),  # HF meta-llama/Llama-3.1-70B: 70.6B
    ("Llama 3.1 405B", 405.85e9),  # HF meta-llama/Llama-3.1-405B: 406B
    ("Llama 2 70B", 68.98e9),    # HF meta-llama/Llama-2-70b-hf: 69.0B
    ("Gemma 3 27B", 27.01e9),    # language model of Gemma 3 27B
])
def test_dense_param_counts(name, total):
    m = rl.model(name)
    assert m.total_params == pytest.approx(total, rel=0.002)
    # dense: only the input-embedding lookup separates total from active
    lookup = 0 if m.tied_embeddings else m.vocab * m.d_model
    assert m.total_params - m.active_params == lookup


def test_deepseek_sparsity_and_optimal_batch():
    # COURSE 'known trap': 37B of 671B is ~1/18, so the optimal batch on an H100 is ~5,400, not 2,400.
    m = rl.model("DeepSeek-V3")
    assert m.sparsity == pytest.approx(671 / 37, rel=0.02)
    assert rl.optimal_batch(m, "H100") == pytest.approx(295.3 * 671 / 37, rel=0.02)
    assert rl.optimal_batch(m, "H100") > 5000


def test_kimi_k2_three_percent_active():
    m = rl.model("Kimi K2")
    assert m.active_params / m.total_params == pytest.approx(0.031, abs=0.002)


def test_every_entry_has_a_source():
    for h in rl.CHIPS.values():
        assert "https://" in h.source, h.name
    for m in rl.MODELS.values():
        assert "https://" in m.source, m.name
