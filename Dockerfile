# The Luge OpenWhisk action container: `luge container` on port 8080, for
# OpenWhisk's docker action kind (`wsk action create NAME action.wasm
# --docker IMAGE`) and for Knative. See docs/openwhisk.md.
#
#   docker build -t luge-action .

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p luge-cli \
    && install -D target/release/luge /out/luge

FROM debian:bookworm-slim
# Compiled actions are linked into shared objects by the system linker; `ld`
# alone (binutils) is enough, called directly rather than through `cc`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/luge /usr/local/bin/luge
ENV LUGE_LINKER=ld \
    LUGE_CACHE_DIR=/tmp/luge-cache
EXPOSE 8080
USER nobody
CMD ["luge", "container"]
