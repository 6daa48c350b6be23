# The user server image: JupyterLab with CoSim (viewer, snapshots, courses), built from this repo.
# PyPI's Linux torch wheel is the CUDA build, so the default build is the GPU profiles' image:
#   docker build -f helm-config/images/singleuser.Dockerfile -t ghcr.io/cosim/cosim-singleuser-cuda:0.1.0 .
# For the CPU profiles' smaller image, point TORCH_INDEX at a CPU-only torch index:
#   docker build -f helm-config/images/singleuser.Dockerfile --build-arg TORCH_INDEX=<url> \
#     -t ghcr.io/cosim/cosim-singleuser:0.1.0 .
FROM python:3.11-slim-bookworm AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN pip install --no-cache-dir hatchling hatch-jupyter-builder jupyter-builder \
    && pip wheel --no-deps --no-build-isolation -w /wheels /src

FROM quay.io/jupyter/base-notebook:python-3.11
USER root
# EGL for offscreen rendering; the C++ kernel's toolchain: both compilers, gold, both debuggers,
# clangd (the same list as the Makefile's APT_RUN, checked by tests/hub/test_helm_config.py).
RUN apt-get update && apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1 \
    g++ clang binutils gdb lldb clangd \
    && rm -rf /var/lib/apt/lists/*
USER ${NB_UID}
COPY --from=wheel /wheels /tmp/wheels
ARG TORCH_INDEX=""
RUN if [ -n "$TORCH_INDEX" ]; then \
      pip install --no-cache-dir --index-url "$TORCH_INDEX" "torch==2.13.0"; fi \
    && pip install --no-cache-dir /tmp/wheels/cosim-*.whl && rm -rf /tmp/wheels
# EGL rendering on the pod's own GPU (the device plugin mounts the driver's graphics libraries
# only when asked for them); harmless on CPU nodes.
ENV MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
