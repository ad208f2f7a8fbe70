# lrp as a container: compiled to one binary in the Deno image, run on
# distroless (glibc, no shell, non-root).
#
#   docker build -t lrp .
#   docker run --rm -p 8080:8080 -v "$PWD/lrp.yaml:/etc/lrp/lrp.yaml:ro" lrp
#
# Deno version: keep in step with .tools/package.json.
ARG DENO_VERSION=2.9.6

FROM denoland/deno:debian-${DENO_VERSION} AS build
WORKDIR /src
COPY deno.json main.lock ./
COPY main.ts ./
COPY lib/ lib/
RUN deno install --frozen --entrypoint main.ts
RUN deno compile --frozen --allow-net --allow-read --allow-env --allow-sys --allow-run --allow-write --unstable-no-legacy-abort --unstable-net --v8-flags=--max-semi-space-size=8,--heap-growing-percent=20 --include=npm:@aws-sdk/client-lambda@3.1164.0 --include=npm:@opentelemetry/api@1.9.0 --output /out/lrp main.ts \
 && /out/lrp --version
# An empty configuration: lrp answers /ping and /metrics until one is mounted.
RUN mkdir -p /out/etc/lrp && printf '# mount your lrp.yaml here\n' > /out/etc/lrp/lrp.yaml

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/lrp /usr/local/bin/lrp
COPY --from=build /out/etc/lrp/lrp.yaml /etc/lrp/lrp.yaml
ENV LRP_CONFIG=/etc/lrp/lrp.yaml
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 CMD ["/usr/local/bin/lrp", "healthcheck"]
USER nonroot
ENTRYPOINT ["/usr/local/bin/lrp"]
