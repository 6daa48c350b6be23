# The user server image: JupyterLab with CoSim (viewer, snapshots, courses), built from this repo.
#   docker build -f helm-config/images/singleuser.Dockerfile -t ghcr.io/cosim/cosim-singleuser:0.1.0 .
FROM python:3.11-slim-bookworm AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN pip install --no-cache-dir hatchling hatch-jupyter-builder jupyter-builder \
    && pip wheel --no-deps --no-build-isolation -w /wheels /src

FROM quay.io/jupyter/base-notebook:python-3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends libegl1 libegl-mesa0 libgl1 \
    && rm -rf /var/lib/apt/lists/*
USER ${NB_UID}
COPY --from=wheel /wheels /tmp/wheels
# torch stays the CPU build on CPU nodes; GPU images install the CUDA build instead.
RUN pip install --no-cache-dir "$(ls /tmp/wheels/cosim-*.whl)[user]" && rm -rf /tmp/wheels
ENV MUJOCO_GL=egl
