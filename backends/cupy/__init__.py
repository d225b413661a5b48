"""CUDA backend: CUDA C generated from the IR, run on a GPU through CuPy (`runner`), or on the CPU
through the host shim for tests (`host`)."""
