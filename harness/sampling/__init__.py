"""Sampling pools: the sampling config, the backends (simulated, OpenAI-compatible, vLLM),
postprocessing and compute accounting. The research loop calls the two entry points::

    config = load_sampling_config(Path("experiments/sampling.toml"))
    result = sample_pool(suite, config, limit=None, cache=cache_dir(), sandbox=None)
    result.pool.id, result.compute.generated_tokens, result.calls
"""

from harness.sampling.config import SamplingConfig, SelfTestConfig, load_sampling_config
from harness.sampling.results import SampleResult, SamplingCompute, SamplingError
from harness.sampling.sampler import sample_pool, sampling_key

__all__ = [
    "SampleResult",
    "SamplingCompute",
    "SamplingConfig",
    "SamplingError",
    "SelfTestConfig",
    "load_sampling_config",
    "sample_pool",
    "sampling_key",
]
