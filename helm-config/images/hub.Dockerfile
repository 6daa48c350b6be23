# The hub image: the zero-to-jupyterhub hub plus the cosim package (configure, OIDC, courses,
# cost guard). The Lab extension is not needed here, so no Node build.
#   docker build -f helm-config/images/hub.Dockerfile -t ghcr.io/cosim/cosim-hub:0.1.0 .
FROM quay.io/jupyterhub/k8s-hub:4.2.0
USER root
COPY . /tmp/cosim
# cosim[hub]: the hub and its services only, without numpy, torch or the simulators.
RUN HATCH_BUILD_NO_HOOKS=true pip install --no-cache-dir "/tmp/cosim[hub]" && rm -rf /tmp/cosim
USER ${NB_USER}
