# sluice in a container: a Debian 12 build stage with the same packages
# scripts/install-deps.sh installs, and a slim runtime stage with the binary
# and its shared libraries. Used by docker-compose.yml.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpq-dev libboost-dev libsimdjson-dev libspdlog-dev libfmt-dev \
      libcli11-dev libxxhash-dev catch2 libhowardhinnant-date-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only the sources: build/ and data/ of a working copy stay out of the image.
COPY CMakeLists.txt ./
COPY cmake ./cmake
COPY watcher ./watcher
COPY loader ./loader
COPY warehouse ./warehouse
COPY sql ./sql
COPY scripts ./scripts
COPY tests ./tests
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_TESTS=OFF \
 && cmake --build /build --target sluice sluice-gen-hubdoc sluice-gen-orders \
 && strip /build/app/sluice /build/scripts/sluice-gen-hubdoc /build/scripts/sluice-gen-orders

FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libsimdjson14 libspdlog1.10 libfmt9 libxxhash0 libdate-tz3 tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
 && mkdir -p /inbox /secrets && chown sluice: /inbox /secrets
COPY --from=build /build/app/sluice /build/scripts/sluice-gen-hubdoc /build/scripts/sluice-gen-orders /usr/local/bin/
USER sluice
# The warehouse comes from SLUICE_DSN; the inbox is a volume. /secrets is
# where docker-compose.yml's sluice-init keeps the roles' passwords (a named
# volume takes this folder's owner).
VOLUME ["/inbox"]
ENTRYPOINT ["/bin/sh", "-c", "sluice migrate && exec sluice run --inbox /inbox \"$@\"", "sluice"]
