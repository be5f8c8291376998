# syntax=docker/dockerfile:1
# Container images of Rasterzen, built from this checkout:
#
#   docker build -t rasterzen .                          # `serve` for ECS, Kubernetes, any host
#   docker run -p 8080:8080 rasterzen                    # the embedded Florence sample on :8080
#   docker run -p 8080:8080 -v $PWD/data:/data rasterzen serve --source /data/tiles.pmtiles
#   docker build --target lambda -t rasterzen-lambda .   # a Lambda container image (see README)
#
# One builder for both: Debian bullseye's glibc (2.31) is older than Lambda's provided.al2023
# (2.34), so the same binary runs in the slim Debian image and on Lambda. The architecture is the
# builder's (`docker buildx build --platform linux/arm64` for Graviton).

FROM node:22-bullseye-slim AS node

FROM rust:1-bullseye AS build
# build.sh needs npm for the preview page's packages; rustup, wasm-tools and wasm-bindgen it
# installs itself.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /src
COPY . .
RUN ./build.sh all \
    && strip target/release/rasterzen \
    # The renderer precompiled, so a cold start deserializes it instead of compiling it.
    && target/release/rasterzen renderer precompile --out /out/compiled \
    && mkdir -p /out/licenses \
    && cp render-wasm/src/labels/fonts/OFL.txt render-wasm/src/labels/fonts/SOURCES.md /out/licenses/ \
    && cp host/assets/LICENSE-pmtiles-rs-MIT /out/licenses/ \
    && printf '%s\n' 'Map data of the embedded sample: © OpenStreetMap contributors (ODbL 1.0), Protomaps.' \
        'Fonts: Noto Sans (SIL Open Font License 1.1, OFL.txt).' > /out/licenses/NOTICE

FROM debian:bookworm-slim AS serve
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/rasterzen rasterzen
COPY --from=build /src/target/release/rasterzen /usr/local/bin/rasterzen
COPY --from=build /out/compiled /usr/local/bin/compiled
COPY --from=build /out/licenses /usr/share/doc/rasterzen
USER rasterzen
# Listen on every interface inside the container; memory + disk cache in the container (mount
# a volume at /var/lib/rasterzen/cache to keep it, or set RASTERZEN_CACHE=s3://BUCKET/PREFIX).
ENV RASTERZEN_LISTEN=0.0.0.0:8080 \
    RASTERZEN_CACHE=memory,fs:/var/lib/rasterzen/cache
EXPOSE 8080
# Probes: GET /healthz answers 200 "ok".
ENTRYPOINT ["rasterzen"]
CMD ["serve"]

FROM public.ecr.aws/lambda/provided:al2023 AS lambda
# The custom runtime runs ${LAMBDA_RUNTIME_DIR}/bootstrap; the precompiled renderer sits beside it.
COPY --from=build /src/target/release/rasterzen /var/runtime/bootstrap
COPY --from=build /out/compiled /var/runtime/compiled
COPY --from=build /out/licenses /usr/share/doc/rasterzen
CMD ["bootstrap"]
