import os

import pytest
import torch

# keep tests reproducible and light on the 2-core machine
torch.set_num_threads(int(os.environ.get("DIFFUSION_EDU_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)
