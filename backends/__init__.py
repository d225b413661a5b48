"""Code generators and interpreters that execute the IR: reference (oracle), Numba (CPU), CUDA (GPU)."""
